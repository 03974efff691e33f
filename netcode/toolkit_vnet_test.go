//go:build !js

package netcode

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/volleynet/volley/internal/netsim"
	"github.com/volleynet/volley/snapshot"
)

// TestInterestOnNetwork runs a Grid on a simulated network: a client whose player is
// far from a group of ten moving entities receives none of them; when its player
// jumps next to the group they all appear (whole: no snapshot fails to decode for want
// of a baseline); when it jumps away they are removed. After every snapshot the client
// takes in (each fits one packet), its world equals the host's world at that tick cut
// down to what is relevant to it, without loss and at 5% loss.
func TestInterestOnNetwork(t *testing.T) {
	for _, loss := range []float64{0, 0.05} {
		t.Run(fmt.Sprintf("loss=%v", loss), func(t *testing.T) { interestOnNetwork(t, loss) })
	}
}

func interestOnNetwork(t *testing.T, loss float64) {
	const group = 10
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nw := netsim.ForTest(t, netsim.Config{Loss: loss, Delay: 10 * time.Millisecond, Seed: 3})
	reg := testRegistry(t)
	grid, err := NewGrid(GridConfig{Radius: 20})
	if err != nil {
		t.Fatal(err)
	}
	var me atomic.Uint32
	var near atomic.Bool
	var mu sync.Mutex
	expected := map[uint32]*snapshot.World{} // by tick: what the client should hold
	srv, err := NewServer(ServerConfig{
		Registry:  reg,
		Transport: TransportConfig{Net: nw.MustNet(t)},
		Interest:  grid,
		Step: func(tk *Tick) {
			for _, id := range tk.Joined {
				me.Store(uint32(id))
			}
			id := snapshot.EntityID(me.Load())
			if id == 0 {
				return
			}
			px, py := float32(-500), float32(-500)
			if near.Load() {
				px, py = 500, 495
			}
			exp := snapshot.NewWorld(reg)
			set := func(e snapshot.EntityID, p Player, relevant bool) {
				if err := tk.World.Set(e, playerType, p); err != nil {
					panic(err)
				}
				if relevant {
					_ = exp.Set(e, playerType, p)
				}
			}
			set(id, Player{X: px, Y: py}, true)
			for i := range group {
				f := float64(tk.N)/10 + float64(i)
				set(1000+snapshot.EntityID(i), Player{X: 500 + float32(2*math.Sin(f)), Y: 500 + float32(2*math.Cos(f)), HP: int(tk.N % 101)}, near.Load())
			}
			mu.Lock()
			expected[tk.N] = exp
			delete(expected, tk.N-600)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _ := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: TransportConfig{Net: nw.MustNet(t)}})
	defer c.Close()

	w := snapshot.NewWorld(reg)
	// phase waits until the client's snapshots show the group (or not) as wanted, then
	// requires that many more; every snapshot seen must equal the relevant subset.
	phase := func(name string, wantGroup bool) {
		t.Helper()
		deadline := time.NewTimer(30 * time.Second)
		defer deadline.Stop()
		good := 0
		for good < 15 {
			select {
			case <-c.Updates():
			case <-c.Done():
				t.Fatalf("%s: client closed: %v", name, c.Err())
			case <-deadline.C:
				t.Fatalf("%s: after 30 s only %d snapshots showed the group present=%v", name, good, wantGroup)
			}
			tick, ok := c.Latest(w)
			if !ok {
				continue
			}
			mu.Lock()
			exp := expected[tick]
			mu.Unlock()
			if exp == nil {
				continue // a snapshot before the player existed
			}
			if !w.Equal(exp) {
				t.Fatalf("%s, tick %d: the client holds %d entities, %d are relevant to it (or values differ)", name, tick, w.Len(), exp.Len())
			}
			if _, _, has := w.Quantized(1000); has == wantGroup {
				good++
			}
		}
	}
	phase("far", false)
	near.Store(true)
	phase("near", true)
	near.Store(false)
	phase("far again", false)
	if n := c.Stats().Dropped(DropSnapshotDecode); n != 0 {
		t.Errorf("%d snapshots failed to decode: an entering entity was not sent whole", n)
	}
}

// TestBandwidthBudgetOnNetwork caps a client at 3,000 bytes per second while 60
// entities change every tick (the world alone needs about twice that): over a 10 s
// window, no second of sends (30 in a row) exceeds the budget by more than one packet,
// the budget visibly defers updates, and every entity is still updated at least every
// twelve sends (its state on the client is never older than the twelfth-last send;
// counted in sends, since a loaded host may skip ticks).
func TestBandwidthBudgetOnNetwork(t *testing.T) {
	const (
		budgetBps = 3000
		npcs      = 60
		window    = 300 // sends: 10 s at 30 Hz
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	nw := netsim.ForTest(t, netsim.Config{Delay: 10 * time.Millisecond, Seed: 5})
	reg := testRegistry(t)
	type send struct {
		tick     uint32
		bytes    int
		deferred int
	}
	var mu sync.Mutex
	var sends []send
	poke := make(chan struct{}, 1)
	cfg := ServerConfig{
		Registry:       reg,
		Transport:      TransportConfig{Net: nw.MustNet(t)},
		BytesPerSecond: budgetBps,
		Step: func(tk *Tick) {
			// X tells the tick of an entity's state: -500 + 0.01 × tick; Y and
			// HP jump about unpredictably, so every entity costs a few bytes
			// every send (about 10 KB/s for the world).
			for i := range npcs {
				h := uint32(tk.N)*7919 + uint32(i)*104729
				p := Player{X: -500 + 0.01*float32(tk.N%100000), Y: float32(h%2000)/10 - 100, HP: int(h % 101)}
				if err := tk.World.Set(1000+snapshot.EntityID(i), playerType, p); err != nil {
					panic(err)
				}
			}
		},
	}
	cfg.observeSnapshot = func(_ ClientID, tick uint32, bytes int, st snapshot.EncodeStats) {
		mu.Lock()
		sends = append(sends, send{tick, bytes, st.Deferred})
		mu.Unlock()
		select {
		case poke <- struct{}{}:
		default:
		}
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _ := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: TransportConfig{Net: nw.MustNet(t)}})
	defer c.Close()

	// Watch the client's world until every entity has arrived, then measure a window.
	w := snapshot.NewWorld(reg)
	var p Player
	start := -1                             // index in sends where the window starts
	type seen struct{ snap, oldest uint32 } // a snapshot's tick, its oldest entity state
	var views []seen
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case <-c.Updates():
		case <-poke:
		case <-c.Done():
			t.Fatalf("client closed: %v", c.Err())
		case <-deadline.C:
			mu.Lock()
			n := len(sends)
			mu.Unlock()
			t.Fatalf("after 60 s: %d sends recorded, window started at %d", n, start)
		}
		mu.Lock()
		n := len(sends)
		mu.Unlock()
		if start >= 0 && n >= start+window {
			break
		}
		tick, ok := c.Latest(w)
		if !ok || w.Len() < npcs {
			continue
		}
		if start < 0 {
			start = n
		}
		v := seen{snap: tick % 100000, oldest: tick % 100000}
		for i := range npcs {
			if found, err := w.Get(1000+snapshot.EntityID(i), &p); !found || err != nil {
				t.Fatalf("entity %d gone: %v", i, err)
			}
			v.oldest = min(v.oldest, uint32(math.Round(float64(p.X+500)/0.01)))
		}
		views = append(views, v)
	}
	mu.Lock()
	win := append([]send(nil), sends[start:start+window]...)
	all := append([]send(nil), sends...)
	mu.Unlock()
	// An entity's age in sends: the sends after its state's tick, up to the snapshot's.
	maxAge := 0
	for _, v := range views {
		age := 0
		for _, s := range all {
			if t := s.tick % 100000; t > v.oldest && t <= v.snap {
				age++
			}
		}
		maxAge = max(maxAge, age)
	}
	worst, total, deferred := 0, 0, 0
	for i := range win {
		total += win[i].bytes
		deferred += win[i].deferred
		if i+30 <= len(win) {
			s := 0
			for _, x := range win[i : i+30] {
				s += x.bytes
			}
			worst = max(worst, s)
		}
	}
	t.Logf("budget %d B/s: busiest second %d bytes, %d bytes over %d sends, %d updates deferred, oldest entity state on the client %d sends old",
		budgetBps, worst, total, window, deferred, maxAge)
	if worst > budgetBps+MaxUnreliableBytes {
		t.Errorf("%d bytes in 30 consecutive sends, budget %d B/s plus one packet", worst, budgetBps)
	}
	if deferred == 0 || srv.Totals().BudgetDeferred == 0 {
		t.Error("the budget deferred nothing: the test does not exercise it")
	}
	if maxAge > 12 {
		t.Errorf("an entity's state on the client was %d sends old, want at most 12", maxAge)
	}
}

