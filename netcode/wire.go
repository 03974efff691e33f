package netcode

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/volleynet/volley/snapshot"
)

// Message kinds: the first byte of every data channel message (see the package doc).
const (
	kindSnapshot byte = 0x01
	kindUpdate   byte = 0x02
	kindPing     byte = 0x03
	kindPong     byte = 0x04

	kindWelcome byte = 0x10
	kindCommand byte = 0x11
	kindEvent   byte = 0x12
	kindBye     byte = 0x13
	kindAck     byte = 0x14
)

const (
	pingBytes = 1 + 4 + 8 + 4 + 4 + 4 + 4
	pongBytes = 1 + 4 + 8 + 8 + 4 + 4
)

// welcome is the host's first reliable message.
type welcome struct {
	ID       uint32 `msgpack:"id"`
	TickRate int    `msgpack:"tick_rate"`
	SendRate int    `msgpack:"send_rate"`
	Proto    int    `msgpack:"proto"`  // ProtocolVersion
	Schema   string `msgpack:"schema"` // the Registry's fingerprint
	// Connection lifecycle (lifecycle*.go), when the host keeps sessions for
	// resumption: the resume token, the window, and on a resumption the number
	// of the client's commands the host has received.
	Resume   string `msgpack:"resume,omitempty"`
	WindowMS uint32 `msgpack:"window_ms,omitempty"`
	Resumed  bool   `msgpack:"resumed,omitempty"`
	Commands uint32 `msgpack:"commands,omitempty"`
}

// check returns ErrVersionMismatch or ErrSchemaMismatch, naming both sides' values,
// if a client with schema fingerprint fp cannot talk to the host that sent w.
func (w welcome) check(fp string) error {
	if w.Proto != ProtocolVersion {
		return fmt.Errorf("%w: host speaks version %d, this client %d", ErrVersionMismatch, w.Proto, ProtocolVersion)
	}
	if w.Schema != fp {
		return fmt.Errorf("%w: host schema %q, this client's %q", ErrSchemaMismatch, w.Schema, fp)
	}
	return nil
}

// ackMsg (0x14) acknowledges reliable messages by count, for resumption: the client
// reports the events it has received (and, in its first, its key), the host the
// commands it has received.
type ackMsg struct {
	Events   uint32 `msgpack:"events,omitempty"`
	Commands uint32 `msgpack:"commands,omitempty"`
	Key      []byte `msgpack:"key,omitempty"`
	// Restarts, in a client's first ack: it restarts ICE itself, so the host
	// never offers it a restart (pion cannot roll a local offer back, so two
	// offers that cross would leave both sides stuck).
	Restarts bool `msgpack:"restarts,omitempty"`
	// Copies, in a client's first ack: it takes copies of small events on the
	// unreliable channel (0x06) and acknowledges them (copies.go).
	Copies bool `msgpack:"copies,omitempty"`
}

// bye ends a session; Reason is the sender's error text.
type bye struct {
	Reason string `msgpack:"reason"`
	Code   string `msgpack:"code"`
}

func appendHeader(dst []byte, kind byte, seq uint32) []byte {
	dst = append(dst, kind)
	return binary.BigEndian.AppendUint32(dst, seq)
}

// readHeader returns the kind and sequence number of an unreliable message.
func readHeader(b []byte) (kind byte, seq uint32, err error) {
	if len(b) < 5 {
		return 0, 0, fmt.Errorf("%w: %d-byte message", ErrMalformed, len(b))
	}
	if len(b) > MaxUnreliableBytes {
		return 0, 0, fmt.Errorf("%w: %d bytes on the unreliable channel", ErrTooLarge, len(b))
	}
	return b[0], binary.BigEndian.Uint32(b[1:]), nil
}

// ping and pong bodies.
type pingMsg struct {
	ClientTime  uint64 // client clock, ns since the client's epoch
	Recv, Lost  uint32 // the sender's receive counts of the other direction
	RTT, Jitter uint32 // the client's estimates, µs
}

type pongMsg struct {
	ClientTime uint64
	HostTime   uint64 // ns since tick 0
	Recv, Lost uint32
}

func appendPing(dst []byte, seq uint32, p pingMsg) []byte {
	dst = appendHeader(dst, kindPing, seq)
	dst = binary.BigEndian.AppendUint64(dst, p.ClientTime)
	dst = binary.BigEndian.AppendUint32(dst, p.Recv)
	dst = binary.BigEndian.AppendUint32(dst, p.Lost)
	dst = binary.BigEndian.AppendUint32(dst, p.RTT)
	return binary.BigEndian.AppendUint32(dst, p.Jitter)
}

func decodePing(b []byte) (pingMsg, error) {
	if len(b) != pingBytes {
		return pingMsg{}, fmt.Errorf("%w: ping of %d bytes", ErrMalformed, len(b))
	}
	return pingMsg{
		ClientTime: binary.BigEndian.Uint64(b[5:]),
		Recv:       binary.BigEndian.Uint32(b[13:]),
		Lost:       binary.BigEndian.Uint32(b[17:]),
		RTT:        binary.BigEndian.Uint32(b[21:]),
		Jitter:     binary.BigEndian.Uint32(b[25:]),
	}, nil
}

