//go:build !js

package netcode

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"hash/fnv"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/volleynet/volley/internal/netsim"
	"github.com/volleynet/volley/snapshot"
)

// soak runs the harsh-network tests at full length (see the README's Tests section).
var soak = flag.Bool("soak", false, "run soaks at full length: 20,000 ticks of commands on a harsh network (about 6 minutes)")

// Tests on networks far worse than a game should meet: real pion connections on a
// netsim vnet, connected on a clean network, then impaired.

// worldHash is a hash of every entity's ID, type and quantized values, in ID order.
func worldHash(w *snapshot.World) uint64 {
	h := fnv.New64a()
	var b [4]byte
	put := func(v uint32) {
		binary.LittleEndian.PutUint32(b[:], v)
		h.Write(b[:])
	}
	w.Range(func(id snapshot.EntityID, typ snapshot.TypeID, q []uint32) bool {
		put(uint32(id))
		put(uint32(typ))
		put(uint32(len(q)))
		for _, v := range q {
			put(v)
		}
		return true
	})
	return h.Sum64()
}

// harness is a host and its clients on one simulated network; Step calls the test's
// step with the recorder locked, after recording joins, departures and commands.
type harness struct {
	nw      *netsim.Network
	srv     *Server
	rec     *recorder
	clients []*Client
}

