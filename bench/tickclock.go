package main

import (
	"sync"
	"time"

	"github.com/volleynet/volley/internal/clock"
	"github.com/volleynet/volley/netcode"
)

// tickClock is the real clock with a tick-duration probe: netcode's server makes
// exactly one timer, its tick loop's, fires it when a tick is due and re-arms it
// as soon as the tick's work (Step, timeouts, snapshot encoding and sends for
// every client) is done. The time from firing to re-arming is the tick duration.
// When the loop catches up on several due ticks at once, that batch counts as
// one (longer) sample.
//
// Workaround: netcode's LoopStats has no tick durations yet.
type tickClock struct {
	mu    sync.Mutex
	fired time.Time // when the timer last fired; zero once its duration is recorded
	dist  *Dist     // durations since the last Take
}

var _ netcode.Clock = (*tickClock)(nil)

func newTickClock() *tickClock { return &tickClock{dist: &Dist{}} }

// Now returns time.Now().
func (c *tickClock) Now() time.Time { return time.Now() }

// NewTimer returns a timer that records tick durations.
func (c *tickClock) NewTimer(d time.Duration) clock.Timer {
	t := &tickTimer{clk: c, ch: make(chan time.Time, 1)}
	t.t = time.AfterFunc(d, t.fire)
	return t
}

// Take returns the durations recorded since the previous Take and starts anew.
// (netcode spreads snapshot sends over ticks by client phase, so every tick sends.)
func (c *tickClock) Take() *Dist {
	c.mu.Lock()
	defer c.mu.Unlock()
	all := c.dist
	c.dist = &Dist{}
	return all
}

type tickTimer struct {
	clk *tickClock
	t   *time.Timer
	ch  chan time.Time
}

// fire runs on the timer's own goroutine when the tick is due.
func (t *tickTimer) fire() {
	now := time.Now()
	t.clk.mu.Lock()
	t.clk.fired = now
	t.clk.mu.Unlock()
	select {
	case t.ch <- now:
	default: // the previous firing was never received; the loop is behind
	}
}

func (t *tickTimer) C() <-chan time.Time { return t.ch }

// Reset is called by the loop once its tick's work is done.
func (t *tickTimer) Reset(d time.Duration) {
	t.done(time.Now())
	t.t.Reset(d)
}

// ResetAt is Reset to an absolute time.
func (t *tickTimer) ResetAt(at time.Time) {
	now := time.Now()
	t.done(now)
	t.t.Reset(at.Sub(now))
}

// done records the duration of the tick that just ended.
func (t *tickTimer) done(now time.Time) {
	c := t.clk
	c.mu.Lock()
	if !c.fired.IsZero() {
		c.dist.Add(now.Sub(c.fired))
		c.fired = time.Time{}
	}
	c.mu.Unlock()
}

func (t *tickTimer) Stop() { t.t.Stop() }
