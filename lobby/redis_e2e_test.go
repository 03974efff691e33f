//go:build !js

package lobby_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/volleynet/volley/internal/redistest"
	lobbyserver "github.com/volleynet/volley/lobby/server"
)

// TestNetcodeAcrossInstances: a netcode host connected to lobby instance A and players
// connected to instance B (sharing one Redis) negotiate real pion connections through
// the relay, then exchange snapshots and commands.
func TestNetcodeAcrossInstances(t *testing.T) {
	const players = 4
	addr := redistest.Start(t)
	var urls []string
	for range 2 {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		srv := lobbyserver.New(lobbyserver.Config{Store: lobbyserver.NewRedisStore(rdb, lobbyserver.RedisStoreConfig{Prefix: "e2e:"})})
		ts := httptest.NewServer(srv.Mux())
		defer ts.Close()
		defer srv.Close()
		urls = append(urls, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// The host on instance A, the players quick-joining through instance B.
	runNetcodeE2E(ctx, t, urls[0], urls[1], players)
}
