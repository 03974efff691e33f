package bot

import (
	"testing"

	"github.com/volleynet/volley/examples/arena/game"
)

// TestBotsPlay lets four brains play a local game for two minutes of game time: they
// must move around, shoot and score.
func TestBotsPlay(t *testing.T) {
	s := &game.State{Seed: 1}
	brains := map[game.PlayerID]*Brain{}
	for i := 1; i <= 4; i++ {
		s.AddPlayer(game.PlayerID(i), "")
		brains[game.PlayerID(i)] = NewBrain(uint64(i))
	}
	const dt = 1.0 / 60
	start := map[game.PlayerID]game.Vec{}
	for _, p := range s.Players {
		start[p.ID] = p.Pos
	}
	moved := map[game.PlayerID]bool{}
	for tick := 0; tick < 120*60; tick++ {
		view := make([]game.Player, len(s.Players))
		for i, p := range s.Players {
			view[i] = *p
		}
		in := map[game.PlayerID]game.Input{}
		for _, p := range s.Players {
			b, aim := brains[p.ID].Think(*p, view, dt)
			in[p.ID] = game.Input{Seq: uint32(tick + 1), Buttons: b, Aim: aim}
		}
		game.Step(s, in, dt, nil)
		for _, p := range s.Players {
			if p.Pos.Sub(start[p.ID]).Len() > 10 {
				moved[p.ID] = true
			}
		}
	}
	kills := 0
	for _, p := range s.Players {
		if !moved[p.ID] {
			t.Errorf("bot %d never got 10 units from its spawn", p.ID)
		}
		kills += p.Kills
	}
	if kills == 0 || s.NextProjectileID == 0 {
		t.Errorf("no kills (%d shots) in two minutes of bot play", s.NextProjectileID)
	}
	t.Logf("%d kills, %d shots", kills, s.NextProjectileID)
}
