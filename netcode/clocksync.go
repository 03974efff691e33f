package netcode

import "time"

// clockSync estimates the round trip and the offset between the local clock and the
// host's (host time = local time + offset) from ping/pong samples. It keeps the
// offset of the lowest-RTT sample of a recent window (the one least skewed by
// queueing), and slews towards a new estimate instead of jumping, unless it is far off.
// One goroutine owns it.
type clockSync struct {
	samples [16]syncSample
	n       int
	next    int

	have   bool
	rtt    time.Duration // smoothed
	jitter time.Duration
	last   time.Duration // previous sample's rtt
	offset time.Duration
}

type syncSample struct {
	rtt, offset time.Duration
}

// maxSlew is the largest offset correction per sample; larger errors snap.
const (
	maxSlew  = 2 * time.Millisecond
	snapSkew = 50 * time.Millisecond
)

// add records a sample: sent and received are local times, host is the host clock
// when it answered.
func (c *clockSync) add(sent, received, host time.Duration) {
	rtt := received - sent
	if rtt < 0 {
		return
	}
	off := host + rtt/2 - received
	c.samples[c.next] = syncSample{rtt: rtt, offset: off}
	c.next = (c.next + 1) % len(c.samples)
	c.n = min(c.n+1, len(c.samples))
	best := c.samples[0]
	for _, s := range c.samples[1:c.n] {
		if s.rtt < best.rtt {
			best = s
		}
	}
	if !c.have {
		c.have = true
		c.rtt, c.last, c.offset = rtt, rtt, best.offset
		return
	}
	c.rtt += (rtt - c.rtt) / 8
	d := rtt - c.last
	if d < 0 {
		d = -d
	}
	c.jitter += (d - c.jitter) / 16
	c.last = rtt
	diff := best.offset - c.offset
	switch {
	case diff > snapSkew || diff < -snapSkew:
		c.offset = best.offset
	case diff > maxSlew:
		c.offset += maxSlew
	case diff < -maxSlew:
		c.offset -= maxSlew
	default:
		c.offset = best.offset
	}
}

// ClockEstimate is a client's view of the host clock.
type ClockEstimate struct {
	// Synced is false until the first round trip completes.
	Synced bool
	RTT    time.Duration // smoothed round trip
	Jitter time.Duration // round-trip variation
	// Offset is host time minus local time, where host time counts from tick 0.
	Offset time.Duration
	// HostTick is the estimated tick the host is running now (fractional).
	HostTick float64
}
