//go:build !js

package netcode_test

import (
	"fmt"
	"math"
	"time"

	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/snapshot"
)

// Unit is a moving thing with a position, for the toolkit's examples.
type Unit struct {
	X float32 `snap:"float,min=0,max=1000,prec=0.01"`
	Y float32 `snap:"float,min=0,max=1000,prec=0.01"`
}

// A host with lag compensation rewinds a target to the tick the shooter saw.
func ExampleHistory() {
	reg := snapshot.NewRegistry()
	reg.Register(1, Unit{})
	// What a host with LagCompensation.Enabled keeps, and hands Step as Tick.History.
	h := netcode.NewHistory(reg, 60, netcode.LagCompensation{MaxRewind: 200 * time.Millisecond})
	w := snapshot.NewWorld(reg)
	for tick := uint32(1); tick <= 30; tick++ {
		w.Set(7, 1, Unit{X: float32(tick)}) // the target moves one unit per tick
		h.Record(tick, w)
	}
	// A shot at tick 31 from a client whose screen showed tick 24.5 (its input
	// carried netcode.AppendView(nil, 24.5)).
	stamp := netcode.AppendView(nil, 24.5)
	view, _ := netcode.ReadView(stamp, 31)
	at, clamped := h.Clamp(31, view)
	var target Unit
	h.Get(7, at, &target)
	fmt.Printf("rewound to %.1f (clamped %v): target at x=%.2f\n", at, clamped, target.X)
	// A client claiming to have seen tick 2 is held to MaxRewind (12 ticks).
	at, clamped = h.Clamp(31, 2)
	fmt.Printf("rewound to %.1f (clamped %v)\n", at, clamped)
	// Output:
	// rewound to 24.5 (clamped false): target at x=24.50
	// rewound to 19.0 (clamped true)
}

// A Grid gives each client the entities near its own (entity ID = client ID).
func ExampleGrid() {
	reg := snapshot.NewRegistry()
	reg.Register(1, Unit{})
	w := snapshot.NewWorld(reg)
	w.Set(1, 1, Unit{X: 100, Y: 100}) // client 1's player
	w.Set(2, 1, Unit{X: 900, Y: 900}) // client 2's player, far away
	w.Set(3, 1, Unit{X: 110, Y: 100}) // something near client 1
	grid, _ := netcode.NewGrid(netcode.GridConfig{Radius: 50})
	// ServerConfig{Interest: grid} does this for every send.
	grid.Prepare(w, 1)
	for _, c := range []netcode.ClientID{1, 2} {
		rel := grid.Relevance(c)
		var sees []snapshot.EntityID
		w.Range(func(id snapshot.EntityID, typ snapshot.TypeID, q []uint32) bool {
			if rel.Weight(id, typ, q, false) > 0 {
				sees = append(sees, id)
			}
			return true
		})
		fmt.Println("client", c, "receives", sees)
	}
	// Output:
	// client 1 receives [1 3]
	// client 2 receives [2]
}

// Vec is a one-dimensional correction (a Predictor's V).
type Vec float64

func (v Vec) Add(w Vec) Vec                { return v + w }
func (v Vec) Scale(k float64) Vec          { return Vec(float64(v) * k) }
func (v Vec) Len() float64                 { return math.Abs(float64(v)) }
func jump(before, after *Unit) (Vec, bool) { return Vec(before.X - after.X), true }

// A Predictor applies inputs at once and reconciles with the host's state.
func ExamplePredictor() {
	move := func(u *Unit, dx float32) { u.X += dx }
	pred := netcode.NewPredictor(netcode.PredictorConfig[Unit, float32, Vec]{Step: move, Correction: jump})
	pred.Reconcile(Unit{X: 10}, 100) // the host's state after tick 100
	for tick := uint32(101); tick <= 105; tick++ {
		pred.Input(tick, 1) // what SendInput returned, and the input sent
	}
	fmt.Printf("predicted x=%.0f, %d inputs pending\n", pred.State().X, pred.Pending())
	// A snapshot of tick 103: the host missed the input of tick 102.
	pred.Reconcile(Unit{X: 12}, 103)
	fmt.Printf("reconciled x=%.0f, %d pending, drawn at %.0f this frame\n", pred.State().X, pred.Pending(), float64(pred.State().X)+float64(pred.Offset(0)))
	// Output:
	// predicted x=15, 5 inputs pending
	// reconciled x=14, 2 pending, drawn at 15 this frame
}

// toolkitSketch is the README's toolkit snippet ("Write your first game"): the toolkit
// turned on for the first game's Ball. It compiles; the runnable versions are the
// examples above and the tests.
func toolkitSketch(reg *snapshot.Registry, c *netcode.Client, view *snapshot.World, targetID snapshot.EntityID,
	fire byte, push Push, hostBall Ball, snapTick uint32, moveBall func(*Ball, Push), draw func(*Ball)) {
	grid, _ := netcode.NewGrid(netcode.GridConfig{Radius: 40}) // near entity ID == client ID
	srv, _ := netcode.NewServer(netcode.ServerConfig{
		Registry:        reg,
		Interest:        grid,                                   // or netcode.InterestFunc(f)
		BytesPerSecond:  16000,                                  // per client; AdaptToLoss: true backs off on loss
		LagCompensation: netcode.LagCompensation{Enabled: true}, // t.History, rewinds capped at 500 ms
		Step: func(t *netcode.Tick) {
			for _, in := range t.Inputs { // an input: fire byte, then the view stamp
				seen, _ := netcode.ReadView(in.Data[1:], t.N) // the tick the shooter's screen showed
				at, _ := t.History.Clamp(t.N, seen)
				var target Ball
				t.History.Get(targetID, at, &target) // where the shooter saw the target: judge the shot there
			}
		},
	})
	defer srv.Close()

	// client: stamp inputs with what the screen shows, and predict your own ball
	shown, _ := c.Interpolate(view)
	tick, _ := c.SendInput(netcode.AppendView([]byte{fire}, shown))
	pred := netcode.NewPredictor(netcode.PredictorConfig[Ball, Push, Vec]{Step: moveBall})
	pred.Input(tick, push)             // applied at once
	pred.Reconcile(hostBall, snapTick) // on each snapshot (c.Latest): restart and replay
	draw(pred.State())                 // plus pred.Offset(frameDt) with a Correction func
}

var _ = toolkitSketch // compiled, not run
