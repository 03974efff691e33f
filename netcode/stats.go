package netcode

import (
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DropReason says why a message, input or snapshot was dropped.
type DropReason uint8

// Drop reasons.
const (
	// DropBackpressure: a message not sent because the unreliable channel still held
	// earlier ones: on the host a snapshot send (the loop never blocks on I/O), on
	// the client an update or ping (superseded by the next).
	DropBackpressure DropReason = iota
	// DropMalformed: a message that does not parse.
	DropMalformed
	// DropTooLarge: a message over its size cap.
	DropTooLarge
	// DropUnknownKind: a message kind this version does not know.
	DropUnknownKind
	// DropBadAck: a forged or future acknowledgement.
	DropBadAck
	// DropLateInput: an input that arrived after its tick ran.
	DropLateInput
	// DropFutureInput: an input outside the host's window: more than MaxInputLead
	// ticks ahead of the host's tick, or further behind it than any late input can
	// be (Timeout plus MaxInputLead ticks), which serial arithmetic cannot tell
	// from far ahead.
	DropFutureInput
	// DropQueueFull: an inbound queue was full.
	DropQueueFull
	// DropSnapshotDecode: a snapshot the decoder rejected (e.g. a missing baseline).
	DropSnapshotDecode
	// DropStale: a snapshot older than everything buffered.
	DropStale
	// DropPingLimited: a ping over the client's ping rate limit, not answered.
	DropPingLimited
	numDropReasons
)

var dropNames = [numDropReasons]string{
	"backpressure", "malformed", "too_large", "unknown_kind", "bad_ack", "late_input",
	"future_input", "queue_full", "snapshot_decode", "stale",
	"ping_limited",
}

// String returns a snake_case name, e.g. for a metrics label.
func (r DropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// NumDropReasons is the number of DropReason values (the length of DropCounts).
const NumDropReasons = int(numDropReasons)

// DropCounts counts drops, indexed by DropReason. It prints labelled, with the
// reasons that occurred only: "backpressure=3 stale=1", or "none".
type DropCounts [NumDropReasons]uint64

// String returns the non-zero counts as reason=count pairs in DropReason order.
func (d DropCounts) String() string {
	var b strings.Builder
	for r, n := range d {
		if n == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", DropReason(r), n)
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// Stats describes one client session, as seen from the side that reports it. Reading
// it is a handful of atomic loads, cheap enough for every frame. "In" is what this side
// received, "Out" what it sent; rates are averaged over the last full second.
type Stats struct {
	RTT    time.Duration // smoothed round-trip time
	Jitter time.Duration // round-trip variation (RFC 3550 style)
	// LossIn is the fraction of unreliable messages lost on their way here;
	// LossOut the fraction lost on their way to the peer, as the peer reports it.
	LossIn, LossOut float64

	BytesInPerSec, BytesOutPerSec     float64 // both channels
	PacketsInPerSec, PacketsOutPerSec float64 // data channel messages, both channels
	// SnapshotsPerSec counts snapshot packets sent (host) or received (client).
	SnapshotsPerSec float64

	BytesIn, BytesOut, PacketsIn, PacketsOut uint64     // totals, both channels
	Snapshots                                uint64     // total snapshot packets
	Drops                                    DropCounts // by reason

	// Connection lifecycle (see "Connection lifecycle" in the package doc):
	// ICE restarts this side started (Restarts) and how many of those failed, how
	// often this client's session was resumed, and whether it can no longer be
	// (1 once ResumeBytes was exceeded).
	Restarts, RestartsFailed, Resumes, ResumeLost uint64
	// QuietRestarts counts the client's restart episodes (each of one or more of
	// the Restarts) started because the host went quiet (RestartConfig.Quiet).
	QuietRestarts uint64

	// Copies (see "Copies" in the package doc): CopiesFirst counts the other
	// side's messages (commands at the host, events at the client) whose copy on
	// the unreliable channel arrived before the reliable message; Uncopied this
	// side's messages sent on the reliable channel only, because they were larger
	// than CopyBytes or the copies waiting for acknowledgement were full;
	// CopiesHeld the copies messages this side held back because its unreliable
	// channel had more than one packet unsent (congestion: copies would delay
	// inputs, acks and snapshots).
	CopiesFirst, Uncopied, CopiesHeld uint64
}

// Dropped returns the drop count for one reason.
func (s Stats) Dropped(r DropReason) uint64 {
	if r >= numDropReasons {
		return 0
	}
	return s.Drops[r]
}

// counters holds a session's statistics. Writers use atomics; the owner calls
// updateRates at least once a second.
type counters struct {
	bytesIn, bytesOut, pktsIn, pktsOut, snaps atomic.Uint64
	drops                                     [numDropReasons]atomic.Uint64
	rtt, jitter                               atomic.Int64
	lossIn, lossOut                           atomic.Uint64 // float64 bits
	lossOutCounts                             atomic.Uint64 // recv<<32 | lost, as the peer reported
	rates                                     [5]atomic.Uint64
	restarts, restartsFailed, resumes         atomic.Uint64
	resumeLost, quietRestarts                 atomic.Uint64
	copiesFirst, uncopied, copiesHeld         atomic.Uint64

	mu     sync.Mutex // guards last and lastAt
	last   [5]uint64
	lastAt time.Time
}

func (c *counters) in(n int) {
	c.bytesIn.Add(uint64(n))
	c.pktsIn.Add(1)
}

func (c *counters) out(n int) {
	c.bytesOut.Add(uint64(n))
	c.pktsOut.Add(1)
}

func (c *counters) drop(r DropReason) { c.drops[r].Add(1) }

func lossFraction(recv, lost uint32) float64 {
	if recv+lost == 0 {
		return 0
	}
	return float64(lost) / float64(uint64(recv)+uint64(lost))
}

func (c *counters) setLossIn(recv, lost uint32) {
	c.lossIn.Store(math.Float64bits(lossFraction(recv, lost)))
}

func (c *counters) setLossOut(recv, lost uint32) {
	c.lossOutCounts.Store(uint64(recv)<<32 | uint64(lost))
	c.lossOut.Store(math.Float64bits(lossFraction(recv, lost)))
}

// updateRates recomputes the per-second rates if a second or more has passed.
func (c *counters) updateRates(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := [5]uint64{c.bytesIn.Load(), c.bytesOut.Load(), c.pktsIn.Load(), c.pktsOut.Load(), c.snaps.Load()}
	if c.lastAt.IsZero() {
		c.last, c.lastAt = cur, now
		return
	}
	dt := now.Sub(c.lastAt)
	if dt < time.Second {
		return
	}
	for i := range cur {
		c.rates[i].Store(math.Float64bits(float64(cur[i]-c.last[i]) / dt.Seconds()))
	}
	c.last, c.lastAt = cur, now
}

func (c *counters) stats() Stats {
	s := Stats{
		RTT:        time.Duration(c.rtt.Load()),
		Jitter:     time.Duration(c.jitter.Load()),
		LossIn:     math.Float64frombits(c.lossIn.Load()),
		LossOut:    math.Float64frombits(c.lossOut.Load()),
		BytesIn:    c.bytesIn.Load(),
		BytesOut:   c.bytesOut.Load(),
		PacketsIn:  c.pktsIn.Load(),
		PacketsOut: c.pktsOut.Load(),
		Snapshots:  c.snaps.Load(),

		Restarts:       c.restarts.Load(),
		RestartsFailed: c.restartsFailed.Load(),
		Resumes:        c.resumes.Load(),
		ResumeLost:     c.resumeLost.Load(),
		QuietRestarts:  c.quietRestarts.Load(),
		CopiesFirst:    c.copiesFirst.Load(),
		Uncopied:       c.uncopied.Load(),
		CopiesHeld:     c.copiesHeld.Load(),
	}
	s.BytesInPerSec = math.Float64frombits(c.rates[0].Load())
	s.BytesOutPerSec = math.Float64frombits(c.rates[1].Load())
	s.PacketsInPerSec = math.Float64frombits(c.rates[2].Load())
	s.PacketsOutPerSec = math.Float64frombits(c.rates[3].Load())
	s.SnapshotsPerSec = math.Float64frombits(c.rates[4].Load())
	for i := range s.Drops {
		s.Drops[i] = c.drops[i].Load()
	}
	return s
}

// LoopStats describes the host's tick loop.
type LoopStats struct {
	Tick    uint32 // the last tick run
	Ticks   uint64 // ticks run
	Late    uint64 // ticks run after the next tick was already due (catch-up)
	Skipped uint64 // due ticks skipped because of the catch-up cap
	Clients int    // connected now
	Pending int    // handshakes in progress (at most MaxPendingHandshakes)
}
