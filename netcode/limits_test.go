//go:build !js

package netcode

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/clock"
	"github.com/volleynet/volley/internal/netsim"
	"github.com/volleynet/volley/signaling"
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
		Registry:     reg,
		Transport:    TransportConfig{Net: hostNet},
		Clock:        fake,
		Timeout:      timeout,
		ResumeWindow: -1, // a timeout then ends the session (with one, it suspends it)
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

// rejectCode returns the code of a *RejectError in err, or "".
func rejectCode(err error) string {
	var r *RejectError
	if errors.As(err, &r) {
		return r.Code
	}
	return ""
}

// TestHostFullRejects: a full host tells the player so, and Dial returns ErrHostFull
// at once, not when its context runs out (30 s here).
func TestHostFullRejects(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := testRegistry(t)
	srv, err := NewServer(ServerConfig{Registry: reg, Transport: loopback(), MaxClients: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _ := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback()})
	defer c.Close()
	_, _, err = tryConnect(ctx, srv, ClientConfig{Registry: reg, Transport: loopback()})
	if !errors.Is(err, ErrHostFull) || !errors.Is(err, ErrRejected) || rejectCode(err) != "host_full" {
		t.Fatalf("Dial to a full host = %v, want a RejectError with ErrHostFull", err)
	}
	srv.mu.Lock()
	n := srv.totals.refusals["host_full"]
	srv.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d host_full refusals counted, want 1", n)
	}
}

// TestBadChannelsRejected: a client whose channels the host refuses is told, and Dial
// returns ErrRejected (with ErrBadChannel).
func TestBadChannelsRejected(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := testRegistry(t)
	srv, err := NewServer(ServerConfig{Registry: reg, Transport: loopback()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := ClientConfig{Registry: reg, Transport: loopback()}
	cfg.badChannels = true
	_, _, err = tryConnect(ctx, srv, cfg)
	if !errors.Is(err, ErrRejected) || !errors.Is(err, ErrBadChannel) || rejectCode(err) != "bad_channel" {
		t.Fatalf("Dial with an ordered unreliable channel = %v, want a RejectError with ErrBadChannel", err)
	}
}

// waitPending polls the host's pending handshakes (no event marks an Accept that is
// waiting for its offer) until there are n.
func waitPending(ctx context.Context, t *testing.T, srv *Server, n int) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for srv.LoopStats().Pending != n {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("waiting for %d pending handshakes, have %d", n, srv.LoopStats().Pending)
		}
	}
}

// TestPendingHandshakeBudget: with MaxPendingHandshakes handshakes waiting for
// offers that never come, the next player is refused as busy (and told); once they
// are gone a player connects.
func TestPendingHandshakeBudget(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := testRegistry(t)
	srv, err := NewServer(ServerConfig{Registry: reg, Transport: loopback(), MaxPendingHandshakes: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	accepted := make(chan error, 2)
	var silent []*signaling.PipeEnd
	for range 2 {
		hostSig, peerSig := signaling.Pipe()
		silent = append(silent, peerSig)
		go func() {
			_, err := srv.Accept(ctx, hostSig)
			accepted <- err
		}()
	}
	waitPending(ctx, t, srv, 2)
	ccfg := ClientConfig{Registry: reg, Transport: loopback()}
	_, _, err = tryConnect(ctx, srv, ccfg)
	if !errors.Is(err, ErrBusy) || !errors.Is(err, ErrRejected) || rejectCode(err) != "busy" {
		t.Fatalf("Dial with 2 handshakes pending = %v, want a RejectError with ErrBusy", err)
	}
	for _, p := range silent {
		p.Close()
	}
	for range 2 {
		if err := <-accepted; !errors.Is(err, ErrSignaling) {
			t.Fatalf("abandoned handshake: Accept = %v, want ErrSignaling", err)
		}
	}
	c, _ := connect(ctx, t, srv, ccfg)
	c.Close()
}

// peerPipe is a signaling pipe end that knows its peer, as the lobby's signalers do.
type peerPipe struct {
	*signaling.PipeEnd
	peer string
}

func (p peerPipe) Peer() string { return p.peer }

// TestPendingHandshakePerPeer: a peer holds one pending handshake. A second Accept for
// the same peer replaces the first (even with the budget used up), and a new offer on
// the same path restarts the handshake with it.
func TestPendingHandshakePerPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := testRegistry(t)
	srv, err := NewServer(ServerConfig{Registry: reg, Transport: loopback(), MaxPendingHandshakes: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ccfg := ClientConfig{Registry: reg, Transport: loopback()}

	// An Accept for peer "p" that never gets an offer, then another for "p".
	oldHost, oldPeer := signaling.Pipe()
	defer oldPeer.Close()
	first := make(chan error, 1)
	go func() {
		_, err := srv.Accept(ctx, peerPipe{oldHost, "p"})
		first <- err
	}()
	waitPending(ctx, t, srv, 1)
	hostSig, clientSig := signaling.Pipe()
	defer hostSig.Close()
	type result struct {
		id  ClientID
		err error
	}
	second := make(chan result, 1)
	go func() {
		id, err := srv.Accept(ctx, peerPipe{hostSig, "p"})
		second <- result{id, err}
	}()
	if err := <-first; !errors.Is(err, ErrReplaced) {
		t.Fatalf("replaced handshake: Accept = %v, want ErrReplaced", err)
	}

	// On the second path, an offer that is never completed, then Dial's own.
	api, err := NewWebRTCAPI(loopback())
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, err := pc.CreateDataChannel(LabelReliable, nil); err != nil {
		t.Fatal(err)
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := clientSig.SendSignal(ctx, signaling.Signal{Type: signaling.TypeOffer, SDP: offer.SDP}); err != nil {
		t.Fatal(err)
	}
	for {
		s, err := clientSig.RecvSignal(ctx)
		if err != nil {
			t.Fatalf("waiting for the answer to the first offer: %v", err)
		}
		if s.Type == signaling.TypeAnswer {
			break
		}
	}
	c, err := Dial(ctx, ccfg, clientSig)
	if err != nil {
		t.Fatalf("Dial after an abandoned offer on the same path: %v", err)
	}
	defer c.Close()
	if r := <-second; r.err != nil || r.id != c.ID() {
		t.Fatalf("Accept = %d, %v; the client is %d", r.id, r.err, c.ID())
	}
}
