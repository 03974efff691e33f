package netcode

import (
	"math"
	"sync/atomic"
)

// Bandwidth budget (ServerConfig.BytesPerSecond, AdaptToLoss).
const (
	// minBudgetPerSend is the least a budget allows per send: room for the
	// headers and a few entities.
	minBudgetPerSend = 64
	// adaptLossHigh: a second in which the client reports more of the snapshots
	// lost than this cuts its budget to adaptCut of what it was, not below
	// adaptFloor of BytesPerSecond; a second with less loss raises it by
	// adaptStep of BytesPerSecond, up to BytesPerSecond.
	adaptLossHigh = 0.02
	adaptCut      = 0.75
	adaptFloor    = 0.25
	adaptStep     = 1.0 / 16
	// adaptMinPackets: a second with fewer packets reported says nothing.
	adaptMinPackets = 10
)

// budget is one client's snapshot byte budget: a token bucket refilled on every send
// by rate/SendRate bytes and spent by the bytes the send put on the wire (snapshot
// messages, headers included). It holds at most one send's refill plus one
// message of MaxUnreliableBytes, so over any n consecutive sends the client gets at
// most n × rate/SendRate + MaxUnreliableBytes bytes: over a second, BytesPerSecond
// plus one packet. The encoder's priority accumulator decides what the tokens buy.
//
// Owned by the goroutine encoding the client's snapshots, except current, which
// Server.ClientBudget reads.
type budget struct {
	ready    bool    // init has run (on the client's first send)
	max      float64 // configured bytes per second; 0: no budget
	rate     float64 // bytes per second now (below max while adapting to loss)
	perSend  float64 // sends per second
	tokens   float64
	adapt    bool
	sends    int    // sends since the last adaptation
	recv     uint32 // the client's receive counts at the last adaptation
	lost     uint32
	haveLoss bool
	current  atomic.Uint64 // rate, float64 bits
}

func (b *budget) init(bytesPerSec, sendRate int, adapt bool) {
	b.ready = true
	if bytesPerSec <= 0 {
		return
	}
	b.max = math.Max(float64(bytesPerSec), float64(minBudgetPerSend*sendRate))
	b.rate, b.perSend, b.adapt = b.max, float64(sendRate), adapt
	b.current.Store(math.Float64bits(b.rate))
}

// allow refills the bucket for a send and returns the bytes the encoder may use for
// packets of which each carries overhead more bytes of headers on the wire, with up
// to maxPackets packets. 0 means no budget.
func (b *budget) allow(overhead, maxPackets int) int {
	if b.max == 0 {
		return 0
	}
	refill := b.rate / b.perSend
	b.tokens = math.Min(b.tokens+refill, refill+MaxUnreliableBytes)
	// The encoder counts its packets only: leave room for each one's header.
	n := int(b.tokens) - overhead*maxPackets
	return max(n, 1) // a send always carries one packet (it may overdraw a little)
}

// spend takes the bytes a send put on the wire.
func (b *budget) spend(n int) {
	if b.max != 0 {
		b.tokens -= float64(n)
	}
}

// observeLoss adapts the rate once a second of sends to what the client reported
// losing since the last time (its cumulative receive and loss counts of this
// direction).
func (b *budget) observeLoss(recv, lost uint32) {
	if b.max == 0 || !b.adapt {
		return
	}
	b.sends++
	if float64(b.sends) < b.perSend {
		return
	}
	b.sends = 0
	if !b.haveLoss {
		b.recv, b.lost, b.haveLoss = recv, lost, true
		return
	}
	dr, dl := recv-b.recv, lost-b.lost
	if int32(dr) < 0 || int32(dl) < 0 || dr+dl < adaptMinPackets {
		if int32(dr) < 0 || int32(dl) < 0 {
			b.recv, b.lost = recv, lost // counts went back: start over
		}
		return
	}
	b.recv, b.lost = recv, lost
	if float64(dl)/float64(dr+dl) > adaptLossHigh {
		b.rate = math.Max(b.rate*adaptCut, b.max*adaptFloor)
	} else {
		b.rate = math.Min(b.rate+b.max*adaptStep, b.max)
	}
	b.rate = math.Max(b.rate, float64(minBudgetPerSend)*b.perSend)
	b.current.Store(math.Float64bits(b.rate))
}
