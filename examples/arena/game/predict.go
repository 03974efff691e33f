package game

import "math"

// MaxPending bounds the unacknowledged inputs a Predictor keeps (4 s at 60 Hz). When it
// is full the oldest input is forgotten: the prediction is then briefly wrong and the
// next reconciliation corrects it.
const MaxPending = 256

// Predictor runs the local player's movement ahead of the host. Each local tick,
// Predict applies the new input at once (so movement feels immediate) and remembers
// it; when a snapshot shows the host's view of the player, Reconcile restarts from it
// and replays the inputs the host has not applied yet (those with a sequence number
// above Player.LastInput). A Predictor is owned by one goroutine.
type Predictor struct {
	// Player is the predicted local player.
	Player Player
	// Dt is the duration of one input in seconds (the host's tick).
	Dt float64

	pending []Input // unacknowledged inputs, oldest first
	seq     uint32  // last sequence number handed out
	acked   uint32  // highest LastInput reconciled so far
	synced  bool    // Reconcile has run at least once
	// offset is a visual correction that decays to zero, so a misprediction shows as
	// a quick glide instead of a jump.
	offset Vec

	// Corrections counts reconciliations that moved the prediction by more than
	// PosPrecision (mispredictions), for the network panel and tests.
	Corrections int
}

// NewPredictor returns a Predictor for inputs of dt seconds.
func NewPredictor(dt float64) *Predictor {
	return &Predictor{Dt: dt, pending: make([]Input, 0, MaxPending)}
}

// Synced reports whether the predictor has seen the host's state of the player.
func (pr *Predictor) Synced() bool { return pr.synced }

// Pending returns how many inputs the host has not acknowledged yet.
func (pr *Predictor) Pending() int { return len(pr.pending) }

// Predict numbers a new local input, applies it to the predicted player and returns
// it for sending to the host.
func (pr *Predictor) Predict(buttons uint8, aim float64) Input {
	in := Input{Seq: pr.seq + 1, Buttons: buttons & buttonMask, Aim: QuantizeAim(aim)}
	pr.PredictInput(in)
	return in
}

// PredictInput applies an input that the caller has numbered (e.g. with the host
// tick it is for, plus one) to the predicted player and remembers it until the host
// acknowledges it. Sequence numbers must increase; an input that does not is ignored.
func (pr *Predictor) PredictInput(in Input) {
	if in.Seq <= pr.seq {
		return
	}
	pr.seq = in.Seq
	in.Buttons &= buttonMask
	if len(pr.pending) == MaxPending {
		copy(pr.pending, pr.pending[1:])
		pr.pending = pr.pending[:MaxPending-1]
	}
	pr.pending = append(pr.pending, in)
	if pr.synced {
		MovePlayer(&pr.Player, in, pr.Dt)
	}
}

// Reconcile takes the host's latest state of the local player (its LastInput says
// which inputs it has applied), drops the acknowledged inputs and replays the rest on
// top of the host's state. A state older than one already reconciled is ignored.
func (pr *Predictor) Reconcile(host Player) {
	if pr.synced && host.LastInput < pr.acked {
		return
	}
	i := 0
	for i < len(pr.pending) && pr.pending[i].Seq <= host.LastInput {
		i++
	}
	pr.pending = append(pr.pending[:0], pr.pending[i:]...)

	before := pr.Player
	wasSynced := pr.synced
	pr.Player = host
	pr.acked = host.LastInput
	pr.synced = true
	for _, in := range pr.pending {
		MovePlayer(&pr.Player, in, pr.Dt)
	}
	if !wasSynced || before.Spawn != pr.Player.Spawn || !pr.Player.Alive {
		pr.offset = Vec{}
		return
	}
	diff := before.Pos.Add(pr.offset).Sub(pr.Player.Pos)
	if math.Abs(before.Pos.X-pr.Player.Pos.X) > PosPrecision/2 || math.Abs(before.Pos.Y-pr.Player.Pos.Y) > PosPrecision/2 {
		pr.Corrections++
	}
	if diff.Len() > 3 {
		diff = Vec{} // too far to glide: snap
	}
	pr.offset = diff
}

// RenderPos returns where to draw the local player: the prediction plus a visual
// correction that decays over about 100 ms. Call it once per frame with the frame
// time in seconds.
func (pr *Predictor) RenderPos(frameDt float64) Vec {
	pr.offset = pr.offset.Scale(math.Exp(-frameDt * 15))
	if pr.offset.Len() < 0.001 {
		pr.offset = Vec{}
	}
	return pr.Player.Pos.Add(pr.offset)
}

// LerpAngle interpolates between angles a and b along the shorter way.
func LerpAngle(a, b, t float64) float64 {
	d := math.Remainder(b-a, 2*math.Pi)
	return a + d*t
}

// Lerp interpolates between a and b.
func Lerp(a, b, t float64) float64 { return a + (b-a)*t }
