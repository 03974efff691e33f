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

// BenchmarkReconcile replays 12 pending inputs (200 ms at 60 Hz) per reconciliation.
func BenchmarkReconcile(b *testing.B) {
	pr := NewPredictor(1.0 / 60)
	host := Player{Pos: Vec{10, 10}, Alive: true}
	pr.Reconcile(host)
	b.ReportAllocs()
	for b.Loop() {
		for range 12 {
			pr.Predict(ButtonRight|ButtonDown, 0)
		}
		host.LastInput = pr.seq - 12
		pr.Reconcile(host)
		host.LastInput = pr.seq
		pr.Reconcile(host)
	}
}
