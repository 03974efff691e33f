package client_test

import (
	"testing"

	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/game"
)

// TestPredictionConverges runs a host and a predicting client over simulated links
// with latency and input loss, tick by tick: the client stamps each input for a tick
// ahead of the host (as netcode does), the host applies what arrived in time for each
// tick (repeating the previous input for a few ticks when one is missing, as the
// arena's host does), and its state after each tick comes back as a snapshot. Without
// loss the prediction is exact; with loss it corrects itself and settles exactly on
// the host's position once the inputs stop.
func TestPredictionConverges(t *testing.T) {
	const dt = 1.0 / 60
	for _, tc := range []struct {
		name      string
		latency   int // one-way, in ticks
		dropEvery int // drop every n-th input (0: none)
		wantExact bool
	}{
		{"no latency", 0, 0, true},
		{"100 ms round trip", 3, 0, true},
		{"250 ms round trip", 8, 0, true},
		{"250 ms round trip, 10% input loss", 8, 10, false},
		{"500 ms round trip, 25% input loss", 15, 4, false},
		{"large map", 8, 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := game.DefaultMap
			start := game.Vec{X: 20, Y: 18}
			if tc.name == "large map" {
				m = game.NewMap(2)
				start = game.Vec{X: 60, Y: 30} // walks across tile borders
			}
			host := &game.State{Map: m}
			host.AddPlayer(1, "").Pos = start
			pr := client.NewPredictor(m, dt)
			type input struct {
				tick uint32
				in   game.Input
			}
			type snap struct {
				tick uint32
				p    game.Player
			}
			var up []struct {
				at int
				input
			}
			var down []struct {
				at int
				snap
			}
			arrived := map[uint32]game.Input{}
			var last game.Input
			lastTick := uint32(0)
			pattern := []uint8{game.ButtonRight, game.ButtonRight | game.ButtonDown, game.ButtonUp, game.ButtonLeft | game.ButtonUp, 0, game.ButtonDown}
			sent := 0
			lead := uint32(tc.latency + 2) // stamped for the tick at which it will have arrived, plus a margin
			for now := 1; now < 900; now++ {
				n := uint32(now)
				// Client: snapshots that arrived, then this frame's input.
				for len(down) > 0 && down[0].at <= now {
					pr.Reconcile(down[0].p, down[0].tick)
					down = down[1:]
				}
				buttons := uint8(0)
				if now < 700 {
					buttons = pattern[(now/40)%len(pattern)]
				}
				in := input{n + lead, game.Input{Buttons: buttons, Aim: float64(now) / 50}}
				pr.Input(in.tick, in.in)
				sent++
				if tc.dropEvery == 0 || sent%tc.dropEvery != 0 {
					up = append(up, struct {
						at int
						input
					}{now + tc.latency, in})
				}
				// Host: inputs that arrived, then tick n.
				for len(up) > 0 && up[0].at <= now {
					arrived[up[0].tick] = up[0].in
					up = up[1:]
				}
				gi, ok := arrived[n]
				switch {
				case ok:
					last, lastTick = gi, n
				case n-lastTick <= game.MaxInputRepeat && lastTick > 0:
					gi, ok = last, true
				}
				inputs := map[game.PlayerID]game.Input{}
				if ok {
					inputs[1] = gi
				}
				game.Step(host, inputs, dt, nil)
				down = append(down, struct {
					at int
					snap
				}{now + tc.latency, snap{n, *host.Player(1)}})
			}
			got, want := pr.State().Pos, host.Player(1).Pos
			if got.Sub(want).Len() > 1e-9 {
				t.Fatalf("prediction ended at %+v, host at %+v", got, want)
			}
			if tc.wantExact && pr.Corrections() != 0 {
				t.Errorf("%d corrections without loss; prediction should be exact", pr.Corrections())
			}
			if !tc.wantExact && pr.Corrections() == 0 {
				t.Error("no corrections despite lost inputs: the test does not exercise reconciliation")
			}
		})
	}
}
