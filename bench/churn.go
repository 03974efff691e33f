package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// churnConfig holds the churn command's flags.
type churnConfig struct {
	Attackers int
	Rate      float64
	Warmup    time.Duration
	Connects  int
	Timeout   time.Duration
	MaxClient int
}

func parseChurnFlags(args []string) (churnConfig, error) {
	var c churnConfig
	fs := flag.NewFlagSet("churn", flag.ContinueOnError)
	fs.IntVar(&c.Attackers, "attackers", 1, "lobby connections that join, offer and leave in a loop")
	fs.Float64Var(&c.Rate, "rate", 50, "messages per second per attacker (the lobby allows 50)")
	fs.DurationVar(&c.Warmup, "warmup", 20*time.Second, "how long the attack runs before the first honest connect")
	fs.IntVar(&c.Connects, "connects", 10, "honest connects measured, one after the other")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Second, "how long one honest connect may take")
	fs.IntVar(&c.MaxClient, "max-clients", 0, "the host's MaxClients (0: netcode's default)")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	if c.Attackers < 0 || c.Rate <= 0 || c.Connects <= 0 || c.Timeout <= 0 || c.Warmup < 0 {
		return c, errors.New("need -attackers >= 0, and positive -rate, -connects and -timeout")
	}
	return c, nil
}

// runChurn measures how long an honest player takes to connect to a host (default
// netcode.ServerConfig) through a lobby while attackers churn handshakes: each joins
// the host's room, sends an offer and leaves, at the lobby's allowed message rate.
func runChurn(args []string) error {
	cfg, err := parseChurnFlags(args)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prog := newProgress(false)
	loopback := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}

	// The lobby, on a loopback port.
	ls := lobbyserver.New(lobbyserver.Config{})
	defer ls.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: ls.Mux()}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	url := "ws://" + ln.Addr().String() + "/ws"

	// The host: a default netcode server, accepting every member that signals.
	reg := snapshot.NewRegistry()
	game, err := netcode.NewServer(netcode.ServerConfig{Registry: reg, Transport: loopback, MaxClients: cfg.MaxClient})
	if err != nil {
		return err
	}
	defer game.Close()
	host, err := lobby.Dial(ctx, url, lobby.ClientConfig{})
	if err != nil {
		return err
	}
	defer host.Close()
	room, err := host.Create(ctx, lobby.RoomOptions{Name: "churn", Capacity: 256})
	if err != nil {
		return err
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		refused = map[string]int{}
	)
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		for {
			_, sig, err := host.AcceptMember(ctx)
			if err != nil {
				return
			}
			wg.Go(func() {
				if _, err := game.Accept(ctx, sig); err != nil {
					mu.Lock()
					refused[refusal(err)]++
					mu.Unlock()
				}
			})
		}
	})

	// The attackers repeat one real offer.
	offer, err := churnOffer(loopback)
	if err != nil {
		return err
	}
	idleG := runtime.NumGoroutine()
	for range cfg.Attackers {
		lc, err := lobby.Dial(ctx, url, lobby.ClientConfig{})
		if err != nil {
			return err
		}
		defer lc.Close()
		wg.Go(func() { churnAttack(ctx, lc, room.ID, offer, cfg.Rate) })
	}
	prog.Printf("%d attacker(s) at %.0f messages/s; warming up %v", cfg.Attackers, cfg.Rate, cfg.Warmup)
	if err := sleepCtx(ctx, cfg.Warmup); err != nil {
		return err
	}

	var times []time.Duration
	failures := map[string]int{}
	for i := range cfg.Connects {
		d, err := churnConnect(ctx, url, room.ID, reg, loopback, cfg.Timeout)
		if err != nil {
			failures[err.Error()]++
			prog.Printf("connect %d: failed after %v: %v", i+1, d.Round(time.Millisecond), err)
			continue
		}
		times = append(times, d)
		prog.Printf("connect %d: %v", i+1, d.Round(time.Millisecond))
	}
	g := runtime.NumGoroutine()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mu.Lock()
	defer mu.Unlock()
	fmt.Printf("attackers %d at %.0f msg/s, warmup %v, MaxClients %d (0: default)\n", cfg.Attackers, cfg.Rate, cfg.Warmup, cfg.MaxClient)
	fmt.Printf("honest connects: %d of %d", len(times), cfg.Connects)
	if len(times) > 0 {
		slices.Sort(times)
		fmt.Printf(", median %v, max %v", times[len(times)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
	}
	fmt.Println()
	for msg, n := range failures {
		fmt.Printf("  %d failed: %s\n", n, msg)
	}
	fmt.Printf("goroutines %d before the attack, %d at the end; heap in use %.1f MB\n", idleG, g, float64(ms.HeapInuse)/1e6)
	fmt.Printf("host Accept errors by kind: %v\n", refused)
	if err := host.Err(); err != nil {
		fmt.Printf("the host lost its lobby connection (its room closed): %v\n", err)
	}
	return nil
}

// churnOffer returns the SDP of a real offer with a data channel.
func churnOffer(tc netcode.TransportConfig) (string, error) {
	api, err := netcode.NewWebRTCAPI(tc)
	if err != nil {
		return "", err
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return "", err
	}
	defer pc.Close()
	if _, err := pc.CreateDataChannel(netcode.LabelReliable, nil); err != nil {
		return "", err
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	return offer.SDP, nil
}

// churnAttack joins the room, offers and leaves, one message every 1/rate seconds,
// until ctx ends or the lobby cuts it off.
func churnAttack(ctx context.Context, lc *lobby.Client, room, offer string, rate float64) {
	pace := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer pace.Stop()
	steps := []func() error{
		func() error { _, err := lc.Join(ctx, room, ""); return err },
		func() error {
			return lc.Signal(ctx, "", signaling.Signal{Type: signaling.TypeOffer, SDP: offer})
		},
		func() error { return lc.Leave(ctx) },
	}
	for i := 0; ; i++ {
		select {
		case <-pace.C:
		case <-ctx.Done():
			return
		}
		if steps[i%len(steps)]() != nil && ctx.Err() != nil {
			return
		}
	}
}

// churnConnect joins the room as an honest player and connects to the host; it
// returns how long that took.
func churnConnect(ctx context.Context, url, room string, reg *snapshot.Registry, tc netcode.TransportConfig, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	lc, err := lobby.Dial(ctx, url, lobby.ClientConfig{})
	if err != nil {
		return time.Since(start), err
	}
	defer lc.Close()
	if _, err := lc.Join(ctx, room, ""); err != nil {
		return time.Since(start), err
	}
	c, err := netcode.Dial(ctx, netcode.ClientConfig{Registry: reg, Transport: tc}, lc.HostSignaler())
	d := time.Since(start)
	if err != nil {
		return d, err
	}
	c.Close()
	return d, nil
}

// refusal names the kind of an Accept error for the summary: its first clause.
func refusal(err error) string {
	s, _, _ := strings.Cut(strings.TrimPrefix(err.Error(), "netcode: "), ":")
	return s
}
