package host_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/volleynet/volley/examples/arena/bot"
	"github.com/volleynet/volley/examples/arena/host"
	"github.com/volleynet/volley/internal/leakcheck"
	"github.com/volleynet/volley/internal/netsim"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
)

// TestBotsSurviveNetworkSwitch plays four bots, then moves every one of them to a new
// address at once (a new vnet interface; the old address goes silent), as phones
// moving from Wi-Fi to mobile data. Each bot's connection comes back through an ICE
// restart: no bot session ends, the host keeps the same four players, and their
// updates flow again.
func TestBotsSurviveNetworkSwitch(t *testing.T) {
	t.Cleanup(func() { leakcheck.VerifyNone(t) }) // after the network's cleanup closes it
	const bots = 4
	nw := netsim.ForTest(t, netsim.Config{Delay: 10 * time.Millisecond, Seed: 3})
	fast := netcode.TransportConfig{ICEDisconnectedTimeout: time.Second, ICEKeepaliveInterval: 200 * time.Millisecond}
	hostTr := fast
	hostTr.Net = nw.MustNet(t)
	h, err := host.New(host.Config{Netcode: netcode.ServerConfig{Transport: hostTr}})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	botCtx, stopBots := context.WithCancel(ctx)
	defer stopBots()

	stats := bot.NewStats()
	roams := make([]*netsim.Roaming, bots)
	var wg sync.WaitGroup
	errs := make(chan error, 2*bots)
	for i := range roams {
		if roams[i], err = nw.NewRoaming(); err != nil {
			t.Fatal(err)
		}
		tr := fast
		tr.Net = roams[i]
		hostSig, botSig := signaling.Pipe()
		defer hostSig.Close()
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := h.Accept(ctx, hostSig); err != nil {
				errs <- fmt.Errorf("accept: %w", err)
			}
		}()
		go func() {
			defer wg.Done()
			cfg := netcode.ClientConfig{Transport: tr, Restart: netcode.RestartConfig{After: 200 * time.Millisecond}}
			if err := bot.Play(botCtx, botSig, fmt.Sprintf("bot%d", i+1), uint64(i+1), cfg, stats); err != nil {
				errs <- fmt.Errorf("bot %d: %w", i+1, err)
			}
		}()
	}
	start := waitSummary(ctx, t, h, "every bot in the game", func(s host.Summary) bool { return len(s.Players) == bots })

	base := map[netcode.ClientID]uint64{}
	for _, id := range h.Server().Clients() {
		st, _ := h.Server().ClientStats(id)
		base[id] = st.PacketsIn
	}
	for _, r := range roams {
		if err := r.Switch(); err != nil {
			t.Fatal(err)
		}
	}
	// Every bot's updates flow again: a second's worth more from each than before
	// the switch (the old address carries nothing after it). Nothing signals that on
	// the host: poll its counters.
	deadline := time.Now().Add(60 * time.Second)
	for _, id := range h.Server().Clients() {
		for {
			st, _ := h.Server().ClientStats(id)
			if st.PacketsIn >= base[id]+30 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("client %d: %d messages since the switch, want 30; lifecycle %+v", id, st.PacketsIn-base[id], h.Server().LifecycleStats())
			}
			<-time.After(50 * time.Millisecond)
		}
	}
	if st := h.Server().LifecycleStats(); st.RestartsAnswered+st.RestartsOffered < bots {
		t.Fatalf("lifecycle %+v: fewer ICE restarts than bots", st)
	}
	end := h.Summary()
	if len(end.Players) != bots {
		t.Fatalf("host has %d players after the switch, want %d", len(end.Players), bots)
	}
	for i, p := range end.Players {
		if p.ID != start.Players[i].ID {
			t.Fatalf("players %v after the switch, were %v", end.Players, start.Players)
		}
	}
	if s := stats.Summary(); s.Connected != bots {
		t.Fatalf("bots connected: %+v", s)
	}
	stopBots()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := h.Server().LifecycleStats(); st.Suspensions != 0 {
		t.Errorf("lifecycle %+v: a bot was suspended", st)
	}
}

// waitSummary waits on the host's per-tick signal for a summary that satisfies cond.
func waitSummary(ctx context.Context, t *testing.T, h *host.Host, what string, cond func(host.Summary) bool) host.Summary {
	t.Helper()
	for {
		select {
		case <-h.Updated():
			if s := h.Summary(); cond(s) {
				return s
			}
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %+v", what, h.Summary().Players)
		}
	}
}
