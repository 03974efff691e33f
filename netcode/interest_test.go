//go:build !js

package netcode

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/volleynet/volley/snapshot"
)

// clock is an entity without a position: relevant to everyone.
type matchClock struct {
	Seconds int `snap:"int,min=0,max=100000"`
}

const clockType snapshot.TypeID = 3

func interestRegistry(t testing.TB) *snapshot.Registry {
	t.Helper()
	reg := testRegistry(t)
	if _, err := reg.Register(clockType, matchClock{}); err != nil {
		t.Fatal(err)
	}
	return reg
}

// weights asks in about every entity of w for client c, as an encoder would.
func weights(in Interest, c ClientID, w *snapshot.World, known func(snapshot.EntityID) bool) map[snapshot.EntityID]uint32 {
	rel := in.Relevance(c)
	out := map[snapshot.EntityID]uint32{}
	w.Range(func(id snapshot.EntityID, typ snapshot.TypeID, q []uint32) bool {
		if wt := rel.Weight(id, typ, q, known(id)); wt > 0 {
			out[id] = wt
		}
		return true
	})
	return out
}

// TestGridMatchesBruteForce scatters entities over a large map and checks, for many
// clients, that the grid selects exactly the entities within Radius of the client's
// player (or within Leave for those it holds), weights them by distance, and always
// includes entities without a position; a client without a player gets only those.
func TestGridMatchesBruteForce(t *testing.T) {
	reg := interestRegistry(t)
	g, err := NewGrid(GridConfig{Radius: 60, CellSize: 25})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	w := snapshot.NewWorld(reg)
	pos := map[snapshot.EntityID][2]float64{}
	for round := range 5 {
		w.Clear()
		clear(pos)
		for id := snapshot.EntityID(1); id <= 400; id++ {
			x, y := rng.Float64()*1000-500, rng.Float64()*1000-500
			if round == 4 { // everything in one corner: cells of varied fill
				x, y = x/10+400, y/10+400
			}
			if err := w.Set(id, playerType, Player{X: float32(x), Y: float32(y)}); err != nil {
				t.Fatal(err)
			}
			_, q, _ := w.Quantized(id)
			f := reg.Type(playerType).Fields()
			pos[id] = [2]float64{f[0].Min + float64(q[0])*f[0].Prec, f[1].Min + float64(q[1])*f[1].Prec}
		}
		_ = w.Set(5000, clockType, matchClock{Seconds: round})
		g.Prepare(w, uint32(round))
		for c := ClientID(1); c <= 401; c += 20 {
			known := func(id snapshot.EntityID) bool { return id%2 == 0 }
			got := weights(g, c, w, known)
			me, ok := pos[snapshot.EntityID(c)]
			for id := snapshot.EntityID(1); id <= 400; id++ {
				want := uint32(0)
				if ok {
					d := math.Hypot(pos[id][0]-me[0], pos[id][1]-me[1])
					switch {
					case d <= 60:
						want = 1 + uint32(math.Round(3*(1-d/60)))
					case d <= 75 && known(id):
						want = 1
					}
				}
				if got[id] != want {
					t.Fatalf("round %d client %d entity %d: weight %d, want %d", round, c, id, got[id], want)
				}
			}
			if got[5000] != 1 {
				t.Fatalf("round %d client %d: the clock (no position) has weight %d, want 1", round, c, got[5000])
			}
			if !ok && len(got) != 1 {
				t.Fatalf("client %d without a player receives %d entities, want only the clock", c, len(got))
			}
		}
	}
}

// TestGridFocus: a Focus function replaces the default (the client's own entity).
func TestGridFocus(t *testing.T) {
	reg := interestRegistry(t)
	g, err := NewGrid(GridConfig{Radius: 10, Focus: func(c ClientID, w *snapshot.World) (float64, float64, bool) {
		return float64(c) * 100, 0, true
	}})
	if err != nil {
		t.Fatal(err)
	}
	w := snapshot.NewWorld(reg)
	_ = w.Set(1, playerType, Player{X: 100})
	_ = w.Set(2, playerType, Player{X: 205})
	g.Prepare(w, 1)
	none := func(snapshot.EntityID) bool { return false }
	if got := weights(g, 1, w, none); len(got) != 1 || got[1] != 4 {
		t.Errorf("client 1 (at 100): %v, want entity 1 at weight 4", got)
	}
	if got := weights(g, 2, w, none); len(got) != 1 || got[2] == 0 {
		t.Errorf("client 2 (at 200): %v, want entity 2", got)
	}
	if _, err := NewGrid(GridConfig{}); err == nil {
		t.Error("a grid without a radius was accepted")
	}
}

