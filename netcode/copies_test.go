//go:build !js

package netcode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/volleynet/volley/internal/netsim"
)

func TestCopyWindow(t *testing.T) {
	var w copyWindow
	body := func(n int) []byte { return bytes.Repeat([]byte{0xa0}, n) }
	if !w.add(7, body(3), 8) || !w.add(8, body(8), 8) {
		t.Fatal("window refused small consecutive copies")
	}
	if w.add(9, body(9), 8) {
		t.Error("window kept a copy over the size limit")
	}
	if w.add(10, body(1), 8) {
		t.Error("window kept a copy that does not continue it (9 is missing)")
	}
	if w.first != 7 || len(w.bodies) != 2 || w.bytes != 2+3+2+8 {
		t.Fatalf("window = first %d, %d bodies, %d bytes", w.first, len(w.bodies), w.bytes)
	}
	w.ack(6) // older: changes nothing
	w.ack(7)
	if w.first != 8 || len(w.bodies) != 1 || w.bytes != 10 {
		t.Fatalf("after ack 7: first %d, %d bodies, %d bytes", w.first, len(w.bodies), w.bytes)
	}
	w.ack(1 << 20)
	if len(w.bodies) != 0 || w.bytes != 0 {
		t.Fatalf("after a later ack: %d bodies, %d bytes", len(w.bodies), w.bytes)
	}
	if !w.add(1<<20+5, body(1), 8) {
		t.Error("an empty window refused to start at a new number")
	}

	// Bounded by what one message carries: bytes, then count.
	w = copyWindow{}
	n := uint32(0xfffffff0) // numbers wrap
	for w.add(n, body(100), 200) {
		n++
	}
	if msg := appendCopies(nil, kindCommandCopies, 1, 2, &w); len(msg) > MaxUnreliableBytes || len(w.bodies) != copyRoom/102 {
		t.Errorf("a full window of 100-byte copies holds %d (message of %d bytes)", len(w.bodies), len(msg))
	}
	w.ack(n - 1)
	if len(w.bodies) != 0 {
		t.Errorf("ack across the wrap left %d copies", len(w.bodies))
	}
	w = copyWindow{}
	for w.add(n, nil, 200) {
		n++
	}
	if len(w.bodies) != 255 {
		t.Errorf("a window of empty copies holds %d, want 255", len(w.bodies))
	}
}

func TestCopiesCodec(t *testing.T) {
	w := &copyWindow{}
	for i, b := range [][]byte{{0x01}, {}, {0x81, 0xa1, 'a', 0x02}} {
		w.add(41+uint32(i), b, 16)
	}
	msg := appendCopies(nil, kindEventCopies, 9, 77, w)
	acked, first, bodies, err := decodeCopies(msg, nil)
	if err != nil || acked != 77 || first != 41 || len(bodies) != 3 || !bytes.Equal(bodies[2], w.bodies[2]) || len(bodies[1]) != 0 {
		t.Fatalf("decodeCopies(%x) = %d, %d, %x, %v", msg, acked, first, bodies, err)
	}
	for i := range len(msg) {
		if _, _, _, err := decodeCopies(msg[:i], nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("decodeCopies of %d of %d bytes: %v", i, len(msg), err)
		}
	}
	if _, _, _, err := decodeCopies(append(msg, 0), nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("trailing byte: %v", err)
	}
	empty := appendCopies(nil, kindEventCopies, 1, 2, &copyWindow{first: 9})
	if _, first, bodies, err := decodeCopies(empty, nil); err != nil || first != 0 || len(bodies) != 0 {
		t.Errorf("empty copies: first %d, %d bodies, %v", first, len(bodies), err)
	}
}

// FuzzDecodeCopies: a copies message either decodes, and then encodes back to the
// same bytes, or fails with ErrMalformed; nothing panics.
func FuzzDecodeCopies(f *testing.F) {
	w := &copyWindow{}
	w.add(3, []byte{0x81, 0xa2, 'd', 'x', 0x01}, 64)
	w.add(4, []byte{0xc0}, 64)
	f.Add(appendCopies(nil, kindCommandCopies, 5, 2, w))
	f.Add(appendCopies(nil, kindEventCopies, 0, 0, &copyWindow{}))
	f.Add([]byte{kindEventCopies, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, _, err := readHeader(b); err != nil {
			return
		}
		acked, first, bodies, err := decodeCopies(b, nil)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("decodeCopies(%x): %v", b, err)
			}
			return
		}
		if len(bodies) == 0 {
			return // first is free then
		}
		w := &copyWindow{first: first, bodies: bodies}
		if back := appendCopies(nil, b[0], readSeq(b), acked, w); !bytes.Equal(back, b) {
			t.Fatalf("decodeCopies(%x) encodes back to %x", b, back)
		}
	})
}

