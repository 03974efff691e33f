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
