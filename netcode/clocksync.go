package netcode

import "time"

// clockSync estimates the round trip and the offset between the local clock and the
// host's (host time = local time + offset) from ping/pong samples. It keeps the
// offset of the lowest-RTT sample of a recent window (the one least skewed by
// queueing), and slews towards a new estimate instead of jumping, unless it is far off.
//
// The round trip and its jitter are smoothed (1/8 and 1/16 per sample, as TCP does)
// once the window has filled; until then they are the lower median of the window's
// samples and the lower median of their distances from it. So slow first round trips
// (the arena's browser panel started at 217-276 ms on loopback, where 8 ms followed)
// are outvoted as soon as most samples are fast, instead of decaying from the first
// sample by 1/8 per sample: 40 samples, 10 s at the default ping interval.
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
	switch {
	case c.n < len(c.samples):
		// Warming up.
		var rtts, devs [len(c.samples)]time.Duration
		for i, s := range c.samples[:c.n] {
			rtts[i] = s.rtt
		}
		c.rtt = lowerMedian(rtts[:c.n])
		for i, s := range c.samples[:c.n] {
			devs[i] = absDuration(s.rtt - c.rtt)
		}
		c.jitter = lowerMedian(devs[:c.n])
	default:
		c.rtt += (rtt - c.rtt) / 8
		c.jitter += (absDuration(rtt-c.last) - c.jitter) / 16
	}
	c.last = rtt
	if !c.have {
		c.have = true
		c.offset = best.offset
		return
	}
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

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// lowerMedian sorts d in place and returns its lower median (0 for none).
func lowerMedian(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	for i := 1; i < len(d); i++ { // insertion sort: at most 16 values
		for j := i; j > 0 && d[j] < d[j-1]; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
	return d[(len(d)-1)/2]
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