// TestBudgetAdaptsToLoss: with AdaptToLoss, a client on a link losing 15% of its
// packets soon has its budget cut below what is configured.
func TestBudgetAdaptsToLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nw := netsim.ForTest(t, netsim.Config{Loss: 0.15, Delay: 10 * time.Millisecond, Seed: 11})
	reg := testRegistry(t)
	srv, err := NewServer(ServerConfig{
		Registry:       reg,
		Transport:      TransportConfig{Net: nw.MustNet(t)},
		BytesPerSecond: 20000,
		AdaptToLoss:    true,
		Step: func(tk *Tick) {
			_ = tk.World.Set(1, playerType, Player{X: float32(tk.N % 1000)})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, id := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: TransportConfig{Net: nw.MustNet(t)}})
	defer c.Close()
	deadline := time.NewTimer(40 * time.Second)
	defer deadline.Stop()
	for {
		if b, ok := srv.ClientBudget(id); ok && b <= 15000 {
			t.Logf("budget cut to %.0f B/s", b)
			return
		}
		select {
		case <-c.Updates():
		case <-c.Done():
			t.Fatalf("client closed: %v", c.Err())
		case <-deadline.C:
			b, _ := srv.ClientBudget(id)
			t.Fatalf("after 40 s at 15%% loss the budget is still %.0f B/s", b)
		}
	}
}