func readSeq(b []byte) uint32 {
	_, seq, _ := readHeader(b)
	return seq
}

// echoServer answers every command (a cmdMsg) with an event of the same Seq, and
// records the commands.
func echoServer(t *testing.T, rec *recorder, cfg ServerConfig) *Server {
	t.Helper()
	cfg.Step = func(tk *Tick) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, c := range tk.Commands {
			var m cmdMsg
			if err := c.Decode(&m); err != nil {
				t.Errorf("command: %v", err)
				continue
			}
			rec.commands[c.Client] = append(rec.commands[c.Client], m.Seq)
			if err := tk.Send(c.Client, cmdMsg{Seq: m.Seq}); err != nil {
				t.Errorf("event: %v", err)
			}
		}
		if len(tk.Commands) > 0 {
			rec.poke()
		}
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// echoes sends n commands, batch at a time (each batch once the previous one is
// answered), and checks that each arrives once and in order at the host and that
// their n answers come back once and in order.
func echoes(t *testing.T, rec *recorder, c *Client, id ClientID, n, batch int) {
	t.Helper()
	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	for i := 0; i < n; {
		for j := i; j < min(n, i+batch); j++ {
			if err := c.Send(cmdMsg{Seq: j}); err != nil {
				t.Fatal(err)
			}
		}
		for end := min(n, i+batch); i < end; i++ {
			select {
			case ev := <-c.Events():
				var m cmdMsg
				if err := ev.Decode(&m); err != nil || m.Seq != i {
					t.Fatalf("event %d: %+v, %v", i, m, err)
				}
			case <-c.Done():
				t.Fatalf("client closed after %d events: %v", i, c.Err())
			case <-deadline.C:
				t.Fatalf("timed out waiting for event %d of %d", i, n)
			}
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	got := rec.commands[id]
	if len(got) != n {
		t.Fatalf("host got %d commands, want %d: %v", len(got), n, got)
	}
	for i, s := range got {
		if s != i {
			t.Fatalf("host's command %d has seq %d: %v", i, s, got)
		}
	}
}

// TestCopiesAlone: commands and events still arrive exactly once and in order when
// the host ignores every command and the client every event on the reliable channel,
// so that both travel only as copies on the unreliable channel.
func TestCopiesAlone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rec := newRecorder()
	srv := echoServer(t, rec, ServerConfig{Registry: testRegistry(t), Transport: loopback(), ignoreReliableCommands: true})
	defer srv.Close()
	cfg := ClientConfig{Registry: testRegistry(t), Transport: loopback(), ignoreReliableEvents: true}
	c, id := connect(ctx, t, srv, cfg)
	defer c.Close()
	const n = 40
	echoes(t, rec, c, id, n, 10)
	hs, _ := srv.ClientStats(id)
	if cs := c.Stats(); hs.CopiesFirst != n || cs.CopiesFirst != n {
		t.Errorf("delivered from copies: %d commands at the host, %d events at the client; want %d", hs.CopiesFirst, cs.CopiesFirst, n)
	}
}

// TestCopiesExactlyOnce: over a lossy link, with both channels carrying every small
// command and event, each is delivered once and in order (whichever channel brings
// it first; without the numbering each would arrive twice); a command too large to
// copy keeps its place in the order.
func TestCopiesExactlyOnce(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nw := netsim.ForTest(t, netsim.Config{Delay: 10 * time.Millisecond, Seed: 15})
	rec := newRecorder()
	srv := echoServer(t, rec, ServerConfig{Registry: testRegistry(t), Transport: TransportConfig{Net: nw.MustNet(t)}})
	defer srv.Close()
	c, id := connect(ctx, t, srv, ClientConfig{Registry: testRegistry(t), Transport: TransportConfig{Net: nw.MustNet(t)}})
	defer c.Close()
	nw.SetLoss(0.1) // once connected: a handshake at 10% loss can outlast HandshakeTimeout
	echoes(t, rec, c, id, 100, 2)
	// A command over CopyBytes travels on the reliable channel only, and the
	// small ones after it are still delivered after it.
	big := struct {
		Seq int    `msgpack:"seq"`
		Pad string `msgpack:"pad"`
	}{100, string(bytes.Repeat([]byte{'x'}, defaultCopyBytes))}
	if err := c.Send(big); err != nil {
		t.Fatal(err)
	}
	for i := 101; i < 110; i++ {
		if err := c.Send(cmdMsg{Seq: i}); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitFor(t, time.Minute, "110 commands", func() bool { return len(rec.commands[id]) >= 110 })
	rec.mu.Lock()
	for i, s := range rec.commands[id] {
		if s != i {
			t.Errorf("host's command %d has seq %d", i, s)
			break
		}
	}
	rec.mu.Unlock()
	hs, _ := srv.ClientStats(id)
	cs := c.Stats()
	// The large command, and those sent after it while it was unacknowledged
	// (a copy is only delivered in order).
	if cs.Uncopied < 1 || cs.Uncopied > 10 {
		t.Errorf("client Stats.Uncopied = %d, want 1 to 10", cs.Uncopied)
	}
	t.Logf("first from copies: %d commands at the host, %d events at the client; vnet %s", hs.CopiesFirst, cs.CopiesFirst, fmtCounts(nw))
}

func fmtCounts(nw *netsim.Network) string {
	passed, dropped := nw.Counts()
	return fmt.Sprintf("passed %d dropped %d", passed, dropped)
}

// TestCopyBytes: the limit on what is copied, both ways, and turning copies off.
func TestCopyBytes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, tc := range []struct {
		name           string
		host, client   int
		wantUncopied   uint64
		wantCopiesSent bool
	}{
		{"limit", 8, 8, 1, true},
		{"off", -1, -1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := newRecorder()
			srv := echoServer(t, rec, ServerConfig{Registry: testRegistry(t), Transport: loopback(), CopyBytes: tc.host})
			defer srv.Close()
			var copiesSeen int // guarded by rec.mu
			cfg := ClientConfig{Registry: testRegistry(t), Transport: loopback(), CopyBytes: tc.client}
			cfg.observe = func(kind byte, _ uint32, _ int) {
				if kind == kindEventCopies {
					rec.mu.Lock()
					copiesSeen++
					rec.mu.Unlock()
					rec.poke()
				}
			}
			c, id := connect(ctx, t, srv, cfg)
			defer c.Close()
			echoes(t, rec, c, id, 1, 1) // 6 bytes of msgpack: copied
			if tc.wantCopiesSent {
				rec.waitFor(t, time.Minute, "an event copies message", func() bool { return copiesSeen > 0 })
			}
			// 10 bytes of msgpack, over the limit of 8; the host's answer too.
			if err := c.Send(cmdMsg{Seq: 1 << 20}); err != nil {
				t.Fatal(err)
			}
			if got := c.Stats().Uncopied; got != tc.wantUncopied {
				t.Errorf("client Stats.Uncopied = %d, want %d", got, tc.wantUncopied)
			}
			// Step sends the answer before it releases rec.mu.
			rec.waitFor(t, time.Minute, "the large command", func() bool { return len(rec.commands[id]) == 2 })
			if hs, _ := srv.ClientStats(id); hs.Uncopied != tc.wantUncopied {
				t.Errorf("host Stats.Uncopied = %d, want %d", hs.Uncopied, tc.wantUncopied)
			}
			rec.mu.Lock()
			seen := copiesSeen
			rec.mu.Unlock()
			if !tc.wantCopiesSent && seen > 0 {
				t.Errorf("client saw %d event copies messages with copies off", seen)
			}
		})
	}
}

// TestCopiesYieldToBacklog: on a congested association the client holds its
// command copies back rather than queue them ahead of its inputs and acks (which
// made inputs reach the host seconds late at 10% loss and 100 ms RTT).
func TestCopiesYieldToBacklog(t *testing.T) {
	c := congestedClient(t, 4)
	if err := c.Send(cmdMsg{Seq: 1}); err != nil {
		t.Fatal(err)
	}
	input := make([]byte, MaxInputBytes)
	for i := 0; i < 2000 && c.Stats().CopiesHeld == 0; i++ {
		if _, err := c.SendInput(input); err != nil { // each sends an update, and the copies with it
			t.Fatal(err)
		}
	}
	if c.Stats().CopiesHeld == 0 {
		t.Fatalf("copies were sent on a channel holding %d bytes", c.unrel.BufferedAmount())
	}
}