func appendPong(dst []byte, seq uint32, p pongMsg) []byte {
	dst = appendHeader(dst, kindPong, seq)
	dst = binary.BigEndian.AppendUint64(dst, p.ClientTime)
	dst = binary.BigEndian.AppendUint64(dst, p.HostTime)
	dst = binary.BigEndian.AppendUint32(dst, p.Recv)
	return binary.BigEndian.AppendUint32(dst, p.Lost)
}

func decodePong(b []byte) (pongMsg, error) {
	if len(b) != pongBytes {
		return pongMsg{}, fmt.Errorf("%w: pong of %d bytes", ErrMalformed, len(b))
	}
	return pongMsg{
		ClientTime: binary.BigEndian.Uint64(b[5:]),
		HostTime:   binary.BigEndian.Uint64(b[13:]),
		Recv:       binary.BigEndian.Uint32(b[21:]),
		Lost:       binary.BigEndian.Uint32(b[25:]),
	}, nil
}

// snapshot header: kind, seq, lastInput (last applied input tick + 1, 0 for none).
func appendSnapshotHeader(dst []byte, seq, lastInput uint32) []byte {
	dst = appendHeader(dst, kindSnapshot, seq)
	return binary.BigEndian.AppendUint32(dst, lastInput)
}

func decodeSnapshotHeader(b []byte) (lastInput uint32, pkt []byte, err error) {
	if len(b) < snapshotHeaderBytes {
		return 0, nil, fmt.Errorf("%w: snapshot of %d bytes", ErrMalformed, len(b))
	}
	return binary.BigEndian.Uint32(b[5:]), b[snapshotHeaderBytes:], nil
}

// inputMsg is one tick's input inside an update. Data aliases the packet.
type inputMsg struct {
	Tick uint32
	Data []byte
}

// appendUpdate writes an update: the ack, then as many of inputs (ascending ticks) as
// fit in MaxUnreliableBytes, preferring the newest.
func appendUpdate(dst []byte, seq uint32, ack snapshot.Ack, inputs []inputMsg) []byte {
	start := len(dst)
	dst = appendHeader(dst, kindUpdate, seq)
	dst = snapshot.AppendAck(dst, ack)
	room := MaxUnreliableBytes - (len(dst) - start) - 1
	first := len(inputs)
	for first > 0 && first > len(inputs)-255 {
		need := 5 + len(inputs[first-1].Data)
		if need > room {
			break
		}
		room -= need
		first--
	}
	inputs = inputs[first:]
	dst = append(dst, byte(len(inputs)))
	for _, in := range inputs {
		dst = binary.BigEndian.AppendUint32(dst, in.Tick)
		dst = append(dst, byte(len(in.Data)))
		dst = append(dst, in.Data...)
	}
	return dst
}

// decodeUpdate parses an update; inputs are appended to dst and alias b.
func decodeUpdate(b []byte, dst []inputMsg) (snapshot.Ack, []inputMsg, error) {
	body := b[5:]
	ack, n, err := snapshot.DecodeAck(body)
	if err != nil {
		return snapshot.Ack{}, dst, fmt.Errorf("%w: update ack: %w", ErrMalformed, err)
	}
	body = body[n:]
	if len(body) < 1 {
		return ack, dst, fmt.Errorf("%w: update without input count", ErrMalformed)
	}
	count := int(body[0])
	body = body[1:]
	for range count {
		if len(body) < 5 {
			return ack, dst, fmt.Errorf("%w: truncated input", ErrMalformed)
		}
		tick := binary.BigEndian.Uint32(body)
		l := int(body[4])
		body = body[5:]
		if l > MaxInputBytes {
			return ack, dst, fmt.Errorf("%w: input of %d bytes", ErrTooLarge, l)
		}
		if len(body) < l {
			return ack, dst, fmt.Errorf("%w: truncated input", ErrMalformed)
		}
		dst = append(dst, inputMsg{Tick: tick, Data: body[:l:l]})
		body = body[l:]
	}
	if len(body) != 0 {
		return ack, dst, fmt.Errorf("%w: %d trailing bytes in update", ErrMalformed, len(body))
	}
	for i := 1; i < len(dst); i++ {
		if !serialAfter(dst[i].Tick, dst[i-1].Tick) {
			return ack, dst, fmt.Errorf("%w: input ticks not ascending", ErrMalformed)
		}
	}
	return ack, dst, nil
}

// seqTracker counts received and missing sequence numbers of one direction.
// One goroutine owns it.
type seqTracker struct {
	started bool
	first   uint32
	max     uint32
	recv    uint32
}

func (t *seqTracker) add(seq uint32) {
	if !t.started {
		t.started, t.first, t.max = true, seq, seq
	} else if serialAfter(seq, t.max) {
		t.max = seq
	}
	t.recv++
}

// counts returns received and lost messages so far.
func (t *seqTracker) counts() (recv, lost uint32) {
	if !t.started {
		return 0, 0
	}
	expected := t.max - t.first + 1
	if expected < t.recv {
		return t.recv, 0
	}
	return t.recv, expected - t.recv
}

// byeWait bounds how long the side that ends a session waits for the peer to close
// after sending its goodbye.
const byeWait = time.Second

func marshalMessage(kind byte, v any) ([]byte, error) {
	b, err := msgpack.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("netcode: encode message: %w", err)
	}
	msg := make([]byte, 0, len(b)+1)
	msg = append(msg, kind)
	return append(msg, b...), nil
}
