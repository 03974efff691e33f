package netsim

import (
	"math/rand/v2"
	"net/netip"
	"time"
)

// linkKey names one direction between two peers.
type linkKey struct{ src, dst netip.Addr }

// dropReason says why route dropped a packet.
type dropReason uint8

const (
	dropNone dropReason = iota
	dropQueue
	dropLoss
	dropBurst
)

// link is the state of one direction between two peers: its burst-loss state and
// bandwidth queue, and the random source it draws from (the Network's, shared by every
// link). The Network's mutex guards it.
type link struct {
	cfg      Config
	rng      *rand.Rand
	ge       gilbertElliott
	queue    bottleneck
	lastDue  time.Time // delivery time of the latest copy, for in-order delivery
	inFlight int       // copies waiting in the Network's queue
}

func newLink(rng *rand.Rand, cfg Config) *link {
	l := &link{rng: rng}
	l.configure(cfg)
	return l
}

// configure applies new impairments; the burst state and what is queued carry over.
func (l *link) configure(cfg Config) {
	l.cfg = cfg
	l.ge.cfg = cfg.Burst
	l.queue.bitsPerSec = cfg.Bandwidth
	l.queue.limit = cfg.QueueBytes
}

// route decides the fate of a packet of size bytes written at now: the delivery time
// of each copy (none when dropped, two when duplicated) and, if dropped, why. It is
// deterministic given the random source, so tests can feed it a synthetic clock.
func (l *link) route(now time.Time, size int) (dues []time.Time, why dropReason) {
	left, ok := l.queue.admit(now, size)
	if !ok {
		return nil, dropQueue
	}
	if l.cfg.Loss > 0 && l.rng.Float64() < l.cfg.Loss {
		return nil, dropLoss
	}
	if l.ge.lose(l.rng) {
		return nil, dropBurst
	}
	copies := 1
	if l.cfg.Duplicate > 0 && l.rng.Float64() < l.cfg.Duplicate {
		copies = 2
	}
	dues = make([]time.Time, copies)
	for i := range dues {
		due := left.Add(l.cfg.Delay)
		if l.cfg.Jitter > 0 {
			due = due.Add(time.Duration(l.rng.Int64N(int64(l.cfg.Jitter))))
		}
		if !l.cfg.Reorder && due.Before(l.lastDue) {
			due = l.lastDue
		}
		if due.After(l.lastDue) {
			l.lastDue = due
		}
		dues[i] = due
	}
	return dues, dropNone
}

// gilbertElliott is one link's state in the GilbertElliott model.
type gilbertElliott struct {
	cfg GilbertElliott
	bad bool
}

// lose decides whether the next packet is lost, then moves the state on.
func (g *gilbertElliott) lose(rng *rand.Rand) bool {
	if g.cfg.GoodToBad <= 0 {
		return false
	}
	var lost bool
	if g.bad {
		lost = rng.Float64() < g.cfg.LossBad
		g.bad = rng.Float64() >= g.cfg.BadToGood
	} else {
		lost = g.cfg.LossGood > 0 && rng.Float64() < g.cfg.LossGood
		g.bad = rng.Float64() < g.cfg.GoodToBad
	}
	return lost
}

// bottleneck is a link's bandwidth cap: a FIFO queue drained at bitsPerSec, bounded at
// limit bytes. It needs no goroutine: it only remembers when the link will have sent
// everything admitted so far, from which the bytes still queued at any time follow.
type bottleneck struct {
	bitsPerSec int64
	limit      int       // bytes
	busyUntil  time.Time // when the last admitted byte leaves
}

// admit queues a packet of size bytes at now and returns when its last byte leaves, or
// false when the queue has no room for it (drop-tail). Without a cap it leaves at once.
func (b *bottleneck) admit(now time.Time, size int) (time.Time, bool) {
	if b.bitsPerSec <= 0 {
		return now, true
	}
	start := now
	if b.busyUntil.After(now) {
		start = b.busyUntil
	}
	queued := start.Sub(now).Seconds() * float64(b.bitsPerSec) / 8 // bytes not yet sent
	if queued+float64(size) > float64(b.limit) {
		return time.Time{}, false
	}
	b.busyUntil = start.Add(time.Duration(int64(size) * 8 * int64(time.Second) / b.bitsPerSec))
	return b.busyUntil, true
}