// TestPredictionConverges: a client predicts its own body with a Predictor over a link
// with 150 ms RTT and 5% loss, moving for two seconds; once its inputs stop, the
// prediction settles exactly on the host's state.
func TestPredictionConverges(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nw := netsim.ForTest(t, netsim.Config{Loss: 0.05, Delay: 75 * time.Millisecond, Seed: 9})
	reg := testRegistry(t)
	var mu sync.Mutex
	var host line // the client's body as the host has it
	moved := make(chan struct{}, 1)
	srv, err := NewServer(ServerConfig{
		Registry:  reg,
		Transport: TransportConfig{Net: nw.MustNet(t)},
		Step: func(tk *Tick) {
			mu.Lock()
			defer mu.Unlock()
			for _, in := range tk.Inputs {
				lineStep(&host, push{DX: float64(int8(in.Data[0])) / 4})
			}
			if err := tk.World.Set(1, playerType, Player{X: float32(host.X)}); err != nil {
				panic(err)
			}
			select {
			case moved <- struct{}{}:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _ := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: TransportConfig{Net: nw.MustNet(t)}})
	defer c.Close()

	pred := newLinePredictor()
	w := snapshot.NewWorld(reg)
	var p Player
	reconcile := func() {
		tick, ok := c.Latest(w)
		if !ok {
			return
		}
		if found, _ := w.Get(1, &p); found {
			pred.Reconcile(line{X: float64(p.X)}, tick)
		}
	}
	frames := time.NewTicker(time.Second / 60)
	defer frames.Stop()
	for f := range 120 {
		select {
		case <-frames.C:
		case <-c.Done():
			t.Fatalf("client closed: %v", c.Err())
		}
		select {
		case <-c.Updates():
			reconcile()
		default:
		}
		dx := int8(f%9 - 3) // quarter units, mostly forward
		tick, err := c.SendInput([]byte{byte(dx)})
		if err != nil {
			t.Fatal(err)
		}
		pred.Input(tick, push{DX: float64(dx) / 4})
	}
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case <-c.Updates():
			reconcile()
		case <-moved:
		case <-deadline.C:
			mu.Lock()
			h := host.X
			mu.Unlock()
			t.Fatalf("30 s after the inputs stopped: predicted %v, host %v, %d inputs pending", pred.State().X, h, pred.Pending())
		}
		mu.Lock()
		h := host.X
		mu.Unlock()
		if pred.Synced() && pred.Pending() == 0 && pred.State().X == h && h != 0 {
			t.Logf("converged at %v after %d corrections", h, pred.Corrections())
			return
		}
	}
}
