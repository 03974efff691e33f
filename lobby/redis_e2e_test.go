//go:build !js

package lobby_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/snapshot"
)

// TestNetcodeAcrossInstances: a netcode host connected to lobby instance A and players
// connected to instance B (sharing one Redis) negotiate real pion connections through
// the relay, then exchange snapshots and commands.
func TestNetcodeAcrossInstances(t *testing.T) {
	const players = 4
	addr := lobby.StartTestRedis(t)
	var urls []string
	for range 2 {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		srv := lobby.NewServer(lobby.Config{Store: lobby.NewRedisStore(rdb, lobby.RedisStoreConfig{Prefix: "e2e:"})})
		ts := httptest.NewServer(srv.Mux())
		defer ts.Close()
		defer srv.Close()
		urls = append(urls, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

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

	host, err := lobby.Dial(ctx, urls[0], lobby.ClientConfig{}) // instance A
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if _, err := host.Create(ctx, lobby.RoomOptions{Name: "shared", Capacity: players}); err != nil {
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
			// Players quick-join through instance B.
			if err := playE2E(ctx, urls[1], reg, loopback, float32(i+1), players, done, allSeen); err != nil {
				t.Errorf("player %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	host.Close()
	accepts.Wait()
}