func newHarness(t *testing.T, ctx context.Context, nclients int, cfg ServerConfig, step func(tk *Tick)) *harness {
	t.Helper()
	h := &harness{nw: netsim.ForTest(t, netsim.Config{Seed: 11}), rec: newRecorder()}
	cfg.Registry = testRegistry(t)
	tc := cfg.Transport // the clients use the host's transport settings
	cfg.Transport.Net = h.nw.MustNet(t)
	cfg.Step = func(tk *Tick) {
		h.rec.mu.Lock()
		defer h.rec.mu.Unlock()
		h.rec.joined = append(h.rec.joined, tk.Joined...)
		h.rec.left = append(h.rec.left, tk.Left...)
		for _, c := range tk.Commands {
			var m cmdMsg
			if err := c.Decode(&m); err != nil {
				panic(err)
			}
			h.rec.commands[c.Client] = append(h.rec.commands[c.Client], m.Seq)
		}
		if step != nil {
			step(tk)
		}
		h.rec.poke()
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	t.Cleanup(func() { srv.Close() })
	h.clients = make([]*Client, nclients)
	errs := make(chan error, nclients)
	var wg sync.WaitGroup
	for i := range h.clients {
		ccfg := ClientConfig{Registry: cfg.Registry, Transport: tc, Timeout: cfg.Timeout}
		ccfg.Transport.Net = h.nw.MustNet(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _, err := tryConnect(ctx, srv, ccfg)
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			h.clients[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	t.Cleanup(func() {
		for _, c := range h.clients {
			if c != nil {
				c.Close()
			}
		}
	})
	for err := range errs {
		t.Fatal(err)
	}
	h.rec.waitFor(t, 30*time.Second, "every client to join", func() bool { return len(h.rec.joined) == nclients })
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		h.rec.mu.Lock()
		t.Logf("host departures: %+v", h.rec.left)
		h.rec.mu.Unlock()
		for _, c := range h.clients {
			t.Logf("client %d: err %v, stats %+v", c.ID(), c.Err(), c.Stats())
		}
		t.Logf("network %+v, host loop %+v", h.nw.Stats(), h.srv.LoopStats())
	})
	return h
}

// impair switches the network to cfg.
func (h *harness) impair(t *testing.T, cfg netsim.Config) {
	t.Helper()
	if err := h.nw.SetConfig(cfg); err != nil {
		t.Fatal(err)
	}
}

// commander sends numbered commands from one client at a steady pace until stop is
// closed, and says how many it sent.
func commander(t *testing.T, c *Client, every time.Duration, stop <-chan struct{}) <-chan int {
	sent := make(chan int, 1)
	go func() {
		tk := time.NewTicker(every)
		defer tk.Stop()
		n := 0
		defer func() { sent <- n }()
		for {
			select {
			case <-stop:
				return
			case <-c.Done():
				t.Errorf("client %d ended while sending commands: %v", c.ID(), c.Err())
				return
			case <-tk.C:
			}
			if err := c.Send(cmdMsg{Seq: n}); err != nil {
				t.Errorf("client %d: send command %d: %v", c.ID(), n, err)
				return
			}
			n++
		}
	}()
	return sent
}

// checkCommands waits until the host has every command each client sent, then checks
// that each arrived exactly once and in order, and that no client left.
func (h *harness) checkCommands(t *testing.T, sent map[ClientID]int, d time.Duration) {
	t.Helper()
	h.rec.waitFor(t, d, "every command sent to arrive", func() bool {
		for id, n := range sent {
			if len(h.rec.commands[id]) < n {
				return false
			}
		}
		return true
	})
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	for id, n := range sent {
		got := h.rec.commands[id]
		if len(got) != n {
			t.Errorf("client %d: host got %d commands, client sent %d", id, len(got), n)
		}
		for i, s := range got {
			if s != i {
				t.Errorf("client %d: command %d has seq %d (duplicated or out of order)", id, i, s)
				break
			}
		}
	}
	if len(h.rec.left) != 0 {
		t.Errorf("clients left: %+v", h.rec.left)
	}
}

// TestHarshSnapshots: at 5% loss, 250 ms jitter with reordering and 10%
// duplication, every time the host pauses changing the world, every client's
// newest decoded world reaches the host's (same state hash), and no client leaves.
func TestHarshSnapshots(t *testing.T) {
	const (
		clients = 4
		npcs    = 40
		moving  = 45 // ticks of motion between pauses
	)
	pauses := 4
	if *soak {
		pauses = 40
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		resume   = make(chan struct{}, 1) // the test lets the host move on
		paused   = make(chan uint64, 1)   // the world's hash at each pause
		age      int                      // ticks of motion so far; owned by Step
		isPaused = true                   // owned by Step; starts paused
	)
	h := newHarness(t, ctx, clients, ServerConfig{}, func(tk *Tick) {
		if isPaused {
			select {
			case <-resume:
				isPaused = false
			default:
				return
			}
		}
		for i := range npcs {
			f := float64(age) / 10
			p := Player{
				X:     float32(300 * math.Sin(f+float64(i))),
				Y:     float32(300 * math.Cos(f*0.7+float64(i))),
				Angle: float32(f),
				HP:    (age + i) % 101,
				Spawn: (age / 30) % 256,
			}
			if err := tk.World.Set(snapshot.EntityID(1000+i+(age/90)%7), playerType, p); err != nil {
				panic(err)
			}
		}
		if age%15 == 0 {
			tk.World.Remove(snapshot.EntityID(1000 + (age/15)%npcs))
		}
		age++
		if age%moving == 0 {
			// The test reads each hash before it resumes the host: never blocks.
			isPaused = true
			paused <- worldHash(tk.World)
		}
	})
	h.impair(t, netsim.Config{Loss: 0.05, Delay: 20 * time.Millisecond, Jitter: 250 * time.Millisecond, Reorder: true, Duplicate: 0.1})
	for i := range pauses {
		resume <- struct{}{}
		var want uint64
		select {
		case want = <-paused:
		case <-ctx.Done():
			t.Fatalf("pause %d never came", i)
		}
		for _, c := range h.clients {
			waitWorld(t, c, 30*time.Second, fmt.Sprintf("pause %d: the host's state hash %x", i, want),
				func(w *snapshot.World) bool { return worldHash(w) == want })
		}
	}
	s := h.nw.Stats()
	t.Logf("%d pauses; network %+v", pauses, s)
	if s.Duplicated == 0 || s.Lost == 0 {
		t.Errorf("the network neither duplicated nor lost: %+v", s)
	}
	h.rec.mu.Lock()
	defer h.rec.mu.Unlock()
	if len(h.rec.left) != 0 {
		t.Errorf("clients left: %+v", h.rec.left)
	}
}

// TestHarshCommands: at 25% loss, 25% duplication and 1 s one-way delay, commands
// sent at 30 per second by each client for 600 host ticks (10 s) all arrive exactly
// once and in order, and no client leaves.
//
// With -soak it runs 20,000 ticks (5.5 minutes); the progress lines show commands
// in, the longest wait between two and what each channel holds. It failed on
// upstream pion/sctp (the association collapsed after 40 s to 2 minutes) and passes
// with the patched copy in third_party/pion/sctp (see its PATCHED.md, third and
// fourth changes). At this round trip the copies are held back (the unreliable
// channel holds more than a packet in flight), so commands ride the reliable channel.
func TestHarshCommands(t *testing.T) {
	const clients = 2
	ticks := uint32(600)
	if *soak {
		ticks = 20_000
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		stop      = make(chan struct{})
		stopped   bool          // owned by Step
		startTick atomic.Uint32 // 0 until the test starts the run
		lastCmd   = map[ClientID]time.Time{}
		maxGap    = map[ClientID]time.Duration{} // longest wait between two commands; owned by Step
	)
	h := newHarness(t, ctx, clients, ServerConfig{}, func(tk *Tick) {
		// >=: a loaded host skips ticks when it falls behind.
		if s := startTick.Load(); s != 0 && !stopped && tk.N >= s+ticks {
			close(stop)
			stopped = true
		}
		now := time.Now()
		for _, c := range tk.Commands {
			if l, ok := lastCmd[c.Client]; ok {
				maxGap[c.Client] = max(maxGap[c.Client], now.Sub(l))
			}
			lastCmd[c.Client] = now
		}
	})
	h.impair(t, netsim.Config{Loss: 0.25, Duplicate: 0.25, Delay: time.Second})
	startTick.Store(h.srv.LoopStats().Tick + 1)
	counts := make([]<-chan int, clients)
	for i, c := range h.clients {
		counts[i] = commander(t, c, time.Second/30, stop)
	}
	progress := time.NewTicker(10 * time.Second)
	defer progress.Stop()
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-progress.C:
			}
			h.rec.mu.Lock()
			line := fmt.Sprintf("tick %d:", h.srv.LoopStats().Tick-startTick.Load())
			for _, c := range h.clients {
				st := c.Stats()
				line += fmt.Sprintf(" [client %d: %d commands in, longest gap %v, %d B waiting to be acked, %d B unsent unreliable, rtt %v, copies first %d, held %d, uncopied %d]",
					c.ID(), len(h.rec.commands[c.ID()]), maxGap[c.ID()].Round(time.Millisecond), c.rel.BufferedAmount(), c.unrel.BufferedAmount(),
					st.RTT.Round(time.Millisecond), st.CopiesFirst, st.CopiesHeld, st.Uncopied)
			}
			h.rec.mu.Unlock()
			t.Log(line)
		}
	}()
	sent := map[ClientID]int{}
	for i, c := range h.clients {
		sent[c.ID()] = <-counts[i]
	}
	t.Logf("sent %v over %d ticks", sent, ticks)
	h.checkCommands(t, sent, 3*time.Minute)
	h.rec.mu.Lock()
	t.Logf("longest gaps between commands %v; network %+v", maxGap, h.nw.Stats())
	h.rec.mu.Unlock()
}

