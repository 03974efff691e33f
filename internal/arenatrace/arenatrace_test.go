package arenatrace

import (
	"fmt"
	"reflect"
	"testing"
)

func run(cfg Config, ticks int) (*Sim, int, int) {
	s := New(cfg)
	spawned, maxLive := 0, 0
	seen := map[uint32]bool{}
	for range ticks {
		s.Step()
		for _, p := range s.State().Projectiles {
			if !seen[p.ID] {
				seen[p.ID] = true
				spawned++
			}
		}
		maxLive = max(maxLive, len(s.State().Projectiles))
	}
	return s, spawned, maxLive
}

func TestDeterministic(t *testing.T) {
	a, _, _ := run(Config{Seed: 7}, 600)
	b, _, _ := run(Config{Seed: 7}, 600)
	c, _, _ := run(Config{Seed: 8}, 600)
	if !reflect.DeepEqual(a.State(), b.State()) {
		t.Fatal("same seed, different trace")
	}
	if reflect.DeepEqual(a.State(), c.State()) {
		t.Fatal("different seeds, same trace")
	}
}

func TestTraceShape(t *testing.T) {
	s, spawned, maxLive := run(Config{}, 10*TickRate)
	st := s.State()
	if len(st.Players) != 64 || st.Tick != 600 {
		t.Fatalf("players %d tick %d", len(st.Players), st.Tick)
	}
	// About one shot per player per 1.5 s: 64 players over 10 s fire hundreds.
	if spawned < 200 || maxLive < 20 {
		t.Fatalf("spawned %d projectiles, at most %d live", spawned, maxLive)
	}
	deaths := 0
	for _, p := range st.Players {
		if p.X < 0 || p.X > 200 || p.Y < 0 || p.Y > 200 || p.Health < 0 || p.Health > 100 {
			t.Fatalf("player out of range: %+v", p)
		}
		deaths += p.Score
	}
	if deaths == 0 {
		t.Fatal("nobody scored in 10 s")
	}
	ids := map[uint32]bool{}
	for _, p := range st.Projectiles {
		if ids[p.ID] || p.ID < firstShotID {
			t.Fatalf("bad projectile ID %d", p.ID)
		}
		ids[p.ID] = true
	}
}

func Example() {
	s := New(Config{Seed: 1})
	for range TickRate { // one second
		s.Step()
	}
	st := s.State()
	fmt.Println(st.Tick, len(st.Players))
	// Output: 60 64
}
