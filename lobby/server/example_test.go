package server_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
)

// A lobby on a test HTTP server, with a host and a player meeting in a room.
func Example() {
	srv := lobbyserver.New(lobbyserver.Config{}) // development defaults: anyone may host
	ts := httptest.NewServer(srv.Mux())
	defer ts.Close()
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	host, _ := lobby.Dial(ctx, url, lobby.ClientConfig{})
	defer host.Close()
	host.Create(ctx, lobby.RoomOptions{Name: "arena", Capacity: 8})
	player, _ := lobby.Dial(ctx, url, lobby.ClientConfig{})
	defer player.Close()
	room, _ := player.QuickJoin(ctx)
	fmt.Println("joined", room.Name, "hosted by", room.Host == host.ID())
	// Output: joined arena hosted by true
}

// Several lobby instances serve one set of rooms when they share a Redis: run this on
// each (same Redis, same prefix) behind a load balancer.
func ExampleNewRedisStore() {
	// ContextTimeoutEnabled: Config.StoreTimeout then bounds every Redis call.
	rdb := redis.NewClient(&redis.Options{Addr: "redis.internal:6379", ContextTimeoutEnabled: true}) // github.com/redis/go-redis/v9
	defer rdb.Close()
	srv := lobbyserver.New(lobbyserver.Config{
		Store: lobbyserver.NewRedisStore(rdb, lobbyserver.RedisStoreConfig{Prefix: "mygame:lobby:"}),
		// Behind a load balancer: believe its X-Forwarded-For for the per-address limits.
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	defer srv.Close() // closes this instance's rooms and leaves the relay
	hs := lobbyserver.HTTPServer(srv.Mux(), lobbyserver.HTTPConfig{Registerer: srv.Registry()})
	hs.Addr = ":8089"
	_ = hs.ListenAndServe()
}
