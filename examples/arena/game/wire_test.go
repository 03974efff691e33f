package game

import (
	"testing"

	"github.com/volleynet/volley/snapshot"
)

func TestWorldRoundTrip(t *testing.T) {
	s := newState(Vec{4, 4}, Vec{10, 4}, Vec{30, 30})
	fire(s, 0.3, 3)
	s.Players[2].Alive = false
	s.Players[2].RespawnIn = 1.23
	s.Players[1].Kills = 3
	w := snapshot.NewWorld(NewRegistry())
	var ww WorldWriter
	if err := ww.Write(s, w); err != nil {
		t.Fatal(err)
	}
	if w.Len() != 3+len(s.Projectiles) || len(s.Projectiles) != 1 {
		t.Fatalf("world has %d entities for %d players and %d projectiles", w.Len(), len(s.Players), len(s.Projectiles))
	}
	var v View
	ReadView(w, &v)
	for i, p := range s.Players {
		got := v.Players[i]
		if got.ID != p.ID || !near(got.Pos, p.Pos) || got.Health != p.Health || got.Kills != p.Kills ||
			got.Alive != p.Alive || got.Spawn != p.Spawn || absDiff(got.Aim, p.Aim) > 0.01 {
			t.Errorf("player %d: got %+v, want %+v", p.ID, got, *p)
		}
	}
	if v.Players[2].RespawnIn != 1.3 {
		t.Errorf("RespawnIn = %v, want 1.3 (rounded up to tenths)", v.Players[2].RespawnIn)
	}
	pr := v.Projectiles[0]
	if pr.ID != s.Projectiles[0].ID || pr.Owner != 1 || pr.Pos.Sub(s.Projectiles[0].Pos).Len() > 0.01 {
		t.Errorf("projectile: got %+v, want %+v", pr, s.Projectiles[0])
	}
	// Gone entities leave the world.
	s.RemovePlayer(1)
	if err := ww.Write(s, w); err != nil {
		t.Fatal(err)
	}
	if w.Len() != 2 {
		t.Errorf("after removing player 1 and its shot the world has %d entities, want 2", w.Len())
	}
}

func absDiff(a, b float64) float64 {
	if a > b {
		return a - b
	}
	return b - a
}
