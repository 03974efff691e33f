package netcode

import (
	"time"

	"github.com/volleynet/volley/internal/msgguard"
)

// ClientID identifies a connected client on its host. IDs start at 1 and are not reused
// while the Server lives.
type ClientID uint32

// Departure reports a disconnected client.
type Departure struct {
	// Client is the client that left; its ID is never reused.
	Client ClientID
	// Reason wraps ErrClientLeft for a clean goodbye (also wrapping
	// ErrVersionMismatch or ErrSchemaMismatch when the client refused this host's
	// welcome), or ErrTimeout, ErrConnectionLost, ErrFlood, ErrProtocol,
	// ErrSlowConsumer, ErrKicked, ErrClosed.
	Reason error
}

// Input is one client's input for one tick.
type Input struct {
	Client ClientID // the sender
	Tick   uint32   // the tick the client stamped it for: the tick running now
	Data   []byte   // at most MaxInputBytes; valid during Step only
}

// Command is one msgpack-encoded command from a client.
type Command struct {
	Client ClientID // the sender
	Data   []byte   // the msgpack bytes (already checked by the msgpack guard)
	max    int
}

// Decode decodes the command into v (msgpack), guarded against claimed lengths that
// exceed the message.
func (c Command) Decode(v any) error { return msgguard.Unmarshal(c.Data, c.max, v) }

// Event is one msgpack-encoded event from the host.
type Event struct {
	Data []byte // the msgpack bytes; Decode them
	max  int
}

// Decode decodes the event into v (msgpack), guarded like Command.Decode.
func (e Event) Decode(v any) error { return msgguard.Unmarshal(e.Data, e.max, v) }

// scheduler computes drift-free tick times: tick n is due at epoch + n/rate, computed
// from n each time (never by adding up rounded durations).
type scheduler struct {
	epoch      time.Time
	rate       uint64
	maxCatchUp uint64
	next       uint64 // the next tick to run
}

// at returns when tick n is due: epoch + n/rate seconds, rounded up to the
// nanosecond (so that due, which rounds down, agrees with it exactly).
func (s *scheduler) at(n uint64) time.Time {
	sec := n / s.rate
	rem := n % s.rate
	ns := (rem*uint64(time.Second) + s.rate - 1) / s.rate
	return s.epoch.Add(time.Duration(sec)*time.Second + time.Duration(ns))
}

// due returns the ticks to run at now: n ticks starting at first, and how many due
// ticks were skipped because of the catch-up cap.
func (s *scheduler) due(now time.Time) (first uint64, n uint64, skipped uint64) {
	el := now.Sub(s.epoch)
	if el < 0 {
		return s.next, 0, 0
	}
	// The last tick whose time has come: floor(el*rate/1s), without overflow.
	sec := uint64(el / time.Second)
	rem := uint64(el % time.Second)
	last := sec*s.rate + rem*s.rate/uint64(time.Second)
	if last < s.next {
		return s.next, 0, 0
	}
	count := last - s.next + 1
	if count > s.maxCatchUp {
		skipped = count - s.maxCatchUp
		s.next += skipped
		count = s.maxCatchUp
	}
	first = s.next
	s.next += count
	return first, count, skipped
}
