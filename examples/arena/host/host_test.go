package host_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/volleynet/volley/examples/arena/bot"
	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/examples/arena/host"
	"github.com/volleynet/volley/internal/leakcheck"
	"github.com/volleynet/volley/internal/netsim"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/signaling"
)

// TestBotsOverLossyNetwork plays 8 native bots, each a real netcode client over its
// own WebRTC connection, for at least 20 seconds (and until someone has scored) on a
// simulated network with 5% loss each way and an 80 ms round trip. Every second each
// bot checks that its newest snapshot matches the host's state at that tick; at the end
// the bots stand still, and each one's predicted position must come to equal the
// host's.
func TestBotsOverLossyNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("plays for 20 s")
	}
	t.Cleanup(func() { leakcheck.VerifyNone(t) }) // after the network's cleanup closes it
	const (
		bots     = 8
		playTime = 20 * time.Second
		// settleTime bounds the wait for every standing bot's prediction to equal the
		// host (projectiles expire, the dead respawn): normally well under a second, far
		// longer when the machine is loaded and round trips take seconds.
		settleTime = 30 * time.Second
		liveness   = 30 * time.Second // netcode's Timeout, host and bots
	)
	nw := netsim.ForTest(t, netsim.Config{Delay: 40 * time.Millisecond, Seed: 1})
	hostNet := nw.MustNet(t)
	h, err := host.New(host.Config{
		// Liveness is not what this test checks: a loaded machine that stalls the
		// process for seconds must not cut a bot.
		Netcode: netcode.ServerConfig{Transport: netcode.TransportConfig{Net: hostNet}, Timeout: liveness},
		History: 512,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	// Connect everyone on a clean network, then degrade it.
	sessions := make([]*client.Session, bots)
	var accepts sync.WaitGroup
	for i := range sessions {
		botNet := nw.MustNet(t)
		hostSig, botSig := signaling.Pipe()
		defer hostSig.Close()
		accepts.Add(1)
		go func() {
			defer accepts.Done()
			if err := h.Accept(ctx, hostSig); err != nil {
				t.Errorf("accept: %v", err)
			}
		}()
		sessions[i], err = client.Connect(ctx, client.Config{
			Name:    fmt.Sprintf("bot%d", i+1),
			Netcode: netcode.ClientConfig{Transport: netcode.TransportConfig{Net: botNet}, Timeout: liveness},
		}, botSig)
		if err != nil {
			t.Fatalf("bot %d: connect: %v", i+1, err)
		}
		defer sessions[i].Close()
	}
	accepts.Wait()
	nw.SetLoss(0.05)

	var (
		stop       atomic.Bool
		checked    = make([]atomic.Int64, bots)
		mismatches atomic.Int64
		wg         sync.WaitGroup
		errs       = make(chan error, bots)
	)
	botCtx, stopBots := context.WithCancel(ctx)
	defer stopBots()
	for i, sess := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- playAndCheck(botCtx, h, sess, uint64(i+1), &stop, &checked[i], &mismatches)
		}()
	}
	// Play for playTime and then until someone has scored and every bot has checked
	// its view minChecks times: a loaded machine plays slower (round trips of
	// seconds, tickers that drop ticks), not differently. Nothing signals a kill, so
	// poll the host's summary.
	const minChecks = 5
	fewestChecks := func() int64 {
		n := checked[0].Load()
		for i := range checked {
			n = min(n, checked[i].Load())
		}
		return n
	}
	started := time.Now()
	poll := time.NewTicker(250 * time.Millisecond)
	defer poll.Stop()
	startScores := 0
	// A bot that ended early (its error is queued in errs) ends the play.
	for (time.Since(started) < playTime || startScores == 0 || fewestChecks() < minChecks) && len(errs) == 0 {
		select {
		case <-poll.C:
		case <-ctx.Done():
			t.Fatalf("after %v of play: kills %+v, fewest snapshot checks by a bot %d (want %d)", time.Since(started).Round(time.Second), h.Summary().Players, fewestChecks(), minChecks)
		}
		startScores = totalKills(h.Summary())
	}
	stop.Store(true)

	// Each bot stands still until its prediction equals the host's, then stops; after
	// settleTime the ones still differing report how.
	settled := make(chan struct{})
	go func() {
		wg.Wait()
		close(settled)
	}()
	settleTimer := time.NewTimer(settleTime)
	select {
	case <-settled:
	case <-settleTimer.C:
		stopBots()
		<-settled
	}
	settleTimer.Stop()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	sum := h.Summary()
	if sum.BadInputs != 0 {
		t.Errorf("host rejected %d inputs", sum.BadInputs)
	}
	if len(sum.Players) != bots {
		t.Errorf("host has %d players, want %d", len(sum.Players), bots)
	}
	if sum.Compensated == 0 {
		t.Errorf("none of %d shots was lag-compensated: the bots' inputs should say what they saw", sum.Shots)
	}
	var checks int64
	for i := range checked {
		// A bot checks once per 60 of its ticks; a loaded machine runs fewer of them,
		// but every bot must have checked several times.
		if n := checked[i].Load(); n < minChecks {
			t.Errorf("bot %d ran only %d snapshot checks", i+1, n)
		}
		checks += checked[i].Load()
	}
	if m := mismatches.Load(); m != 0 {
		t.Errorf("%d of %d snapshot views differed from the host's state at their tick", m, checks)
	}
	passed, dropped := nw.Counts()
	var corrections int
	for _, s := range sessions {
		corrections += s.Predictor().Corrections()
	}
	st, _ := h.Server().ClientStats(netcode.ClientID(sessions[0].ID()))
	t.Logf("%d kills, %d shots (%d lag-compensated); %d snapshot checks; network passed %d packets, dropped %d (%.1f%%); %d prediction corrections; bot1 rtt %v, loss in %.1f%%, late inputs %d",
		startScores, sum.Shots, sum.Compensated, checks, passed, dropped, 100*float64(dropped)/float64(passed+dropped), corrections, st.RTT, st.LossIn*100, st.Dropped(netcode.DropLateInput))
}

