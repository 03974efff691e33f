//go:build !js

package netcode

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/volleynet/volley/clock"
	"github.com/volleynet/volley/internal/netsim"
	"github.com/volleynet/volley/snapshot"
)

// TestPingRateLimit: pings over the per-client bucket are not answered, only counted.
// Both clocks are fake, so the bucket never refills and the client pings only once
// by itself: however many pings arrive, at most PingBurst pongs go out.
func TestPingRateLimit(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := testRegistry(t)
	const burst = 5
	drops := &dropLog{counts: map[ClientID]map[DropReason]int{}, wake: make(chan struct{}, 1)}
	cfg := ServerConfig{
		Registry:  reg,
		Transport: loopback(),
		Clock:     clock.NewFake(time.Unix(1_700_000_000, 0)),
		PingRate:  10,
		PingBurst: burst,
	}
	cfg.observeDrop = drops.add
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var (
		mu    sync.Mutex
		pongs int
	)
	ccfg := ClientConfig{Registry: reg, Transport: loopback(), Clock: clock.NewFake(time.Unix(0, 0))}
	ccfg.observe = func(kind byte, _ uint32, _ int) {
		if kind == kindPong {
			mu.Lock()
			pongs++
			mu.Unlock()
		}
	}
	c, id := connect(ctx, t, srv, ccfg)
	defer c.Close()
	const sent = 50
	for i := range sent {
		if err := c.sendUnreliableRaw(appendPing(nil, 1000+uint32(i), pingMsg{ClientTime: uint64(i)})); err != nil {
			t.Fatal(err)
		}
	}
	drops.wait(t, id, DropPingLimited, 1)
	mu.Lock()
	got := pongs
	mu.Unlock()
	if got > burst {
		t.Fatalf("%d pongs for %d pings, want at most the burst of %d", got, sent+1, burst)
	}
}

// TestTimeoutWithinOneTick cuts a client off and steps the host's fake clock one tick
// at a time: the timeout fires on the first tick past the deadline (the last update
// heard plus Timeout), and game code sees the departure on the very next tick, not
// after the bye wait (a timed-out client will not answer a bye).
func TestTimeoutWithinOneTick(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nw := netsim.ForTest(t, netsim.Config{Seed: 5})
	hostNet := nw.MustNet(t)
	clientNet := nw.MustNet(t)
	reg := testRegistry(t)
	start := time.Unix(1_700_000_000, 0)
	fake := clock.NewFake(start)
	const timeout = time.Second
	var (
		mu   sync.Mutex
		left = map[uint32][]Departure{}
	)
	ticked := make(chan uint32, 1)
	acked := make(chan struct{}, 1)
	cfg := ServerConfig{
		Registry:  reg,
		Transport: TransportConfig{Net: hostNet},
		Clock:     fake,
		Timeout:   timeout,
		Step: func(tk *Tick) {
			if len(tk.Left) > 0 {
				mu.Lock()
				left[tk.N] = append(left[tk.N], tk.Left...)
				mu.Unlock()
			}
		},
		OnTick: func(n uint32, _ time.Duration) { ticked <- n },
	}
	cfg.observeUpdate = func(ClientID, uint32) {
		select {
		case acked <- struct{}{}:
		default:
		}
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sched := scheduler{epoch: start, rate: 60}
	n := uint32(0)
	wait := func() { // for tick n to run
		t.Helper()
		select {
		case got := <-ticked:
			if got != n {
				t.Fatalf("tick %d ran, want %d", got, n)
			}
		case <-ctx.Done():
			t.Fatalf("waiting for tick %d: %v", n, ctx.Err())
		}
	}
	next := func() { // run tick n+1
		t.Helper()
		n++
		fake.Advance(sched.at(uint64(n)).Sub(fake.Now()))
		wait()
	}
	wait()
	c, id := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: TransportConfig{Net: clientNet}, Timeout: timeout})
	defer c.Close()
	srv.mu.Lock()
	sess := srv.sessions[id]
	srv.mu.Unlock()
	// Two ticks: the client joins and is sent a snapshot. Wait for its ack, then
	// cut the network.
	next()
	next()
	waitWorld(t, c, 10*time.Second, "a snapshot", func(*snapshot.World) bool { return true })
	select {
	case <-acked:
	case <-ctx.Done():
		t.Fatal("no update from the client")
	}
	nw.SetLoss(1)
	for i := 0; ; i++ {
		if i > 10*60 {
			t.Fatalf("no timeout after %d ticks", i)
		}
		next()
		select {
		case <-sess.ending:
		default:
			continue
		}
		break
	}
	fired := n
	heard := time.Unix(0, sess.lastHeard.Load())
	if at := sched.at(uint64(fired)); at.Sub(heard) <= timeout || sched.at(uint64(fired-1)).Sub(heard) > timeout {
		t.Fatalf("timeout fired on tick %d at %v, %v after the last update; want the first tick more than %v after it",
			fired, at.Sub(start), at.Sub(heard), timeout)
	}
	if !errors.Is(sess.reason, ErrTimeout) {
		t.Fatalf("session ended with %v", sess.reason)
	}
	next()
	mu.Lock()
	defer mu.Unlock()
	if d := left[fired+1]; len(d) != 1 || d[0].Client != id || !errors.Is(d[0].Reason, ErrTimeout) {
		t.Fatalf("tick %d after the timeout saw departures %v (all: %v), want client %d with ErrTimeout", fired+1, d, left, id)
	}
}
