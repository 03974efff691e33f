//go:build !js

package netcode

import (
	"math"
	"testing"
	"time"
)

// line is a deterministic test game: a body on a line between walls at 0 and 100,
// moved by its input each tick.
type line struct {
	X     float64
	Spawn int
}

type push struct{ DX float64 }

type offset1 struct{ D float64 }

func (o offset1) Add(p offset1) offset1   { return offset1{o.D + p.D} }
func (o offset1) Scale(k float64) offset1 { return offset1{o.D * k} }
func (o offset1) Len() float64            { return math.Abs(o.D) }
func lineStep(s *line, in push)           { s.X = math.Max(0, math.Min(100, s.X+in.DX)) }
func lineJump(before, after *line) (offset1, bool) {
	return offset1{before.X - after.X}, before.Spawn == after.Spawn
}

func newLinePredictor() *Predictor[line, push, offset1] {
	return NewPredictor(PredictorConfig[line, push, offset1]{Step: lineStep, Correction: lineJump})
}

// hostLine plays inputs the way a host does: state after each tick, inputs applied at
// their tick.
type hostLine struct {
	s      line
	inputs map[uint32]push
	states map[uint32]line
}

func (h *hostLine) run(from, to uint32) {
	for n := from; n <= to; n++ {
		if in, ok := h.inputs[n]; ok {
			lineStep(&h.s, in)
		}
		h.states[n] = h.s
	}
}

// TestPredictorExact: with every input reaching the host, reconciling with the host's
// state at any tick gives the same prediction, with no correction.
func TestPredictorExact(t *testing.T) {
	p := newLinePredictor()
	h := &hostLine{inputs: map[uint32]push{}, states: map[uint32]line{}}
	h.run(0, 9)
	p.Reconcile(h.states[9], 9)
	for n := uint32(11); n <= 200; n++ {
		in := push{DX: float64(n%7) - 2}
		p.Input(n, in)
		h.inputs[n] = in
		if n%3 == 0 { // a snapshot arrives, 8 ticks behind the client's inputs
			h.run(n-2, n)
			p.Reconcile(h.states[n-8], n-8)
		}
	}
	want := line{}
	for n := uint32(11); n <= 200; n++ {
		lineStep(&want, h.inputs[n])
	}
	if *p.State() != want {
		t.Fatalf("predicted %+v, want %+v", *p.State(), want)
	}
	if p.Corrections() != 0 || p.Offset(0).D != 0 {
		t.Fatalf("%d corrections, offset %v: want none", p.Corrections(), p.Offset(0))
	}
	if p.Pending() != 10 {
		t.Fatalf("%d inputs pending, want the 10 after the last snapshot (tick 190)", p.Pending())
	}
}

// TestPredictorCorrection: an input the host never applied (lost) is dropped with its
// tick; the prediction moves back to the host's and the jump glides out.
func TestPredictorCorrection(t *testing.T) {
	p := newLinePredictor()
	p.Reconcile(line{X: 50}, 0)
	for n := uint32(1); n <= 10; n++ {
		p.Input(n, push{DX: 1})
	}
	if p.State().X != 60 {
		t.Fatalf("predicted %v, want 60", p.State().X)
	}
	// The host missed input 3: its state at tick 5 is 54, not 55.
	p.Reconcile(line{X: 54}, 5)
	if p.State().X != 59 || p.Corrections() != 1 {
		t.Fatalf("after the correction: %v (%d corrections), want 59 (1)", p.State().X, p.Corrections())
	}
	if d := p.Offset(0).D; d != 1 {
		t.Fatalf("offset %v right after the correction, want 1 (drawn where it was)", d)
	}
	d1 := p.Offset(66 * time.Millisecond).D
	if math.Abs(d1-math.Exp(-1)) > 1e-9 {
		t.Fatalf("offset %v after one time constant, want %v", d1, math.Exp(-1))
	}
	// An older state arrives late: ignored.
	p.Reconcile(line{X: 0}, 4)
	if p.State().X != 59 {
		t.Fatalf("an older state moved the prediction to %v", p.State().X)
	}
	// A respawn: no glide.
	p.Reconcile(line{X: 10, Spawn: 1}, 8)
	if p.State().X != 12 || p.Offset(0).D != 0 {
		t.Fatalf("after a respawn: %v, offset %v; want 12, 0", p.State().X, p.Offset(0))
	}
	// Inputs for ticks not after the last are ignored.
	p.Input(10, push{DX: 30})
	if p.State().X != 12 || p.Pending() != 2 {
		t.Fatalf("a repeated tick changed the prediction: %v, %d pending", p.State().X, p.Pending())
	}
}

// TestPredictorBounds: before the first reconciliation inputs are only recorded;
// MaxPending keeps the newest inputs; ticks wrap.
func TestPredictorBounds(t *testing.T) {
	p := NewPredictor(PredictorConfig[line, push, offset1]{Step: lineStep, MaxPending: 4})
	start := uint32(math.MaxUint32 - 3)
	for i := range uint32(8) {
		p.Input(start+i, push{DX: 1}) // wraps after 3
	}
	if p.State().X != 0 || p.Synced() || p.Pending() != 4 {
		t.Fatalf("before sync: %v, synced %v, %d pending; want 0, false, 4", p.State().X, p.Synced(), p.Pending())
	}
	p.Reconcile(line{X: 10}, start+5) // inputs start+6, start+7 remain
	if p.State().X != 12 || p.Pending() != 2 {
		t.Fatalf("after the wrap: %v, %d pending; want 12, 2", p.State().X, p.Pending())
	}
	if p.Corrections() != 0 || p.Offset(time.Second).D != 0 {
		t.Fatal("corrections counted without a Correction function")
	}
}

// TestPredictorAllocs: steady-state prediction allocates nothing.
func TestPredictorAllocs(t *testing.T) {
	p := newLinePredictor()
	n := uint32(0)
	step := func() {
		n++
		p.Input(n, push{DX: 1})
		if n > 10 {
			p.Reconcile(line{X: float64(n - 10)}, n-10)
		}
		p.Offset(16 * time.Millisecond)
	}
	for range 300 {
		step()
	}
	if a := allocsPerRun(300, step); a != 0 {
		t.Fatalf("%v allocations per tick", a)
	}
}
