package netcode

import (
	"math"
	"time"
)

// Vector is the type of a Predictor's visual correction: typically a position
// difference, such as a 2D or 3D vector with these three methods.
type Vector[V any] interface {
	Add(V) V         // the sum of two corrections
	Scale(float64) V // the correction times a factor (fading)
	Len() float64    // the correction's size (0: none)
}

// PredictorConfig configures a Predictor. Step is required.
type PredictorConfig[S, I any, V Vector[V]] struct {
	// Step applies one tick's input to the state. It must be what the host does
	// with that input in that tick (share the code), so that replaying inputs from
	// the host's state lands exactly where the host will. Required.
	Step func(s *S, in I)
	// Correction, if set, returns the visible jump when a reconciliation moves the
	// prediction from before to after (typically before's position minus after's),
	// and whether to glide over it: Offset then shows it fading out instead of at
	// once. Return false to show the jump as it is (a respawn, a teleport, a jump
	// too large to glide). Default nil: no smoothing, and no corrections counted.
	Correction func(before, after *S) (V, bool)
	// Smoothing is the time constant of the fading: a correction shrinks by a factor
	// e every Smoothing (95% gone after three). Default 66 ms.
	Smoothing time.Duration
	// MaxPending bounds the unacknowledged inputs kept; when it is full the oldest
	// is forgotten, and the prediction is wrong until the next reconciliation
	// corrects it. Default 256 (4 s at 60 Hz).
	MaxPending int
}

// Predictor runs a client's own state ahead of the host (client-side prediction): each
// input is applied at once when it is sent, so that the player sees its effect without
// waiting a round trip, and kept until the host's state includes it. On each snapshot,
// Reconcile restarts from the host's state at the snapshot's tick and replays the
// inputs for later ticks; if the result differs from what was shown, Offset makes the
// correction glide instead of jump. It is generic over the game's state S, input I
// and correction V.
//
//	pred := netcode.NewPredictor(netcode.PredictorConfig[Player, Input, Vec]{
//		Step: func(p *Player, in Input) { Move(p, in, dt) },
//	})
//	tick, _ := client.SendInput(encode(in))
//	pred.Input(tick, in)
//	// on a snapshot (Client.Updates): the host's view of our player at its tick
//	pred.Reconcile(hostPlayer, snapshotTick)
//	// each frame: draw at pred.State() moved by pred.Offset(frameDt)
//
// A Predictor is owned by one goroutine.
type Predictor[S, I any, V Vector[V]] struct {
	cfg         PredictorConfig[S, I, V]
	state       S
	before      S                      // the prediction before a reconciliation (a field: no escape)
	pending     []pendingPrediction[I] // unacknowledged inputs, ascending ticks
	last        uint32                 // tick of the newest input
	hasInput    bool
	acked       uint32 // tick of the newest host state reconciled
	synced      bool
	offset      V
	corrections int
}

type pendingPrediction[I any] struct {
	tick uint32
	in   I
}

// NewPredictor returns a Predictor. It panics if cfg.Step is nil (a programming error).
func NewPredictor[S, I any, V Vector[V]](cfg PredictorConfig[S, I, V]) *Predictor[S, I, V] {
	if cfg.Step == nil {
		panic("netcode: PredictorConfig.Step is required")
	}
	if cfg.Smoothing <= 0 {
		cfg.Smoothing = 66 * time.Millisecond
	}
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 256
	}
	return &Predictor[S, I, V]{cfg: cfg, pending: make([]pendingPrediction[I], 0, cfg.MaxPending)}
}

// Input records the input sent for tick (what Client.SendInput returned) and, once
// the predictor has the host's state, applies it at once. Ticks must increase: an
// input for a tick not after the previous one is ignored (its effect is already
// predicted).
func (p *Predictor[S, I, V]) Input(tick uint32, in I) {
	if p.hasInput && !serialAfter(tick, p.last) {
		return
	}
	p.last, p.hasInput = tick, true
	if len(p.pending) == p.cfg.MaxPending {
		n := copy(p.pending, p.pending[1:])
		p.pending = p.pending[:n]
	}
	p.pending = append(p.pending, pendingPrediction[I]{tick: tick, in: in})
	if p.synced {
		p.cfg.Step(&p.state, in)
	}
}

// Reconcile restarts the prediction from host, the host's state after tick (the tick of
// the snapshot it came from, which includes every input the host applied up to then):
// inputs for ticks up to tick are forgotten, the later ones are replayed on top of it.
// A state older than one already reconciled is ignored.
func (p *Predictor[S, I, V]) Reconcile(host S, tick uint32) {
	if p.synced && serialAfter(p.acked, tick) {
		return
	}
	i := 0
	for i < len(p.pending) && !serialAfter(p.pending[i].tick, tick) {
		i++
	}
	if i > 0 {
		n := copy(p.pending, p.pending[i:])
		clear(p.pending[n:])
		p.pending = p.pending[:n]
	}
	p.before = p.state
	wasSynced := p.synced
	p.state, p.acked, p.synced = host, tick, true
	for _, pi := range p.pending {
		p.cfg.Step(&p.state, pi.in)
	}
	if p.cfg.Correction == nil {
		return
	}
	var zero V
	if !wasSynced {
		p.offset = zero
		return
	}
	jump, glide := p.cfg.Correction(&p.before, &p.state)
	if jump.Len() > 0 {
		p.corrections++
	}
	if !glide {
		p.offset = zero
		return
	}
	p.offset = p.offset.Add(jump)
}

// State returns the predicted state. It stays owned by the Predictor: read it, or
// copy it, but change it only through Input and Reconcile.
func (p *Predictor[S, I, V]) State() *S { return &p.state }

// Offset returns the visual correction to add to the predicted state when drawing
// this frame, frameDt after the previous one: what is left of recent corrections,
// fading with PredictorConfig.Smoothing. The zero V without a Correction function.
func (p *Predictor[S, I, V]) Offset(frameDt time.Duration) V {
	if frameDt > 0 {
		p.offset = p.offset.Scale(math.Exp(-frameDt.Seconds() / p.cfg.Smoothing.Seconds()))
	}
	return p.offset
}

// Synced reports whether the predictor has reconciled with the host's state at least
// once (before that, State is the zero S and inputs are only recorded).
func (p *Predictor[S, I, V]) Synced() bool { return p.synced }

// Pending returns how many inputs are not included in the host's state yet.
func (p *Predictor[S, I, V]) Pending() int { return len(p.pending) }

// Corrections returns how many reconciliations moved the prediction (mispredictions),
// as the Correction function measures them.
func (p *Predictor[S, I, V]) Corrections() int { return p.corrections }