// TestBlackout cuts every client off for 2 s (by the host's ticks) while they send
// commands: all of them survive it (nobody leaves), snapshots resume, and every
// command arrives exactly once and in order.
func TestBlackout(t *testing.T) {
	const (
		clients = 4
		dark    = 120 // ticks: 2 s at 60 Hz
	)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var (
		start atomic.Uint32 // the tick the blackout starts; 0 until the test sets it
		lit   atomic.Uint32 // the tick the lights came back on
		stop  = make(chan struct{})
		nw    *netsim.Network // set (under the recorder's lock) before start
	)
	phase := 0 // owned by Step: 0 before, 1 dark, 2 lit, 3 stopped
	h := newHarness(t, ctx, clients, ServerConfig{}, func(tk *Tick) {
		// >=: a loaded host skips ticks when it falls behind.
		s := start.Load()
		switch {
		case s == 0:
		case phase == 0 && tk.N >= s:
			nw.SetBlackhole(true)
			phase = 1
		case phase == 1 && tk.N >= s+dark:
			nw.SetBlackhole(false)
			lit.Store(tk.N)
			phase = 2
		case phase == 2 && tk.N >= s+dark+60: // commands go on for a second after
			close(stop)
			phase = 3
		}
		// Keep the world changing so fresh snapshots are needed after the blackout.
		if err := tk.World.Set(1, playerType, Player{X: float32(tk.N % 1000), HP: int(tk.N % 101)}); err != nil {
			panic(err)
		}
	})
	h.rec.mu.Lock()
	nw = h.nw
	h.rec.mu.Unlock()
	h.impair(t, netsim.Config{Loss: 0.02, Delay: 25 * time.Millisecond, Jitter: 10 * time.Millisecond})
	counts := make([]<-chan int, clients)
	for i, c := range h.clients {
		counts[i] = commander(t, c, time.Second/30, stop)
	}
	// Start the blackout half a second into the commands.
	start.Store(h.srv.LoopStats().Tick + 30)
	sent := map[ClientID]int{}
	for i, c := range h.clients {
		sent[c.ID()] = <-counts[i]
	}
	back := lit.Load()
	for _, c := range h.clients {
		waitWorld(t, c, 30*time.Second, fmt.Sprintf("client %d: a snapshot from after the blackout (tick > %d)", c.ID(), back),
			func(w *snapshot.World) bool {
				tick, ok := c.Latest(w)
				return ok && tick > back
			})
	}
	h.checkCommands(t, sent, time.Minute)
	s := h.nw.Stats()
	t.Logf("sent %v; network %+v", sent, s)
	if s.Blackholed == 0 {
		t.Error("the blackout dropped nothing")
	}
	for _, c := range h.clients {
		if err := c.Err(); err != nil {
			t.Errorf("client %d ended: %v", c.ID(), err)
		}
	}
}
