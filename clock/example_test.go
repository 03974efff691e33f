package clock_test

import (
	"fmt"
	"sync"
	"time"

	"github.com/volleynet/volley/clock"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/snapshot"
)

// A Fake clock drives a host's tick loop by hand: each Advance by one tick runs
// exactly one Step, with no sleeping.
func ExampleFake() {
	reg := snapshot.NewRegistry()
	fake := clock.NewFake(time.Unix(0, 0))
	ticks := make(chan uint32, 1)
	srv, err := netcode.NewServer(netcode.ServerConfig{
		Registry: reg,
		TickRate: 10,
		SendRate: 10,
		Clock:    fake,
		Step:     func(t *netcode.Tick) { ticks <- t.N },
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	fmt.Println("tick", <-ticks) // tick 0 runs at once
	for range 3 {
		fake.Advance(100 * time.Millisecond)
		fmt.Println("tick", <-ticks)
	}
	// Output:
	// tick 0
	// tick 1
	// tick 2
	// tick 3
}

// slowMotion is a Clock written outside Volley: it runs at a fraction of real time
// (for watching a game in slow motion), on top of the real clock.
type slowMotion struct {
	mu     sync.Mutex
	start  time.Time
	factor float64 // game seconds per real second
}

func (s *slowMotion) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	real := time.Since(s.start)
	return s.start.Add(time.Duration(float64(real) * s.factor))
}

func (s *slowMotion) NewTimer(d time.Duration) clock.Timer {
	return &slowTimer{s: s, t: time.NewTimer(s.real(d))}
}

// real converts a game duration into real time.
func (s *slowMotion) real(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.factor)
}

type slowTimer struct {
	s *slowMotion
	t *time.Timer
}

func (t *slowTimer) C() <-chan time.Time   { return t.t.C }
func (t *slowTimer) Reset(d time.Duration) { t.t.Reset(t.s.real(d)) }
func (t *slowTimer) ResetAt(at time.Time)  { t.t.Reset(t.s.real(at.Sub(t.s.Now()))) }
func (t *slowTimer) Stop()                 { t.t.Stop() }

// Any implementation of clock.Clock can drive a host: here one that runs at a tenth
// of real speed, so a 60 Hz game steps 6 times a real second.
func Example_custom() {
	var c netcode.Clock = &slowMotion{start: time.Now(), factor: 0.1}
	ticks := make(chan uint32, 1)
	srv, err := netcode.NewServer(netcode.ServerConfig{
		Registry: snapshot.NewRegistry(),
		Clock:    c,
		Step: func(t *netcode.Tick) {
			select {
			case ticks <- t.N:
			default:
			}
		},
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	for range 2 {
		<-ticks
	}
	fmt.Println("stepping in slow motion")
	// Output: stepping in slow motion
}
