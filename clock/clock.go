// Package clock is the injectable time source of Volley's netcode: [Clock] and [Timer]
// are what a netcode.Server or netcode.Client reads the time and arms its timers
// through (the tick loop, timeouts, pings, acknowledgements). [Real] is the system
// clock, the default; [Fake] is a manual clock that tests advance by hand, so tick
// loops, timeouts and rate limits run without sleeping and without flakiness. Any
// other implementation (a clock scaled for slow motion, one shared with a game
// engine) can be passed as netcode.ServerConfig.Clock or netcode.ClientConfig.Clock.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and makes timers. Implementations must be safe for
// concurrent use: netcode calls them from several goroutines.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once, d from now.
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer that netcode uses. One goroutine uses a Timer at a
// time.
type Timer interface {
	// C delivers the time when the timer fires (a channel of capacity 1).
	C() <-chan time.Time
	// Reset re-arms the timer to fire after d. Callers stop or drain it first.
	Reset(d time.Duration)
	// ResetAt re-arms the timer to fire at t (immediately if t has passed), with no
	// gap between reading the clock and arming the timer.
	ResetAt(t time.Time)
	// Stop disarms the timer.
	Stop()
}

// Real is the system clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// NewTimer returns a real timer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time   { return r.t.C }
func (r realTimer) Reset(d time.Duration) { r.t.Reset(d) }
func (r realTimer) ResetAt(t time.Time)   { r.t.Reset(time.Until(t)) }
func (r realTimer) Stop()                 { r.t.Stop() }

// Fake is a manual clock: time moves only when Advance or Set is called, and timers
// whose deadline has passed then fire (in deadline order). Safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	waiters []chan struct{}
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires once the fake time reaches Now()+d.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	t.arm(d)
	return t
}

// Advance moves the fake time forward by d and fires due timers.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.fireLocked()
	f.mu.Unlock()
}

// Timers reports how many timers are armed.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// WaitTimers returns a channel closed once at least n timers are armed, so a test can
// wait for a goroutine to block on its timer before advancing the clock.
func (f *Fake) WaitTimers(n int) <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan struct{})
	if len(f.timers) >= n {
		close(ch)
		return ch
	}
	go func() {
		for {
			f.mu.Lock()
			if len(f.timers) >= n {
				f.mu.Unlock()
				close(ch)
				return
			}
			w := make(chan struct{})
			f.waiters = append(f.waiters, w)
			f.mu.Unlock()
			<-w
		}
	}()
	return ch
}

func (f *Fake) fireLocked() {
	sort.SliceStable(f.timers, func(i, j int) bool { return f.timers[i].at.Before(f.timers[j].at) })
	kept := f.timers[:0]
	for _, t := range f.timers {
		if !t.at.After(f.now) {
			select {
			case t.c <- f.now:
			default:
			}
			t.armed = false
			continue
		}
		kept = append(kept, t)
	}
	clear(f.timers[len(kept):])
	f.timers = kept
}

func (f *Fake) wakeLocked() {
	for _, w := range f.waiters {
		close(w)
	}
	f.waiters = f.waiters[:0]
}

type fakeTimer struct {
	f     *Fake
	c     chan time.Time
	at    time.Time
	armed bool
}

// arm is called with f.mu held.
func (t *fakeTimer) arm(d time.Duration) { t.armAt(t.f.now.Add(d)) }

func (t *fakeTimer) armAt(at time.Time) {
	t.at = at
	if !t.armed {
		t.armed = true
		t.f.timers = append(t.f.timers, t)
	}
	t.f.fireLocked()
	t.f.wakeLocked()
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Reset(d time.Duration) {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.arm(d)
}

func (t *fakeTimer) ResetAt(at time.Time) {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.armAt(at)
}

func (t *fakeTimer) Stop() {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.stopLocked()
}

func (t *fakeTimer) stopLocked() {
	if !t.armed {
		return
	}
	t.armed = false
	for i, o := range t.f.timers {
		if o == t {
			t.f.timers = append(t.f.timers[:i], t.f.timers[i+1:]...)
			break
		}
	}
}
