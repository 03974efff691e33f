//go:build !js

package lobby_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/snapshot"
)

type e2ePlayer struct {
	X float32 `snap:"float,min=-1000,max=1000,prec=0.01"`
}

type e2eMove struct{ DX float32 }

// TestNetcodeEndToEnd: a netcode host and 8 netcode clients find each other through the
// lobby (real WebSockets, trickle ICE relayed by the lobby) and exchange snapshots and
// commands over real pion connections restricted to loopback.
func TestNetcodeEndToEnd(t *testing.T) {
	srv := lobbyserver.New(lobbyserver.Config{})
	ts := httptest.NewServer(srv.Mux())
	defer ts.Close()
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	runNetcodeE2E(ctx, t, url, url, 8)
}

// runNetcodeE2E runs a netcode host that opens a room through the lobby at hostURL and
// the given number of players that quick-join through the lobby at playerURL; each
// player moves its entity with a command, gets the host's event and waits until a
// snapshot shows every player, and nobody leaves before everyone has.
func runNetcodeE2E(ctx context.Context, t *testing.T, hostURL, playerURL string, players int) {
	t.Helper()
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(1, e2ePlayer{}); err != nil {
		t.Fatal(err)
	}
	loopback := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}

	game, err := netcode.NewServer(netcode.ServerConfig{
		Registry:  reg,
		Transport: loopback,
		Step: func(tk *netcode.Tick) {
			for _, id := range tk.Joined {
				tk.World.Set(snapshot.EntityID(id), 1, &e2ePlayer{})
			}
			for _, l := range tk.Left {
				tk.World.Remove(snapshot.EntityID(l.Client))
			}
			for _, c := range tk.Commands {
				var m e2eMove
				if c.Decode(&m) != nil {
					continue
				}
				var p e2ePlayer
				tk.World.Get(snapshot.EntityID(c.Client), &p)
				p.X += m.DX
				tk.World.Set(snapshot.EntityID(c.Client), 1, &p)
				tk.Send(c.Client, "moved")
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer game.Close()

	// The host: a lobby client that hands every member's Signaler to the game server.
	host, err := lobby.Dial(ctx, hostURL, lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if _, err := host.Create(ctx, lobby.RoomOptions{Name: "e2e", Capacity: players}); err != nil {
		t.Fatal(err)
	}
	var accepts sync.WaitGroup
	accepts.Add(1)
	go func() {
		defer accepts.Done()
		for {
			_, sig, err := host.AcceptMember(ctx)
			if err != nil {
				return
			}
			accepts.Add(1)
			go func() {
				defer accepts.Done()
				if _, err := game.Accept(ctx, sig); err != nil {
					t.Errorf("accept: %v", err)
				}
			}()
		}
	}()

	// The players: quick-join through the lobby, connect with netcode, move, and watch
	// everyone in the snapshots.
	// Nobody disconnects before everyone has seen all players.
	var wg, seen sync.WaitGroup
	allSeen := make(chan struct{})
	seen.Add(players)
	go func() { seen.Wait(); close(allSeen) }()
	for i := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			done := func() { once.Do(seen.Done) }
			defer done()
			if err := playE2E(ctx, playerURL, reg, loopback, float32(i+1), players, done, allSeen); err != nil {
				t.Errorf("player %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	host.Close()
	accepts.Wait()
}

func playE2E(ctx context.Context, url string, reg *snapshot.Registry, tc netcode.TransportConfig, dx float32, players int,
	seenAll func(), allSeen <-chan struct{}) error {
	lc, err := lobby.Dial(ctx, url, lobby.ClientConfig{})
	if err != nil {
		return err
	}
	defer lc.Close()
	if _, err := lc.QuickJoin(ctx); err != nil {
		return err
	}
	nc, err := netcode.Dial(ctx, netcode.ClientConfig{Registry: reg, Transport: tc}, lc.HostSignaler())
	if err != nil {
		return fmt.Errorf("netcode dial: %w", err)
	}
	defer nc.Close()
	if err := nc.Send(e2eMove{DX: dx}); err != nil {
		return err
	}
	select {
	case ev := <-nc.Events():
		var s string
		if err := ev.Decode(&s); err != nil || s != "moved" {
			return fmt.Errorf("event %q, %v", s, err)
		}
	case <-nc.Done():
		return nc.Err()
	case <-ctx.Done():
		return fmt.Errorf("no event: %w", ctx.Err())
	}
	// Wait for a snapshot with all players, ours moved by dx.
	w := snapshot.NewWorld(reg)
	for {
		if _, ok := nc.Latest(w); ok && w.Len() == players {
			var p e2ePlayer
			if found, _ := w.Get(snapshot.EntityID(nc.ID()), &p); found && p.X == dx {
				seenAll()
				select {
				case <-allSeen:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		select {
		case <-nc.Updates():
		case <-nc.Done():
			return fmt.Errorf("netcode closed: %w", nc.Err())
		case <-ctx.Done():
			return fmt.Errorf("never saw all players: %w", ctx.Err())
		}
	}
}