func totalKills(s host.Summary) int {
	n := 0
	for _, p := range s.Players {
		n += p.Kills
	}
	return n
}

// playAndCheck plays one bot at the tick rate. Once a second it compares its newest
// snapshot with the host's state at that tick. After stop it stands still until its
// prediction agrees with the host (then it returns nil); if ctx ends first it returns
// how they differ.
func playAndCheck(ctx context.Context, h *host.Host, sess *client.Session, seed uint64, stop *atomic.Bool, checked, mismatches *atomic.Int64) error {
	brain := bot.NewBrain(seed)
	dt := 1 / float64(sess.Netcode().TickRate())
	tick := time.NewTicker(time.Second / time.Duration(sess.Netcode().TickRate()))
	defer tick.Stop()
	var players []game.Player
	var lastAim float64
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			if err := finalCheck(h, sess); err != nil {
				return fmt.Errorf("%w, still after standing still for the whole wait", err)
			}
			return nil
		case <-sess.Done():
			return fmt.Errorf("bot %d disconnected: %w", sess.ID(), sess.Err())
		case <-tick.C:
		}
		sess.Poll()
		self, ok := sess.Self()
		if !ok {
			continue
		}
		players = sess.Players(players[:0])
		buttons, aim := brain.Think(self, players, dt)
		if stop.Load() {
			buttons, aim = 0, lastAim
		}
		lastAim = aim
		if err := sess.Input(buttons, aim); err != nil {
			return fmt.Errorf("bot %d: input: %w", sess.ID(), err)
		}
		if stop.Load() && finalCheck(h, sess) == nil {
			return nil
		}
		if n%60 == 30 {
			if hs, ok := h.At(sess.LatestTick()); ok {
				checked.Add(1)
				if diff := compare(sess.Players(nil), hs, sess.ID()); diff != "" {
					mismatches.Add(1)
					return fmt.Errorf("bot %d at tick %d: %s", sess.ID(), hs.Tick, diff)
				}
			}
		}
	}
}

// compare returns how a client's snapshot view of the players differs from the host's
// state at the same tick ("" if it does not). The client's own player is predicted,
// so it is left out.
func compare(view []game.Player, hs host.Summary, self game.PlayerID) string {
	if len(view) != len(hs.Players) {
		return fmt.Sprintf("sees %d players, host has %d", len(view), len(hs.Players))
	}
	for i, v := range view {
		p := hs.Players[i]
		if v.ID == self {
			continue
		}
		if v.ID != p.ID || math.Abs(v.Pos.X-p.Pos.X) > 0.006 || math.Abs(v.Pos.Y-p.Pos.Y) > 0.006 ||
			v.Health != p.Health || v.Kills != p.Kills || v.Deaths != p.Deaths || v.Alive != p.Alive {
			return fmt.Sprintf("player %d: client sees %+v, host has %+v", p.ID, v, p)
		}
	}
	return ""
}

// finalCheck compares the standing bot's predicted position with the host's.
func finalCheck(h *host.Host, sess *client.Session) error {
	self, _ := sess.Self()
	hp, ok := h.Summary().Player(sess.ID())
	if !ok {
		return fmt.Errorf("bot %d is not on the host", sess.ID())
	}
	if d := self.Pos.Sub(hp.Pos).Len(); d > 0.011 {
		return fmt.Errorf("bot %d: prediction %+v, host %+v (%.3f apart)", sess.ID(), self.Pos, hp.Pos, d)
	}
	return nil
}
