//go:build !js

package netcode

import (
	"math"
	"testing"
	"time"

	"github.com/volleynet/volley/snapshot"
)

func TestInterpolation(t *testing.T) {
	reg := testRegistry(t)
	buf := newInterpBuffer(reg, 4)
	w := snapshot.NewWorld(reg)
	set := func(id snapshot.EntityID, p Player) {
		if err := w.Set(id, playerType, p); err != nil {
			t.Fatal(err)
		}
	}
	// Tick 10: entity 1 at x=0, angle just below +π; entity 2 about to respawn.
	set(1, Player{X: 0, Y: 10, Angle: math.Pi - 0.1, HP: 50})
	set(2, Player{X: 0, Spawn: 1})
	buf.store(10, w)
	// Tick 14: entity 1 moved to x=4, angle wrapped just past -π; entity 2 respawned.
	set(1, Player{X: 4, Y: 10, Angle: -math.Pi + 0.1, HP: 40})
	set(2, Player{X: 80, Spawn: 2})
	buf.store(14, w)

	dst := snapshot.NewWorld(reg)
	if !buf.sample(dst, 11) {
		t.Fatal("empty")
	}
	var p Player
	if ok, err := dst.Get(1, &p); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if math.Abs(float64(p.X)-1) > 0.011 {
		t.Errorf("x = %v, want 1 (a quarter of the way)", p.X)
	}
	// Shortest path across ±π: a quarter of the 0.2 rad turn past +π.
	if a := float64(p.Angle); math.Abs(math.Remainder(a-(math.Pi-0.05), 2*math.Pi)) > 0.01 {
		t.Errorf("angle = %v, want about %v", a, math.Pi-0.05)
	}
	if p.HP != 50 {
		t.Errorf("hp = %d, integers hold the older value", p.HP)
	}
	var q Player
	_, _ = dst.Get(2, &q)
	if q.X != 80 || q.Spawn != 2 {
		t.Errorf("respawned entity blended: %+v", q)
	}
	// Clamped at both ends.
	buf.sample(dst, 100)
	_, _ = dst.Get(1, &p)
	if p.X != 4 {
		t.Errorf("after newest: x = %v", p.X)
	}
	buf.sample(dst, 0)
	_, _ = dst.Get(1, &p)
	if p.X != 0 {
		t.Errorf("before oldest: x = %v", p.X)
	}
	// An out-of-order older tick is not stored; the ring keeps the newest entries.
	if buf.store(12, w) {
		t.Error("stored an older tick")
	}
	for tick := uint32(15); tick < 25; tick++ {
		buf.store(tick, w)
	}
	if buf.n != 4 || buf.at(0).tick != 21 || buf.newest().tick != 24 {
		t.Errorf("ring holds %d entries from %d to %d", buf.n, buf.at(0).tick, buf.newest().tick)
	}
}

func TestClockSync(t *testing.T) {
	var c clockSync
	// Host clock is 10 s ahead; one-way delays vary between 20 and 40 ms.
	const offset = 10 * time.Second
	local := time.Duration(0)
	for i := range 50 {
		up := 20*time.Millisecond + time.Duration(i%5)*5*time.Millisecond
		down := 20*time.Millisecond + time.Duration((i+2)%5)*5*time.Millisecond
		sent := local
		host := sent + up + offset
		received := sent + up + down
		c.add(sent, received, host)
		local += 100 * time.Millisecond
	}
	if !c.have || c.rtt < 40*time.Millisecond || c.rtt > 80*time.Millisecond {
		t.Fatalf("rtt %v", c.rtt)
	}
	if c.jitter <= 0 || c.jitter > 20*time.Millisecond {
		t.Fatalf("jitter %v", c.jitter)
	}
	if d := c.offset - offset; d < -10*time.Millisecond || d > 10*time.Millisecond {
		t.Fatalf("offset off by %v", d)
	}
}

// TestClockSyncConverges: slow first round trips (taken while a connection settles)
// are outvoted within a few samples: the smoothed round trip used to start at the
// first sample and decay towards the true one by 1/8 per sample, some 40 samples
// (10 s at the default 4 pings a second) from 250 ms to 8 ms.
func TestClockSyncConverges(t *testing.T) {
	ms := func(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }
	tests := []struct {
		name   string
		slow   []time.Duration // the first samples
		within int             // samples after which the estimate must have converged
	}{
		{"one slow first sample", []time.Duration{ms(250)}, 2},
		{"a slow first second", []time.Duration{ms(276), ms(250), ms(230), ms(217)}, 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c clockSync
			local := time.Duration(0)
			sample := func(rtt time.Duration) {
				c.add(local, local+rtt, local+rtt/2+time.Hour)
				local += 250 * time.Millisecond
			}
			for _, r := range tt.slow {
				sample(r)
			}
			// Then 8 ms, ±0.3 ms.
			for i := len(tt.slow); i < 40; i++ {
				sample(ms(8) + ms(0.3)*time.Duration(i%3-1))
				if i+1 < tt.within {
					continue
				}
				if d := c.rtt - ms(8); d < -ms(1) || d > ms(1) {
					t.Fatalf("after %d samples: rtt %v, want 8 ms ± 1 ms", i+1, c.rtt)
				}
				if c.jitter > ms(1) {
					t.Fatalf("after %d samples: jitter %v, want at most 1 ms", i+1, c.jitter)
				}
			}
			// Past the warm-up the estimate still follows a real change.
			for range 40 {
				sample(ms(50))
			}
			if d := c.rtt - ms(50); d < -ms(5) || d > ms(5) {
				t.Fatalf("after the round trip rose to 50 ms: rtt %v", c.rtt)
			}
		})
	}
}

func BenchmarkInterpolate(b *testing.B) {
	reg := testRegistry(b)
	buf := newInterpBuffer(reg, 8)
	w := snapshot.NewWorld(reg)
	for tick := uint32(0); tick < 8; tick++ {
		for i := range 200 {
			_ = w.Set(snapshot.EntityID(i), playerType, Player{X: float32(tick) + float32(i), Angle: float32(tick)})
		}
		buf.store(tick*2, w)
	}
	dst := snapshot.NewWorld(reg)
	b.ReportAllocs()
	for b.Loop() {
		buf.sample(dst, 7.5)
	}
}
