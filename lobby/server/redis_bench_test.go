package server

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/volleynet/volley/internal/redistest"
)

// BenchmarkRedisRelayRoundTrip is BenchmarkRelayRoundTrip with the host on instance A
// and the player on instance B: each signal crosses Redis pub/sub.
func BenchmarkRedisRelayRoundTrip(b *testing.B) {
	addr := redistest.Start(b)
	var urls []string
	for range 2 {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		b.Cleanup(func() { rdb.Close() })
		urls = append(urls, newEnv(b, Config{MessagesPerSecond: 1e9, MessageBurst: 1e9,
			Store: NewRedisStore(rdb, RedisStoreConfig{})}).url)
	}
	benchRelayRoundTrip(b, urls[0], urls[1])
}

// BenchmarkStoreJoinLeave: one AddMember and one RemoveMember per iteration, for each
// Store (a Redis round trip per call for RedisStore, over loopback).
func BenchmarkStoreJoinLeave(b *testing.B) {
	addr := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	b.Cleanup(func() { rdb.Close() })
	rs := NewRedisStore(rdb, RedisStoreConfig{})
	inst, err := rs.register(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	id := func(n int) string { return fmt.Sprintf("c%s%016x", inst, n) }
	for _, st := range []struct {
		name string
		s    Store
	}{{"memory", NewMemoryStore()}, {"redis", rs}} {
		b.Run(st.name, func(b *testing.B) {
			ctx := context.Background()
			room := Room{ID: "r" + st.name, Host: id(0), Capacity: 8}
			if err := st.s.CreateRoom(ctx, room); err != nil {
				b.Fatal(err)
			}
			for i := range 4 { // a room with a few members already
				if _, err := st.s.AddMember(ctx, room.ID, id(i+1)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := st.s.AddMember(ctx, room.ID, id(99)); err != nil {
					b.Fatal(err)
				}
				if _, err := st.s.RemoveMember(ctx, room.ID, id(99)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
