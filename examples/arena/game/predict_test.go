package game

import (
	"math"
	"testing"
)

// link is a one-way delay line of lat ticks that drops the messages drop selects.
type link[T any] struct {
	lat   int
	queue []struct {
		at int
		v  T
	}
}

func (l *link[T]) send(now int, v T) {
	l.queue = append(l.queue, struct {
		at int
		v  T
	}{now + l.lat, v})
}

func (l *link[T]) recv(now int) []T {
	var out []T
	for len(l.queue) > 0 && l.queue[0].at <= now {
		out = append(out, l.queue[0].v)
		l.queue = l.queue[1:]
	}
	return out
}

// TestPredictionConverges runs a host and a predicting client over links with latency
// and input loss: the client's prediction must never be more than a little off while
// inputs flow, and must equal the host's position exactly once the inputs stop.
func TestPredictionConverges(t *testing.T) {
	tests := []struct {
		name      string
		latency   int // one-way, in ticks
		dropEvery int // drop every n-th input on its way to the host (0: none)
		wantExact bool
	}{
		{"no latency", 0, 0, true},
		{"100 ms round trip", 3, 0, true},
		{"250 ms round trip", 8, 0, true},
		{"250 ms round trip, 10% input loss", 8, 10, false},
		{"500 ms round trip, 25% input loss", 15, 4, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host := newState(Vec{20, 18}, Vec{50, 5})
			pr := NewPredictor(dt)
			up := &link[Input]{lat: tc.latency}
			down := &link[Player]{lat: tc.latency}
			pattern := []uint8{ButtonRight, ButtonRight | ButtonDown, ButtonUp, ButtonLeft | ButtonUp, 0, ButtonDown}
			sent := 0
			for tick := 0; tick < 800; tick++ {
				// Client: reconcile with whatever arrived, then predict the next input.
				for _, p := range down.recv(tick) {
					pr.Reconcile(p)
				}
				// Clients send an input every tick, idle ones too, so acks keep coming.
				buttons := uint8(0)
				if tick < 700 {
					buttons = pattern[(tick/40)%len(pattern)]
				}
				in := pr.Predict(buttons, float64(tick)/50)
				sent++
				if tc.dropEvery == 0 || sent%tc.dropEvery != 0 {
					up.send(tick, in)
				}
				// Host: apply the inputs that arrived, one tick each, then "snapshot".
				arrived := up.recv(tick)
				if len(arrived) == 0 {
					Step(host, nil, dt, nil)
				}
				for _, in := range arrived {
					Step(host, map[PlayerID]Input{1: in}, dt, nil)
				}
				down.send(tick, *host.Player(1))
			}
			got, want := pr.Player.Pos, host.Player(1).Pos
			if !near(got, want) {
				t.Fatalf("prediction ended at %+v, host at %+v", got, want)
			}
			if pr.Pending() > 2*tc.latency+1 {
				t.Errorf("%d inputs still pending", pr.Pending())
			}
			if tc.wantExact && pr.Corrections != 0 {
				t.Errorf("%d corrections without loss; prediction should be exact", pr.Corrections)
			}
			if !tc.wantExact && pr.Corrections == 0 {
				t.Error("no corrections despite lost inputs: the test does not exercise reconciliation")
			}
		})
	}
}

// TestReconcileCorrects checks that a client whose prediction is wrong (it thinks it
// is somewhere else) is pulled onto the host's state plus its unacknowledged inputs.
func TestReconcileCorrects(t *testing.T) {
	pr := NewPredictor(dt)
	pr.Reconcile(Player{Pos: Vec{10, 10}, Alive: true, Spawn: 1})
	for i := 0; i < 6; i++ {
		pr.Predict(ButtonRight, 0)
	}
	// The host applied only the first 2 inputs and saw the player elsewhere.
	host := Player{Pos: Vec{9, 10}, Alive: true, Spawn: 1, LastInput: 2}
	pr.Reconcile(host)
	want := Vec{9 + 4*RoundPos(PlayerSpeed*dt), 10}
	if !near(pr.Player.Pos, want) {
		t.Errorf("reconciled to %+v, want %+v", pr.Player.Pos, want)
	}
	if pr.Pending() != 4 || pr.Corrections != 1 {
		t.Errorf("pending %d corrections %d, want 4 and 1", pr.Pending(), pr.Corrections)
	}
	// The correction is drawn as a glide that decays to the true position.
	first := pr.RenderPos(1.0 / 60)
	if near(first, pr.Player.Pos) {
		t.Error("render position jumped straight to the correction")
	}
	var last Vec
	for i := 0; i < 60; i++ {
		last = pr.RenderPos(1.0 / 60)
	}
	if !near(last, pr.Player.Pos) {
		t.Errorf("render position %+v did not settle on %+v", last, pr.Player.Pos)
	}
	// An older state arriving late is ignored.
	pr.Reconcile(Player{Pos: Vec{1, 1}, Alive: true, Spawn: 1, LastInput: 1})
	if near(pr.Player.Pos, Vec{1, 1}) {
		t.Error("a stale host state overrode a newer one")
	}
	// A respawn (teleport) snaps without gliding.
	pr.Reconcile(Player{Pos: Vec{60, 32}, Alive: true, Spawn: 2, LastInput: 6})
	if p := pr.RenderPos(0); !near(p, Vec{60, 32}) {
		t.Errorf("after a respawn render position is %+v, want the spawn point", p)
	}
}

func TestPredictBeforeSync(t *testing.T) {
	pr := NewPredictor(dt)
	for i := 0; i < MaxPending+10; i++ {
		pr.Predict(ButtonLeft, 0)
	}
	if pr.Synced() || pr.Pending() != MaxPending {
		t.Fatalf("synced %v pending %d, want false and %d", pr.Synced(), pr.Pending(), MaxPending)
	}
	pr.Reconcile(Player{Pos: Vec{30, 3}, Alive: true, LastInput: MaxPending})
	want := Vec{30 - 10*RoundPos(PlayerSpeed*dt), 3}
	if !near(pr.Player.Pos, want) {
		t.Errorf("after sync at %+v, want %+v (10 unacknowledged inputs replayed)", pr.Player.Pos, want)
	}
}

func TestLerpAngle(t *testing.T) {
	tests := []struct{ a, b, t, want float64 }{
		{0, 1, 0.5, 0.5},
		{0.1, 2*math.Pi - 0.1, 0.5, 0},
		{math.Pi - 0.1, -math.Pi + 0.1, 0.5, math.Pi},
	}
	for _, tc := range tests {
		got := math.Remainder(LerpAngle(tc.a, tc.b, tc.t)-tc.want, 2*math.Pi)
		if math.Abs(got) > 1e-9 {
			t.Errorf("LerpAngle(%v, %v, %v) off by %v", tc.a, tc.b, tc.t, got)
		}
	}
}
