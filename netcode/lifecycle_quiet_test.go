//go:build !js

package netcode

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/volleynet/volley/internal/netsim"
	"github.com/volleynet/volley/snapshot"
)

// quietHost is a host on a simulated network whose tick goroutine runs a test's
// action after every tick: bursts and switches are timed in host ticks, not on the
// test goroutine's clock.
type quietHost struct {
	nw     *netsim.Network
	roam   *netsim.Roaming
	srv    *Server
	c      *Client
	id     ClientID
	rec    *lifeRecorder
	action atomic.Pointer[func(n uint32)]
}

func newQuietHost(ctx context.Context, t *testing.T, seed int64) *quietHost {
	t.Helper()
	h := &quietHost{nw: netsim.ForTest(t, netsim.Config{Seed: seed}), rec: newLifeRecorder()}
	var err error
	if h.roam, err = h.nw.NewRoaming(); err != nil {
		t.Fatal(err)
	}
	reg := testRegistry(t)
	h.srv, err = NewServer(ServerConfig{
		Registry:  reg,
		Transport: TransportConfig{Net: h.nw.MustNet(t)},
		Step:      h.rec.step(counterGame(t, reg, h.rec.recorder)),
		OnTick: func(n uint32, _ time.Duration) {
			if f := h.action.Load(); f != nil {
				(*f)(n)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.srv.Close() })
	// The client's restart settings are the defaults: Quiet is what is tested.
	h.c, h.id = connect(ctx, t, h.srv, ClientConfig{Registry: reg, Transport: TransportConfig{Net: h.roam}})
	t.Cleanup(func() { h.c.Close() })
	waitSnapshots(t, h.c, 30, "snapshots before the test")
	return h
}

// sendEvery is the number of host ticks per send interval.
func (h *quietHost) sendEvery() uint32 { return uint32(h.srv.cfg.TickRate / h.srv.cfg.SendRate) }

// waitSnapshots waits until the client has decoded n more snapshot packets.
func waitSnapshots(t testing.TB, c *Client, n uint64, what string) {
	t.Helper()
	want := c.Stats().Snapshots + n
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for c.Stats().Snapshots < want {
		select {
		case <-c.Updates():
		case <-c.Done():
			t.Fatalf("client ended waiting for %s: %v", what, c.Err())
		case <-deadline.C:
			t.Fatalf("waiting for %s: %d of %d snapshots", what, c.Stats().Snapshots+n-want, n)
		}
	}
}

// TestQuietRestart: the client restarts ICE when the host goes quiet for
// RestartConfig.Quiet send intervals (default 15), counted in host ticks here. A
// loss burst of 9 intervals (300 ms at 30 Hz) on a network that loses 5% of packets
// does not make it restart; a network switch that nothing reports does, within
// three times Quiet intervals (ICE alone takes over 100: 3 s to call the path
// disconnected, then After), and the session carries on.
func TestQuietRestart(t *testing.T) {
	t.Run("loss burst", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		h := newQuietHost(ctx, t, 17)
		h.nw.SetLoss(0.05)
		waitSnapshots(t, h.c, 30, "snapshots at 5% loss")
		const burst = 9 // send intervals
		ended := make(chan struct{})
		var start uint32
		act := func(n uint32) {
			switch {
			case start == 0:
				start = n
				h.nw.SetBlackhole(true)
			case n-start >= burst*h.sendEvery():
				h.nw.SetBlackhole(false)
				h.action.Store(nil)
				close(ended)
			}
		}
		h.action.Store(&act)
		select {
		case <-ended:
		case <-ctx.Done():
			t.Fatal("the burst never ended")
		}
		// A restart would start before the snapshots came back: once they have,
		// none will.
		waitSnapshots(t, h.c, 60, "snapshots after the burst")
		if st := h.c.Stats(); st.Restarts != 0 || st.QuietRestarts != 0 {
			t.Fatalf("client stats %+v after a %d-interval loss burst: restarted (%d, %d for quiet), want none", st, burst, st.Restarts, st.QuietRestarts)
		}
	})
	t.Run("network switch", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		h := newQuietHost(ctx, t, 19)
		var switched, restarted uint32
		done := make(chan struct{})
		act := func(n uint32) {
			switch {
			case switched == 0:
				if err := h.roam.Switch(); err != nil {
					panic(err)
				}
				switched = n
			case h.c.Stats().Restarts > 0:
				restarted = n
				h.action.Store(nil)
				close(done)
			}
		}
		h.action.Store(&act)
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatalf("no restart after the switch: client stats %+v", h.c.Stats())
		}
		const quiet = 15 // the documented default
		if d := (RestartConfig{}).withDefaults().Quiet; d != quiet {
			t.Fatalf("default Quiet %d, want %d", d, quiet)
		}
		intervals := (restarted - switched) / h.sendEvery()
		t.Logf("restart %d send intervals after the switch (Quiet %d)", intervals, quiet)
		if intervals > uint32(3*quiet) {
			t.Fatalf("the restart started %d send intervals after the switch, want at most %d", intervals, 3*quiet)
		}
		if st := h.c.Stats(); st.QuietRestarts != 1 {
			t.Fatalf("client stats %+v: %d quiet restarts, want 1", st, st.QuietRestarts)
		}
		const commands = 5
		for i := range commands {
			if err := h.c.Send(cmdMsg{Seq: i}); err != nil {
				t.Fatal(err)
			}
		}
		h.rec.waitFor(t, 30*time.Second, "every command", func() bool { return len(h.rec.commands[h.id]) == commands })
		waitWorld(t, h.c, 30*time.Second, "the world with every command", func(w *snapshot.World) bool {
			var p Player
			ok, err := w.Get(snapshot.EntityID(h.id), &p)
			return ok && err == nil && p.X == commands
		})
		pollUntil(t, 20*time.Second, "the client to be connected", func() bool { return h.c.State() == LinkConnected })
		h.rec.mu.Lock()
		defer h.rec.mu.Unlock()
		if len(h.rec.left) > 0 || len(h.rec.suspended) > 0 {
			t.Fatalf("departures %+v, suspensions %v: want none", h.rec.left, h.rec.suspended)
		}
	})
}
