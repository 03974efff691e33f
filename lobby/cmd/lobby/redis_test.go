package main

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/volleynet/volley/internal/redistest"
	"github.com/volleynet/volley/lobby"
)

// TestRunRedis: two lobby processes' worth of run() share one Redis; a player on the
// second joins the room of a host on the first.
func TestRunRedis(t *testing.T) {
	addr := redistest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var urls []string
	var dones []chan error
	for range 2 {
		addrc := make(chan string, 1)
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-redis", "redis://" + addr + "/0", "-drain-timeout", "1ns"}, io.Discard,
				func(a string) { addrc <- a })
		}()
		select {
		case a := <-addrc:
			urls = append(urls, "ws://"+a+"/ws")
		case err := <-done:
			t.Fatal(err)
		}
		dones = append(dones, done)
	}
	host, err := lobby.Dial(ctx, urls[0], lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	room, err := host.Create(ctx, lobby.RoomOptions{Name: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	player, err := lobby.Dial(ctx, urls[1], lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer player.Close()
	if got, err := player.QuickJoin(ctx); err != nil || got.ID != room.ID || got.Host != host.ID() {
		t.Fatalf("quick join on the other instance: %+v, %v", got, err)
	}
	cancel()
	for _, done := range dones {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestRunRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a port where nothing answers Redis
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = run(context.Background(), []string{"-addr", "127.0.0.1:0", "-redis", "redis://" + addr}, io.Discard, nil)
	if err == nil {
		t.Fatal("run with an unreachable Redis succeeded")
	}
}