// TestInterestFunc passes the client, the prepared world and each entity to the callback.
func TestInterestFunc(t *testing.T) {
	reg := interestRegistry(t)
	w := snapshot.NewWorld(reg)
	for id := snapshot.EntityID(1); id <= 6; id++ {
		_ = w.Set(id, playerType, Player{X: float32(id)})
	}
	in := InterestFunc(func(c ClientID, cw *snapshot.World, id snapshot.EntityID, typ snapshot.TypeID, q []uint32, known bool) uint32 {
		if cw != w || typ != playerType {
			t.Errorf("callback got world %p type %d", cw, typ)
		}
		if uint32(id)%uint32(c) == 0 {
			return uint32(c)
		}
		return 0
	})
	in.Prepare(w, 1)
	got := weights(in, 3, w, func(snapshot.EntityID) bool { return false })
	if len(got) != 2 || got[3] != 3 || got[6] != 3 {
		t.Errorf("client 3: %v, want entities 3 and 6 at weight 3", got)
	}
}

// TestGridAllocs: preparing and selecting allocate nothing in the steady state.
func TestGridAllocs(t *testing.T) {
	reg := interestRegistry(t)
	g, err := NewGrid(GridConfig{Radius: 50})
	if err != nil {
		t.Fatal(err)
	}
	w := snapshot.NewWorld(reg)
	for id := snapshot.EntityID(1); id <= 300; id++ {
		_ = w.Set(id, playerType, Player{X: float32(id%20) * 30, Y: float32(id/20) * 30})
	}
	tick := uint32(0)
	send := func() {
		tick++
		g.Prepare(w, tick)
		for c := ClientID(1); c <= 300; c += 7 {
			rel := g.Relevance(c)
			w.Range(func(id snapshot.EntityID, typ snapshot.TypeID, q []uint32) bool {
				rel.Weight(id, typ, q, false)
				return true
			})
		}
	}
	for range 10 {
		send()
	}
	if a := allocsPerRun(50, send); a != 0 {
		t.Fatalf("%v allocations per send tick", a)
	}
}

// TestInterestForgetsClients: the per-client state of clients no longer asked about is
// dropped after perClientIdle ticks, so it stays bounded as clients come and go.
func TestInterestForgetsClients(t *testing.T) {
	reg := interestRegistry(t)
	g, err := NewGrid(GridConfig{Radius: 10})
	if err != nil {
		t.Fatal(err)
	}
	w := snapshot.NewWorld(reg)
	_ = w.Set(1, playerType, Player{})
	tick := uint32(0)
	for c := ClientID(1); c <= 100; c++ { // a hundred clients, each seen once
		tick += 64
		g.Prepare(w, tick)
		g.Relevance(c)
		g.Relevance(1) // client 1 stays
	}
	g.clients.mu.Lock()
	n, kept := len(g.clients.m), g.clients.m[1] != nil
	g.clients.mu.Unlock()
	if want := perClientIdle/64 + 2; n > want || !kept {
		t.Fatalf("%d clients' state kept (client 1 kept: %v), want at most %d", n, kept, want)
	}
}

// TestGridCellsBounded: a world spread far wider than the cells gets larger cells, not
// an unbounded table.
func TestGridCellsBounded(t *testing.T) {
	reg := interestRegistry(t)
	g, err := NewGrid(GridConfig{Radius: 0.5, CellSize: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	w := snapshot.NewWorld(reg)
	_ = w.Set(1, playerType, Player{X: -999, Y: -999})
	_ = w.Set(2, playerType, Player{X: 999, Y: 999})
	_ = w.Set(3, playerType, Player{X: 999.2, Y: 999})
	g.Prepare(w, 1)
	if cells := g.nx * g.ny; cells > maxGridCells {
		t.Fatalf("%d cells, want at most %d", cells, maxGridCells)
	}
	got := weights(g, 2, w, func(snapshot.EntityID) bool { return false })
	if len(got) != 2 || got[2] == 0 || got[3] == 0 {
		t.Fatalf("client 2 with larger cells: %v, want entities 2 and 3", got)
	}
}
