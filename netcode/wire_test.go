//go:build !js

package netcode

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/clock"
	"github.com/volleynet/volley/internal/msgguard"
	"github.com/volleynet/volley/snapshot"
)

func TestWireGolden(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"snapshot header", appendSnapshotHeader(nil, 0x01020304, 0x0a0b0c0d), "01" + "01020304" + "0a0b0c0d"},
		{"ping", appendPing(nil, 7, pingMsg{ClientTime: 0x1122334455667788, Recv: 10, Lost: 2, RTT: 50000, Jitter: 3000}),
			"03" + "00000007" + "1122334455667788" + "0000000a" + "00000002" + "0000c350" + "00000bb8"},
		{"pong", appendPong(nil, 8, pongMsg{ClientTime: 1, HostTime: 2, Recv: 3, Lost: 4}),
			"04" + "00000008" + "0000000000000001" + "0000000000000002" + "00000003" + "00000004"},
		{"update", appendUpdate(nil, 9, snapshot.Ack{Latest: 5, Mask: 1}, []inputMsg{{Tick: 100, Data: []byte{0xaa}}, {Tick: 101, Data: nil}}),
			"02" + "00000009" + hex.EncodeToString(snapshot.AppendAck(nil, snapshot.Ack{Latest: 5, Mask: 1})) + "02" + "00000064" + "01" + "aa" + "00000065" + "00"},
	}
	for _, tt := range tests {
		if got := hex.EncodeToString(tt.got); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

func TestWireRoundTrip(t *testing.T) {
	inputs := []inputMsg{{Tick: 1, Data: []byte{1, 2}}, {Tick: 3, Data: bytes.Repeat([]byte{7}, MaxInputBytes)}}
	ack := snapshot.Ack{Latest: 40000, Mask: 0xdeadbeef}
	b := appendUpdate(nil, 1, ack, inputs)
	gotAck, got, err := decodeUpdate(b, nil)
	if err != nil || gotAck != ack || len(got) != 2 || got[1].Tick != 3 || !bytes.Equal(got[1].Data, inputs[1].Data) {
		t.Fatalf("update round trip: %v %+v %+v", err, gotAck, got)
	}
	p := pingMsg{ClientTime: 123456789, Recv: 5, Lost: 1, RTT: 9, Jitter: 8}
	if got, err := decodePing(appendPing(nil, 1, p)); err != nil || got != p {
		t.Fatalf("ping: %+v %v", got, err)
	}
	q := pongMsg{ClientTime: 1, HostTime: uint64(time.Hour), Recv: 2, Lost: 3}
	if got, err := decodePong(appendPong(nil, 1, q)); err != nil || got != q {
		t.Fatalf("pong: %+v %v", got, err)
	}
}

// TestUpdateKeepsNewestInputs checks that an update never exceeds one SCTP chunk and
// keeps the newest inputs when they do not all fit.
func TestUpdateKeepsNewestInputs(t *testing.T) {
	var inputs []inputMsg
	for i := range 40 {
		inputs = append(inputs, inputMsg{Tick: uint32(i), Data: bytes.Repeat([]byte{byte(i)}, MaxInputBytes)})
	}
	b := appendUpdate(nil, 1, snapshot.Ack{}, inputs)
	if len(b) > MaxUnreliableBytes {
		t.Fatalf("update of %d bytes", len(b))
	}
	_, got, err := decodeUpdate(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || got[len(got)-1].Tick != 39 || len(got) >= 40 {
		t.Fatalf("kept %d inputs ending at %d", len(got), got[len(got)-1].Tick)
	}
}

func TestDecodeUpdateErrors(t *testing.T) {
	ack := snapshot.AppendAck(nil, snapshot.Ack{})
	hdr := appendHeader(nil, kindUpdate, 1)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{"no ack", hdr, ErrMalformed},
		{"no count", cat(hdr, ack), ErrMalformed},
		{"truncated input", cat(hdr, ack, []byte{1, 0, 0}), ErrMalformed},
		{"input too large", cat(hdr, ack, []byte{1, 0, 0, 0, 1, MaxInputBytes + 1}, make([]byte, MaxInputBytes+1)), ErrTooLarge},
		{"input data short", cat(hdr, ack, []byte{1, 0, 0, 0, 1, 4, 1}), ErrMalformed},
		{"trailing", cat(hdr, ack, []byte{0, 9}), ErrMalformed},
		{"descending ticks", cat(hdr, ack, []byte{2, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0}), ErrMalformed},
	}
	for _, tt := range tests {
		if _, _, err := decodeUpdate(tt.b, nil); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestSeqTracker(t *testing.T) {
	var s seqTracker
	for _, q := range []uint32{10, 11, 13, 12, 16} {
		s.add(q)
	}
	if recv, lost := s.counts(); recv != 5 || lost != 2 {
		t.Fatalf("recv %d lost %d", recv, lost)
	}
}

func FuzzDecodeUpdate(f *testing.F) {
	f.Add(appendUpdate(nil, 1, snapshot.Ack{Latest: 3, Mask: 7}, []inputMsg{{Tick: 4, Data: []byte{1}}}))
	f.Add(appendHeader(nil, kindUpdate, 0))
	f.Add([]byte{2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 5 {
			return
		}
		_, inputs, err := decodeUpdate(b, nil)
		if err != nil {
			return
		}
		for _, in := range inputs {
			if len(in.Data) > MaxInputBytes {
				t.Fatalf("input of %d bytes accepted", len(in.Data))
			}
		}
	})
}

func FuzzDecodePingPong(f *testing.F) {
	f.Add(appendPing(nil, 1, pingMsg{ClientTime: 5}))
	f.Add(appendPong(nil, 1, pongMsg{HostTime: 5}))
	f.Add([]byte{3})
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := decodePing(b); err == nil {
			if !bytes.Equal(appendPing(nil, 0, p)[5:], b[5:]) {
				t.Fatal("ping does not round-trip")
			}
		}
		if p, err := decodePong(b); err == nil {
			if !bytes.Equal(appendPong(nil, 0, p)[5:], b[5:]) {
				t.Fatal("pong does not round-trip")
			}
		}
		_, _, _ = readHeader(b)
		_, _, _ = decodeSnapshotHeader(b)
	})
}

// FuzzHostMessages feeds arbitrary bytes to a host session's message handlers (both
// channels, everything but pings, which answer on the channel) and checks that
// they never panic and that only guarded msgpack reaches the command queue.
func FuzzHostMessages(f *testing.F) {
	f.Add(byte(0), []byte{kindCommand, 0x01})
	f.Add(byte(0), []byte{kindCommand, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Add(byte(1), appendUpdate(nil, 1, snapshot.Ack{Latest: 1}, []inputMsg{{Tick: 5, Data: []byte{1}}}))
	f.Add(byte(1), []byte{kindSnapshot, 0, 0, 0, 0})
	f.Add(byte(0), []byte{kindBye, 0x80})
	copies := &copyWindow{}
	copies.add(1, []byte{0x01}, 16)
	copies.add(2, []byte{0xdd, 0xff, 0xff, 0xff, 0xff}, 16)
	f.Add(byte(1), appendCopies(nil, kindCommandCopies, 2, 0, copies))
	srv, err := NewServer(ServerConfig{Registry: testRegistry(f), Clock: clock.NewFake(time.Unix(0, 0))})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	f.Fuzz(func(t *testing.T, channel byte, b []byte) {
		sess := newSession(srv, 1)
		defer sess.cancel()
		msg := webrtc.DataChannelMessage{Data: b}
		if channel%2 == 0 {
			sess.onReliable(msg)
		} else if len(b) == 0 || b[0] != kindPing {
			sess.onUnreliable(msg)
		}
		for _, c := range sess.commands {
			if msgguard.Check(c, 0) != nil {
				t.Fatalf("unguarded command %x", c)
			}
		}
	})
}

func TestUpdateAllocs(t *testing.T) {
	inputs := []inputMsg{{Tick: 1, Data: []byte{1, 2, 3}}, {Tick: 2, Data: []byte{4}}}
	buf := make([]byte, 0, MaxUnreliableBytes)
	scratch := make([]inputMsg, 0, 16)
	n := allocsPerRun(100, func() {
		buf = appendUpdate(buf[:0], 1, snapshot.Ack{Latest: 9}, inputs)
		_, scratch, _ = decodeUpdate(buf, scratch[:0])
	})
	if n != 0 {
		t.Fatalf("update round trip allocates %v times", n)
	}
}

func BenchmarkUpdateRoundTrip(b *testing.B) {
	var inputs []inputMsg
	for i := range 16 {
		inputs = append(inputs, inputMsg{Tick: uint32(i), Data: make([]byte, 8)})
	}
	buf := make([]byte, 0, MaxUnreliableBytes)
	scratch := make([]inputMsg, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendUpdate(buf[:0], 1, snapshot.Ack{Latest: 9}, inputs)
		_, scratch, _ = decodeUpdate(buf, scratch[:0])
	}
}
