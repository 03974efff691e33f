//go:build !js

package netcode

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/volleynet/volley/internal/netsim"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// TestSinglePort puts three clients on the host's one UDP port.
func TestSinglePort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := testRegistry(t)
	srv, err := NewServer(ServerConfig{Registry: reg, Transport: loopback(), ListenUDP: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	port := srv.Addr().(*net.UDPAddr).Port
	for range 3 {
		c, id := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback()})
		defer c.Close()
		srv.mu.Lock()
		sess := srv.sessions[id]
		srv.mu.Unlock()
		pair, err := sess.pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
		if err != nil || pair == nil {
			t.Fatalf("no selected pair: %v", err)
		}
		if pair.Local.Port != uint16(port) || pair.Local.Address != "127.0.0.1" {
			t.Errorf("client %d on local %s:%d, want 127.0.0.1:%d", id, pair.Local.Address, pair.Local.Port, port)
		}
		waitWorld(t, c, 10*time.Second, "a snapshot", func(*snapshot.World) bool { return true })
	}
}

// TestInputs sends an input per snapshot and checks that the host applies each on its
// stamped tick, once, in order, and reports the last applied tick back.
func TestInputs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := testRegistry(t)
	type applied struct {
		tick uint32
		data byte
	}
	var (
		mu  sync.Mutex
		got []applied
	)
	srv, err := NewServer(ServerConfig{
		Registry:  reg,
		Transport: loopback(),
		Step: func(tk *Tick) {
			mu.Lock()
			defer mu.Unlock()
			for _, in := range tk.Inputs {
				if in.Tick != tk.N || len(in.Data) != 1 {
					panic("input on the wrong tick")
				}
				got = append(got, applied{in.Tick, in.Data[0]})
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _ := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback()})
	defer c.Close()

	// Wait for clock sync, then send one input per snapshot.
	for !c.Clock().Synced {
		select {
		case <-c.Updates():
		case <-ctx.Done():
			t.Fatal("no clock sync")
		}
	}
	// Two inputs sent within one tick (a loaded machine can delay the updates) are
	// stamped with the same tick, the second revising the first; the host applies
	// whichever revision it holds when the tick runs.
	sent := map[uint32][]byte{}
	var last uint32
	for i := 0; i < 60; i++ {
		select {
		case <-c.Updates():
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
		tick, err := c.SendInput([]byte{byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		sent[tick] = append(sent[tick], byte(i))
		last = tick
	}
	for {
		if a, ok := c.LastAppliedInput(); ok && a == last {
			break
		}
		select {
		case <-c.Updates():
		case <-ctx.Done():
			a, _ := c.LastAppliedInput()
			t.Fatalf("host applied up to %d, last sent %d", a, last)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, a := range got {
		if i > 0 && a.tick <= got[i-1].tick {
			t.Fatalf("inputs out of order: %v", got)
		}
		if revs := sent[a.tick]; !slices.Contains(revs, a.data) {
			t.Fatalf("tick %d applied %d, sent %v", a.tick, a.data, revs)
		}
	}
	st, _ := srv.ClientStats(c.ID())
	if len(got)+int(st.Dropped(DropLateInput)) != len(sent) {
		t.Errorf("%d inputs applied and %d late, %d sent", len(got), st.Dropped(DropLateInput), len(sent))
	}
	if len(got) < len(sent)*9/10 {
		t.Errorf("only %d of %d inputs applied on time", len(got), len(sent))
	}
}

// TestTimeout cuts the network: the host drops the silent client with ErrTimeout
// before ICE gives up, and tells game code; the client times out too. (With
// resumption on, the host suspends the client instead: TestSuspendAndExpire.)
func TestTimeout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nw := netsim.ForTest(t, netsim.Config{Seed: 3})
	hostNet := nw.MustNet(t)
	clientNet := nw.MustNet(t)
	reg := testRegistry(t)
	rec := newRecorder()
	srv, err := NewServer(ServerConfig{
		Registry:  reg,
		Transport: TransportConfig{Net: hostNet},
		// Short enough to fire before ICE gives up (3 s disconnected), long enough
		// that a loaded machine's stalls before the cut do not fire it.
		Timeout:      2 * time.Second,
		ResumeWindow: -1,
		Step: func(tk *Tick) {
			if len(tk.Left) == 0 {
				return
			}
			rec.mu.Lock()
			rec.left = append(rec.left, tk.Left...)
			rec.mu.Unlock()
			rec.poke()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, id := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: TransportConfig{Net: clientNet}, Timeout: 2500 * time.Millisecond, Restart: RestartConfig{Attempts: -1}})
	defer c.Close()
	waitWorld(t, c, 10*time.Second, "a snapshot", func(*snapshot.World) bool { return true })

	nw.SetLoss(1)
	rec.waitFor(t, 20*time.Second, "the host to drop the client", func() bool { return len(rec.left) == 1 })
	rec.mu.Lock()
	d := rec.left[0]
	rec.mu.Unlock()
	if d.Client != id || !errors.Is(d.Reason, ErrTimeout) {
		t.Fatalf("departure %+v, want client %d with ErrTimeout", d, id)
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("client did not notice")
	}
	if !errors.Is(c.Err(), ErrTimeout) {
		t.Fatalf("client ended with %v, want ErrTimeout", c.Err())
	}
}

// TestKickAndServerClose checks the reasons on both sides when the host ends a session.
func TestKickAndServerClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := testRegistry(t)
	rec := newRecorder()
	srv, err := NewServer(ServerConfig{
		Registry:  reg,
		Transport: loopback(),
		Step: func(tk *Tick) {
			if len(tk.Left) > 0 {
				rec.mu.Lock()
				rec.left = append(rec.left, tk.Left...)
				rec.mu.Unlock()
				rec.poke()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	kicked, kid := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback()})
	defer kicked.Close()
	stays, _ := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback()})
	defer stays.Close()

	if err := srv.Kick(kid, "cheating"); err != nil {
		t.Fatal(err)
	}
	if err := srv.Kick(9999, "nobody"); !errors.Is(err, ErrUnknownClient) {
		t.Fatalf("Kick(unknown) = %v", err)
	}
	<-kicked.Done()
	if !errors.Is(kicked.Err(), ErrKicked) {
		t.Fatalf("kicked client ended with %v", kicked.Err())
	}
	rec.waitFor(t, 10*time.Second, "the kick", func() bool { return len(rec.left) == 1 })
	if !errors.Is(rec.left[0].Reason, ErrKicked) {
		t.Fatalf("departure %+v", rec.left[0])
	}
	if err := srv.Send(kid, "hello"); !errors.Is(err, ErrUnknownClient) {
		t.Fatalf("Send to a kicked client = %v", err)
	}

	srv.Close()
	<-stays.Done()
	if !errors.Is(stays.Err(), ErrServerClosed) {
		t.Fatalf("client of a closed host ended with %v", stays.Err())
	}
	if err := stays.Send("late"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Send after close = %v", err)
	}
	if _, err := srv.Accept(ctx, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Accept after Close = %v", err)
	}
}

// TestLargeWorld streams a world far larger than one packet: every message stays
// within one SCTP chunk, sends use several packets, and the client still converges.
func TestLargeWorld(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := testRegistry(t)
	var (
		mu    sync.Mutex
		final *snapshot.World
	)
	srv, err := NewServer(ServerConfig{
		Registry:          reg,
		Transport:         loopback(),
		MaxPacketsPerSend: 3,
		Step: func(tk *Tick) {
			if tk.World.Len() > 0 {
				return
			}
			for i := range 2000 {
				p := Player{X: float32(i%200) - 100, Y: float32(i) / 3, Angle: float32(i), HP: i % 100, Spawn: i % 7}
				if err := tk.World.Set(snapshot.EntityID(i), playerType, p); err != nil {
					panic(err)
				}
			}
			mu.Lock()
			final = snapshot.NewWorld(reg)
			final.CopyFrom(tk.World)
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var (
		omu     sync.Mutex
		largest int
	)
	cfg := ClientConfig{Registry: reg, Transport: loopback()}
	cfg.observe = func(kind byte, _ uint32, size int) {
		omu.Lock()
		largest = max(largest, size)
		omu.Unlock()
	}
	c, _ := connect(ctx, t, srv, cfg)
	defer c.Close()
	waitWorld(t, c, 20*time.Second, "the whole world", func(w *snapshot.World) bool {
		mu.Lock()
		defer mu.Unlock()
		return final != nil && w.Equal(final)
	})
	omu.Lock()
	defer omu.Unlock()
	if largest > MaxUnreliableBytes || largest < MaxUnreliableBytes-200 {
		t.Errorf("largest unreliable message %d bytes, want close to but at most %d", largest, MaxUnreliableBytes)
	}
	st := c.Stats()
	t.Logf("client stats: %d snapshot packets, %d bytes", st.Snapshots, st.BytesIn)
}

// TestCloseAbortsHandshake closes the host while an Accept waits for an offer.
func TestCloseAbortsHandshake(t *testing.T) {
	srv, err := NewServer(ServerConfig{Registry: testRegistry(t), Transport: loopback()})
	if err != nil {
		t.Fatal(err)
	}
	hostSig, peerSig := signaling.Pipe()
	defer peerSig.Close()
	accepted := make(chan error, 1)
	go func() {
		_, err := srv.Accept(context.Background(), hostSig)
		accepted <- err
	}()
	// Close must not wait for the (never coming) offer.
	srv.Close()
	if err := <-accepted; !errors.Is(err, ErrSignaling) && !errors.Is(err, ErrClosed) {
		t.Fatalf("Accept = %v", err)
	}
}

// TestTotals: a departed client's traffic and departure stay in the host's totals, and
// the loop's timing histograms count ticks and sends (netcodeprom exports them).
func TestTotals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := testRegistry(t)
	rec := newRecorder()
	srv, err := NewServer(ServerConfig{Registry: reg, Transport: loopback(), Step: func(tk *Tick) {
		if len(tk.Left) > 0 {
			rec.mu.Lock()
			rec.left = append(rec.left, tk.Left...)
			rec.mu.Unlock()
			rec.poke()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _ := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback()})
	waitWorld(t, c, 10*time.Second, "a snapshot", func(*snapshot.World) bool { return true })
	c.Close()
	rec.waitFor(t, 10*time.Second, "the departure", func() bool { return len(rec.left) == 1 })

	tot, loop, timings := srv.Totals(), srv.LoopStats(), srv.LoopTimings()
	if tot.Disconnects["left"] != 1 || tot.Clients != 0 || tot.Snapshots == 0 || tot.BytesOut == 0 ||
		loop.Ticks == 0 || timings.Tick.Count() == 0 || timings.SendLag.Count() == 0 {
		t.Fatalf("totals %+v, loop %+v, timings %+v", tot, loop, timings)
	}
}

// recordingSignaler remembers the candidates sent through it.
type recordingSignaler struct {
	signaling.Signaler
	mu    sync.Mutex
	cands []string
}

func (r *recordingSignaler) SendSignal(ctx context.Context, s signaling.Signal) error {
	if s.Type == signaling.TypeICE && s.Candidate != "" {
		r.mu.Lock()
		r.cands = append(r.cands, s.Candidate)
		r.mu.Unlock()
	}
	return r.Signaler.SendSignal(ctx, s)
}

// TestPublicIPs checks that the host advertises its configured public address instead
// of its interface address, and that clients still connect (through the address
// their checks are answered from).
func TestPublicIPs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nw := netsim.ForTest(t, netsim.Config{})
	hostNet := nw.MustNet(t)
	clientNet := nw.MustNet(t)
	reg := testRegistry(t)
	srv, err := NewServer(ServerConfig{Registry: reg, Transport: TransportConfig{Net: hostNet, ICE: ICEConfig{PublicIPs: []string{"10.0.0.200"}}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hostSig, clientSig := signaling.Pipe()
	rec := &recordingSignaler{Signaler: hostSig}
	go func() { _, _ = srv.Accept(ctx, rec) }()
	c, err := Dial(ctx, ClientConfig{Registry: reg, Transport: TransportConfig{Net: clientNet}}, clientSig)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.cands) == 0 {
		t.Fatal("no candidates sent")
	}
	for _, cand := range rec.cands {
		if !strings.Contains(cand, " 10.0.0.200 ") {
			t.Errorf("candidate %q does not carry the public address", cand)
		}
	}
}

// TestCommandPacing: commands that arrive together (as after the network held them up)
// are all delivered, once each and in order, paced into the game at CommandBurst at
// once and CommandRate per second, not dropped.
func TestCommandPacing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const (
		commands = 200
		burst    = 10
	)
	reg := testRegistry(t)
	rec := newRecorder()
	var (
		mu      sync.Mutex
		perTick []int // commands Step received per tick, for ticks with any
	)
	srv, err := NewServer(ServerConfig{
		Registry:     reg,
		Transport:    loopback(),
		CommandRate:  600, // 10 a tick at 60 Hz: the burst refills every tick
		CommandBurst: burst,
		Step: func(tk *Tick) {
			if len(tk.Commands) > 0 {
				mu.Lock()
				perTick = append(perTick, len(tk.Commands))
				mu.Unlock()
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			for _, c := range tk.Commands {
				var m cmdMsg
				if err := c.Decode(&m); err == nil {
					rec.commands[c.Client] = append(rec.commands[c.Client], m.Seq)
				}
			}
			rec.poke()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, id := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback()})
	defer c.Close()
	for i := range commands {
		if err := c.Send(cmdMsg{Seq: i}); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitFor(t, 30*time.Second, "every command", func() bool { return len(rec.commands[id]) == commands })
	rec.mu.Lock()
	for i, seq := range rec.commands[id] {
		if seq != i {
			t.Fatalf("command %d has seq %d: %v", i, seq, rec.commands[id])
		}
	}
	rec.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	for _, n := range perTick {
		if n > burst {
			t.Fatalf("a tick got %d commands, more than the burst %d: %v", n, burst, perTick)
		}
	}
	if st, _ := srv.ClientStats(id); st.Dropped(DropQueueFull) != 0 || c.Err() != nil {
		t.Fatalf("drops %v, client %v", st.Drops, c.Err())
	}
}

// TestClientUnreliableBackpressure: on a link too slow for what the client sends, its
// unreliable channel does not queue without bound: updates beyond the bound are
// dropped (they are superseded, and inputs repeat until applied).
func TestClientUnreliableBackpressure(t *testing.T) {
	c := congestedClient(t, 3)
	input := make([]byte, MaxInputBytes)
	var most uint64
	for i := 0; i < 2000; i++ {
		if _, err := c.SendInput(input); err != nil {
			t.Fatal(err)
		}
		most = max(most, c.unrel.BufferedAmount())
	}
	if limit := uint64(maxClientUnreliableBuffered + MaxUnreliableBytes); most > limit {
		t.Fatalf("the unreliable channel held %d bytes, bound %d", most, limit)
	}
	if n := c.Stats().Dropped(DropBackpressure); n == 0 {
		t.Fatalf("no update dropped for backpressure (held at most %d bytes)", most)
	}
}

// congestedClient connects a client over a network that, once connected, carries
// 16 kbit/s: 2 KB a second, far below what a client sending an input per call sends.
func congestedClient(t *testing.T, seed int64) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nw := netsim.ForTest(t, netsim.Config{Seed: seed})
	reg := testRegistry(t)
	srv, err := NewServer(ServerConfig{Registry: reg, Transport: TransportConfig{Net: nw.MustNet(t)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, _ := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: TransportConfig{Net: nw.MustNet(t)}})
	t.Cleanup(func() { c.Close() })
	if err := nw.SetConfig(netsim.Config{Seed: seed, Bandwidth: 16_000}); err != nil {
		t.Fatal(err)
	}
	return c
}
