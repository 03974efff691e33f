package main

import (
	"context"
	"io"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/volleynet/volley/lobby"
)

// startRedis starts a private redis-server on a free loopback port and returns its
// address; it skips the test when redis-server is not installed.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (apt-get install redis-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server never answered PING")
		}
		select {
		case <-exited:
			t.Fatal("redis-server exited")
		case <-tick.C:
		}
	}
	return addr
}

// TestRunRedis: two lobby processes' worth of run() share one Redis; a player on the
// second joins the room of a host on the first.
func TestRunRedis(t *testing.T) {
	addr := startRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var urls []string
	var dones []chan error
	for range 2 {
		addrc := make(chan string, 1)
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-redis", "redis://" + addr + "/0"}, io.Discard,
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
