package game

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/volleynet/volley/snapshot"
)

// TestDefaultMap: one tile is the classic arena.
func TestDefaultMap(t *testing.T) {
	m := NewMap(1)
	if m.Width != Width || m.Height != Height || !slices.Equal(m.Obstacles, Obstacles) || !slices.Equal(m.SpawnPoints, SpawnPoints) ||
		m.MaxPlayers != MaxPlayers || m.MaxProjectiles != MaxProjectiles {
		t.Fatalf("NewMap(1) = %+v, not the classic arena", m)
	}
	if NewMap(0).Tiles != 1 || NewMap(99).Tiles != MaxTiles {
		t.Fatal("tiles not clamped to 1..MaxTiles")
	}
}

// TestTiledMovement: walking inside any tile of a large map is walking on the classic
// arena, shifted; players never overlap an obstacle nor leave the map, crossing tiles
// included; every spawn point is clear.
func TestTiledMovement(t *testing.T) {
	m := NewMap(3)
	if m.Width != 3*Width || m.Height != 3*Height || len(m.Obstacles) != 9*len(Obstacles) || m.MaxPlayers != MaxMapPlayers {
		t.Fatalf("NewMap(3): %v × %v, %d obstacles, %d players", m.Width, m.Height, len(m.Obstacles), m.MaxPlayers)
	}
	for _, sp := range m.SpawnPoints {
		if m.Blocked(sp) {
			t.Fatalf("spawn point %+v is blocked", sp)
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	off := Vec{X: Width, Y: 2 * Height} // the middle column, bottom row
	for walk := range 40 {
		start := SpawnPoints[walk%len(SpawnPoints)]
		a := Player{Pos: start, Alive: true}
		b := Player{Pos: start.Add(off), Alive: true}
		for step := range 300 {
			in := Input{Buttons: uint8(rng.IntN(16)), Aim: 1}
			if step%30 == 0 {
				in.Buttons = uint8(rng.IntN(16))
			}
			MovePlayer(&a, in, dt)
			m.Move(&b, in, dt)
			if d := b.Pos.Sub(off).Sub(a.Pos); math.Abs(d.X) > 1e-6 || math.Abs(d.Y) > 1e-6 {
				// The classic arena stops at its edges; the large map goes on into
				// the next tile: compare only while a stays off the edges.
				const e = PlayerRadius + 0.01
				if a.Pos.X > e && a.Pos.X < Width-e && a.Pos.Y > e && a.Pos.Y < Height-e {
					t.Fatalf("walk %d step %d: classic %+v, large %+v (shifted back %+v)", walk, step, a.Pos, b.Pos, b.Pos.Sub(off))
				}
				b.Pos = a.Pos.Add(off)
			}
		}
	}
	// Long random walks across tile borders.
	for walk := range 20 {
		p := Player{Pos: m.SpawnPoints[walk*7%len(m.SpawnPoints)], Alive: true}
		for step := range 2000 {
			in := Input{Buttons: uint8(rng.IntN(16))}
			if step%20 != 0 {
				in.Buttons = uint8(walk%4 + 1)
			}
			m.Move(&p, in, dt)
			const e = 1e-9
			if p.Pos.X < PlayerRadius-e || p.Pos.X > m.Width-PlayerRadius+e || p.Pos.Y < PlayerRadius-e || p.Pos.Y > m.Height-PlayerRadius+e {
				t.Fatalf("walk %d step %d: player at %+v left the map", walk, step, p.Pos)
			}
			for _, o := range m.Obstacles {
				const r = PlayerRadius - 1e-3 // positions touch walls within rounding
				if p.Pos.X+r > o.X && p.Pos.X-r < o.X+o.W && p.Pos.Y+r > o.Y && p.Pos.Y-r < o.Y+o.H {
					t.Fatalf("walk %d step %d: player at %+v overlaps obstacle %+v", walk, step, p.Pos, o)
				}
			}
		}
	}
	// Sight across a tile border and across the whole map.
	if !m.LineOfSight(Vec{62, 4}, Vec{66, 4}) {
		t.Error("no line of sight across an open tile border")
	}
	if m.LineOfSight(Vec{20, 18}, Vec{20 + 2*Width, 18}) {
		t.Error("line of sight through two center blocks")
	}
}

// TestWideWorldRoundTrip: on a large map's registry players far beyond the classic
// arena's coordinates travel exactly.
func TestWideWorldRoundTrip(t *testing.T) {
	m := NewMap(4)
	s := &State{Map: m}
	p := s.AddPlayer(1, "far")
	p.Pos = Vec{250.37, 140.01}
	s.Projectiles = append(s.Projectiles, Projectile{ID: 9, Owner: 1, Pos: Vec{200.5, 100.25}})
	w := snapshot.NewWorld(RegistryFor(m))
	var ww WorldWriter
	if err := ww.Write(s, w); err != nil {
		t.Fatal(err)
	}
	var v View
	ReadView(w, &v)
	if len(v.Players) != 1 || !near(v.Players[0].Pos, p.Pos) || len(v.Projectiles) != 1 || v.Projectiles[0].Pos.Sub(Vec{200.5, 100.25}).Len() > 0.006 {
		t.Fatalf("read back %+v", v)
	}
	if got, ok := PlayerFromWorld(w, 1); !ok || !near(got.Pos, p.Pos) {
		t.Fatalf("PlayerFromWorld: %+v %v", got, ok)
	}
	// The quick read agrees with the full one, on both registries.
	for _, reg := range []*snapshot.Registry{RegistryFor(m), NewRegistry()} {
		w := snapshot.NewWorld(reg)
		var ww WorldWriter
		p.Pos, p.Spawn, p.Alive = Vec{33.33, 20.07}, 300, false
		if err := ww.Write(s, w); err != nil {
			t.Fatal(err)
		}
		_, q, _ := w.Quantized(PlayerEntityID(1))
		full, _ := PlayerFromQuantized(reg, 1, q)
		pos, alive, spawn, ok := PlayerPosFromQuantized(reg, q)
		if !ok || pos != full.Pos || alive != full.Alive || spawn != full.Spawn || spawn != 300&0xff {
			t.Fatalf("quick read %+v %v %d %v, full %+v", pos, alive, spawn, ok, full)
		}
	}
	if RegistryFor(m).Fingerprint() == NewRegistry().Fingerprint() || RegistryFor(DefaultMap).Fingerprint() != NewRegistry().Fingerprint() {
		t.Fatal("the large map's registry must differ from the classic one (and only for large maps)")
	}
}

// TestLagCompensatedShot: a projectile fired with Lag meets its target where
// State.PlayerAt says the shooter saw it, not where the target is now; a target the
// shooter did not see alive is not hit.
func TestLagCompensatedShot(t *testing.T) {
	for _, tc := range []struct {
		name     string
		lag      float64
		seen     bool // PlayerAt reports the target alive where the shooter aims
		wantHits int
	}{
		{"present, no lag", 0, false, 0},
		{"compensated", 12, true, 1},
		{"target not seen alive then", 12, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The target now stands at (12, 6), out of the line of fire; twelve
			// ticks ago the shooter saw it at (12, 4), in it.
			s := newState(Vec{4, 4}, Vec{12, 6})
			var asked []float64
			s.PlayerAt = func(id PlayerID, ago float64) (Vec, bool) {
				asked = append(asked, ago)
				return Vec{12, 4}, tc.seen
			}
			in := map[PlayerID]Input{1: {Buttons: ButtonFire, Aim: 0, Lag: tc.lag}}
			Step(s, in, dt, nil)
			for range 30 {
				Step(s, nil, dt, nil)
			}
			hits := (MaxHealth - s.Players[1].Health) / HitDamage
			if hits != tc.wantHits {
				t.Fatalf("%d hits, want %d", hits, tc.wantHits)
			}
			if tc.lag > 0 && (len(asked) == 0 || asked[0] != tc.lag) {
				t.Fatalf("PlayerAt asked for %v, want %v ticks ago", asked, tc.lag)
			}
			if tc.lag == 0 && len(asked) != 0 {
				t.Fatalf("PlayerAt asked for %v without lag", asked)
			}
		})
	}
}
