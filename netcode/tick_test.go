//go:build !js

package netcode

import (
	"slices"
	"testing"
	"time"

	"github.com/volleynet/volley/clock"
)

func TestSchedulerNoDrift(t *testing.T) {
	epoch := time.Unix(1_000_000, 0)
	s := scheduler{epoch: epoch, rate: 60, maxCatchUp: 5}
	const ticks = 100_000
	for n := uint64(0); n < ticks; n++ {
		// Arrive at the tick's exact time, or a little after it.
		now := s.at(n).Add(time.Duration(n%7) * time.Millisecond)
		first, count, skipped := s.due(now)
		if first != n || count != 1 || skipped != 0 {
			t.Fatalf("tick %d: due = %d, %d, %d", n, first, count, skipped)
		}
	}
	// 100,000 ticks at 60 Hz are 1666.666666667 s (rounded up to the nanosecond).
	want := epoch.Add(1666*time.Second + 666_666_667*time.Nanosecond)
	if got := s.at(ticks); !got.Equal(want) {
		t.Fatalf("tick %d at %v, want %v (drift %v)", ticks, got, want, got.Sub(want))
	}
}

func TestSchedulerCatchUpCap(t *testing.T) {
	epoch := time.Unix(0, 0)
	s := scheduler{epoch: epoch, rate: 100, maxCatchUp: 3}
	if first, n, skipped := s.due(epoch.Add(-time.Second)); n != 0 || first != 0 || skipped != 0 {
		t.Fatalf("before epoch: %d %d %d", first, n, skipped)
	}
	if first, n, _ := s.due(epoch); first != 0 || n != 1 {
		t.Fatalf("at epoch: %d %d", first, n)
	}
	// 100 ms late: ticks 1..10 are due; 3 run, 7 are skipped.
	first, n, skipped := s.due(epoch.Add(100 * time.Millisecond))
	if first != 8 || n != 3 || skipped != 7 {
		t.Fatalf("late: first %d n %d skipped %d", first, n, skipped)
	}
	if s.next != 11 {
		t.Fatalf("next = %d", s.next)
	}
	if _, n, _ := s.due(epoch.Add(105 * time.Millisecond)); n != 0 {
		t.Fatalf("early: %d ticks", n)
	}
}

// TestServerTickLoopFakeClock drives the real Server loop with a fake clock: 100,000
// ticks, each run exactly once, on time, with nothing late or skipped; then a jump
// shows the catch-up cap and the late and skipped counters.
func TestServerTickLoopFakeClock(t *testing.T) {
	ticks := 100_000
	if testing.Short() {
		ticks = 10_000
	}
	start := time.Unix(1_700_000_000, 0)
	fake := clock.NewFake(start)
	stepped := make(chan uint32, 16)
	srv, err := NewServer(ServerConfig{
		Registry:   testRegistry(t),
		Clock:      fake,
		MaxCatchUp: 4,
		// OnTick, not Step: it runs once the loop has counted the tick, so the
		// LoopStats read below see every tick received.
		OnTick: func(n uint32, _ time.Duration) { stepped <- n },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sched := scheduler{epoch: start, rate: 60}
	timeout := time.NewTimer(60 * time.Second)
	defer timeout.Stop()
	next := func() uint32 {
		select {
		case n := <-stepped:
			return n
		case <-timeout.C:
			t.Fatalf("tick loop stalled; stats %+v timers %d", srv.LoopStats(), fake.Timers())
			return 0
		}
	}
	if n := next(); n != 0 {
		t.Fatalf("first tick %d", n)
	}
	for i := 1; i < ticks; i++ {
		fake.Advance(sched.at(uint64(i)).Sub(fake.Now()))
		if n := next(); n != uint32(i) {
			t.Fatalf("tick %d ran as %d", i, n)
		}
	}
	st := srv.LoopStats()
	if st.Ticks != uint64(ticks) || st.Late != 0 || st.Skipped != 0 || st.Tick != uint32(ticks-1) {
		t.Fatalf("after %d ticks: %+v", ticks, st)
	}
	// Fall 10 ticks behind: 4 run back to back (3 of them late), 6 are skipped.
	fake.Advance(sched.at(uint64(ticks + 9)).Sub(fake.Now()))
	for i := 0; i < 4; i++ {
		if n, want := next(), uint32(ticks+6+i); n != want {
			t.Fatalf("catch-up tick %d, want %d", n, want)
		}
	}
	<-fake.WaitTimers(1)
	st = srv.LoopStats()
	if st.Late != 3 || st.Skipped != 6 || st.Ticks != uint64(ticks+4) {
		t.Fatalf("after the jump: %+v", st)
	}
}

// TestServerOnTick: OnTick reports every tick, catch-up ticks one by one, with the time
// its work took on the server's clock (here, what Step advances the fake clock by);
// OnSent then reports each tick's sends in order, with the time since the tick started.
func TestServerOnTick(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	fake := clock.NewFake(start)
	type report struct {
		n    uint32
		took time.Duration
	}
	reports := make(chan report, 16)
	sent := make(chan report, 16)
	const work = 3 * time.Millisecond
	srv, err := NewServer(ServerConfig{
		Registry:   testRegistry(t),
		Clock:      fake,
		MaxCatchUp: 4,
		Step:       func(*Tick) { fake.Advance(work) },
		OnTick:     func(n uint32, took time.Duration) { reports <- report{n, took} },
		OnSent:     func(n uint32, since time.Duration) { sent <- report{n, since} },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	expectFrom := func(ch chan report, hook string, n uint32, want ...time.Duration) {
		t.Helper()
		select {
		case r := <-ch:
			if r.n != n || !slices.Contains(want, r.took) {
				t.Fatalf("%s(%d, %v), want (%d, one of %v)", hook, r.n, r.took, n, want)
			}
		case <-timeout.C:
			t.Fatalf("no %s for tick %d; stats %+v", hook, n, srv.LoopStats())
		}
	}
	expect := func(n uint32) {
		t.Helper()
		expectFrom(reports, "OnTick", n, work)
	}
	expect(0)
	expectFrom(sent, "OnSent", 0, work)
	// Two ticks due at once: each is timed on its own. The first tick's sends
	// may leave before or after the second tick's Step advanced the clock.
	<-fake.WaitTimers(1)
	sched := scheduler{epoch: start, rate: 60}
	fake.Advance(sched.at(2).Sub(fake.Now()))
	expect(1)
	expect(2)
	expectFrom(sent, "OnSent", 1, work, 2*work)
	expectFrom(sent, "OnSent", 2, work)
}
