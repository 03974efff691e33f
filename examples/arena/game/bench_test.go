package game

import "testing"

// BenchmarkStep steps a full arena: 16 players moving and shooting.
func BenchmarkStep(b *testing.B) {
	s := &State{Seed: 1}
	for i := 1; i <= 16; i++ {
		s.AddPlayer(PlayerID(i), "")
	}
	in := map[PlayerID]Input{}
	var events []Event
	tick := 0
	b.ReportAllocs()
	for b.Loop() {
		tick++
		for _, p := range s.Players {
			in[p.ID] = Input{Seq: uint32(tick), Buttons: uint8(tick/30+int(p.ID))&0x0f | ButtonFire, Aim: float64(tick%628) / 100}
		}
		events = Step(s, in, 1.0/60, events[:0])
	}
}

// BenchmarkStepLargeMap steps a 4×4 map with 256 players moving and shooting with lag
// compensation (PlayerAt answers at once: this measures the game, not the history).
func BenchmarkStepLargeMap(b *testing.B) {
	s := &State{Seed: 1, Map: NewMap(4)}
	for i := 1; i <= 256; i++ {
		s.AddPlayer(PlayerID(i), "")
	}
	s.PlayerAt = func(id PlayerID, _ float64) (Vec, bool) {
		if p := s.Player(id); p != nil {
			return p.Pos, true
		}
		return Vec{}, false
	}
	in := map[PlayerID]Input{}
	var events []Event
	tick := 0
	b.ReportAllocs()
	for b.Loop() {
		tick++
		for _, p := range s.Players {
			in[p.ID] = Input{Seq: uint32(tick), Buttons: uint8(tick/30+int(p.ID))&0x0f | ButtonFire, Aim: float64(tick%628) / 100, Lag: 15}
		}
		events = Step(s, in, 1.0/60, events[:0])
	}
	b.ReportMetric(float64(len(s.Projectiles)), "projectiles")
}
