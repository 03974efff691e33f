//go:build !js

package netcode

import (
	"context"
	"testing"
	"time"

	"github.com/volleynet/volley/internal/netsim"
	"github.com/volleynet/volley/snapshot"
)

// counterGame is a host whose world holds one entity per client, its X counting the
// commands that client sent; it records what Step saw.
func counterGame(t *testing.T, reg *snapshot.Registry, rec *recorder) func(tk *Tick) {
	return func(tk *Tick) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, id := range tk.Joined {
			rec.joined = append(rec.joined, id)
			if err := tk.World.Set(snapshot.EntityID(id), playerType, Player{}); err != nil {
				panic(err)
			}
		}
		rec.left = append(rec.left, tk.Left...)
		for _, c := range tk.Commands {
			var m cmdMsg
			if err := c.Decode(&m); err != nil {
				panic(err)
			}
			rec.commands[c.Client] = append(rec.commands[c.Client], m.Seq)
			var p Player
			tk.World.Get(snapshot.EntityID(c.Client), &p)
			p.X++
			if err := tk.World.Set(snapshot.EntityID(c.Client), playerType, p); err != nil {
				panic(err)
			}
		}
		if len(tk.Joined)+len(tk.Left)+len(tk.Commands) > 0 {
			rec.poke()
		}
	}
}

// TestICERestartBlackhole drops every packet of the client for 3 s. ICE notices (it is
// told to after 1 s of silence here), one side restarts ICE through the signaling path
// while the network is still down, and the session recovers once the network returns:
// no departure, the commands sent during the blackhole arrive exactly once and in
// order, and the client's world converges. Either the client restarts (as it normally
// does, first) or, with the client's restarts off, the host does.
func TestICERestartBlackhole(t *testing.T) {
	for _, tc := range []struct {
		name         string
		client, host RestartConfig
		clientStarts bool
	}{
		{"client restarts", RestartConfig{After: 200 * time.Millisecond}, RestartConfig{}, true},
		{"host restarts", RestartConfig{Attempts: -1}, RestartConfig{After: 200 * time.Millisecond}, false},
	} {
		t.Run(tc.name, func(t *testing.T) { testBlackhole(t, tc.client, tc.host, tc.clientStarts) })
	}
}

func testBlackhole(t *testing.T, clientRestart, hostRestart RestartConfig, clientStarts bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nw := netsim.ForTest(t, netsim.Config{Delay: 5 * time.Millisecond, Seed: 5})
	reg := testRegistry(t)
	rec := newRecorder()
	fast := TransportConfig{ICEDisconnectedTimeout: time.Second, ICEKeepaliveInterval: 200 * time.Millisecond}
	hostTr, clientTr := fast, fast
	hostTr.Net, clientTr.Net = nw.MustNet(t), nw.MustNet(t)
	srv, err := NewServer(ServerConfig{Registry: reg, Transport: hostTr, Restart: hostRestart, Step: counterGame(t, reg, rec)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, id := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: clientTr, Restart: clientRestart})
	defer c.Close()
	waitWorld(t, c, 20*time.Second, "a first snapshot", func(*snapshot.World) bool { return true })

	nw.SetLoss(1)
	blackholeEnds := time.After(3 * time.Second)
	const commands = 20
	for i := range commands {
		if err := c.Send(cmdMsg{Seq: i}); err != nil {
			t.Fatal(err)
		}
	}
	restarts := func() uint64 {
		if clientStarts {
			return c.Stats().Restarts
		}
		st, _ := srv.ClientStats(id)
		return st.Restarts
	}
	pollUntil(t, 20*time.Second, "an ICE restart to start", func() bool { return restarts() > 0 })
	<-blackholeEnds
	nw.SetLoss(0)
	rec.waitFor(t, 30*time.Second, "every command", func() bool { return len(rec.commands[id]) == commands })
	want := Player{X: commands}
	waitWorld(t, c, 20*time.Second, "the client's world to converge", func(w *snapshot.World) bool {
		var p Player
		ok, err := w.Get(snapshot.EntityID(id), &p)
		return ok && err == nil && p == want
	})
	pollUntil(t, 20*time.Second, "the client to be connected", func() bool { return c.State() == LinkConnected })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, s := range rec.commands[id] {
		if s != i {
			t.Fatalf("commands %v, want 0..%d once each in order", rec.commands[id], commands-1)
		}
	}
	if len(rec.left) > 0 {
		t.Fatalf("departures %+v, want none", rec.left)
	}
}

// pollUntil polls cond until it holds, for state that signals no event.
func pollUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-time.After(20 * time.Millisecond)
	}
}
