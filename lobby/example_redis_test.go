//go:build !js

package lobby_test

import (
	"net/http"

	"github.com/redis/go-redis/v9"
	"github.com/volleynet/volley/lobby"
)

// Several lobby instances serve one set of rooms when they share a Redis: run this on
// each (same Redis, same prefix) behind a load balancer.
func ExampleNewRedisStore() {
	rdb := redis.NewClient(&redis.Options{Addr: "redis.internal:6379"})
	defer rdb.Close()
	srv := lobby.NewServer(lobby.Config{
		Store: lobby.NewRedisStore(rdb, lobby.RedisStoreConfig{Prefix: "mygame:lobby:"}),
	})
	defer srv.Close() // closes this instance's rooms and leaves the relay
	_ = http.ListenAndServe(":8089", srv.Mux())
}
