//go:build !js

package netcode

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/internal/netsim"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

// counterGame is a host whose world holds one entity per client, its X counting the
// commands that client sent; it records what Step saw.
func counterGame(t *testing.T, reg *snapshot.Registry, rec *recorder) func(tk *Tick) {
	return func(tk *Tick) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, id := range tk.Joined {
			rec.joined = append(rec.joined, id)
			if err := tk.World.Set(snapshot.EntityID(id), playerType, Player{}); err != nil {
				panic(err)
			}
		}
		rec.left = append(rec.left, tk.Left...)
		for _, c := range tk.Commands {
			var m cmdMsg
			if err := c.Decode(&m); err != nil {
				panic(err)
			}
			rec.commands[c.Client] = append(rec.commands[c.Client], m.Seq)
			var p Player
			tk.World.Get(snapshot.EntityID(c.Client), &p)
			p.X++
			if err := tk.World.Set(snapshot.EntityID(c.Client), playerType, p); err != nil {
				panic(err)
			}
		}
		if len(tk.Joined)+len(tk.Left)+len(tk.Commands) > 0 {
			rec.poke()
		}
	}
}

// TestICERestartBlackhole drops every packet of the client for 3 s. ICE notices (it is
// told to after 1 s of silence here), one side restarts ICE through the signaling path
// while the network is still down, and the session recovers once the network returns:
// no departure, the commands sent during the blackhole arrive exactly once and in
// order, and the client's world converges. Either the client restarts (as it normally
// does, first) or, with the client's restarts off, the host does.
func TestICERestartBlackhole(t *testing.T) {
	for _, tc := range []struct {
		name         string
		client, host RestartConfig
		clientStarts bool
	}{
		{"client restarts", RestartConfig{After: 200 * time.Millisecond}, RestartConfig{}, true},
		{"host restarts", RestartConfig{Attempts: -1}, RestartConfig{After: 200 * time.Millisecond}, false},
	} {
		t.Run(tc.name, func(t *testing.T) { testBlackhole(t, tc.client, tc.host, tc.clientStarts) })
	}
}

// blackholeHost starts a counterGame host on a simulated network with fast ICE
// timeouts, for tests that blackhole the network; it returns the network and the
// client's transport on it. The host closes when the test ends.
func blackholeHost(t *testing.T, hostRestart RestartConfig) (*netsim.Network, *snapshot.Registry, *recorder, *Server, TransportConfig) {
	nw := netsim.ForTest(t, netsim.Config{Delay: 5 * time.Millisecond, Seed: 5})
	reg := testRegistry(t)
	rec := newRecorder()
	fast := TransportConfig{ICEDisconnectedTimeout: time.Second, ICEKeepaliveInterval: 200 * time.Millisecond}
	hostTr, clientTr := fast, fast
	hostTr.Net, clientTr.Net = nw.MustNet(t), nw.MustNet(t)
	srv, err := NewServer(ServerConfig{Registry: reg, Transport: hostTr, Restart: hostRestart, Step: counterGame(t, reg, rec)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return nw, reg, rec, srv, clientTr
}

func testBlackhole(t *testing.T, clientRestart, hostRestart RestartConfig, clientStarts bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nw, reg, rec, srv, clientTr := blackholeHost(t, hostRestart)
	c, id := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: clientTr, Restart: clientRestart})
	defer c.Close()
	waitWorld(t, c, 20*time.Second, "a first snapshot", func(*snapshot.World) bool { return true })

	nw.SetLoss(1)
	blackholeEnds := time.After(3 * time.Second)
	const commands = 20
	for i := range commands {
		if err := c.Send(cmdMsg{Seq: i}); err != nil {
			t.Fatal(err)
		}
	}
	restarts := func() uint64 {
		if clientStarts {
			return c.Stats().Restarts
		}
		st, _ := srv.ClientStats(id)
		return st.Restarts
	}
	pollUntil(t, 20*time.Second, "an ICE restart to start", func() bool { return restarts() > 0 })
	<-blackholeEnds
	nw.SetLoss(0)
	rec.waitFor(t, 30*time.Second, "every command", func() bool { return len(rec.commands[id]) == commands })
	want := Player{X: commands}
	waitWorld(t, c, 20*time.Second, "the client's world to converge", func(w *snapshot.World) bool {
		var p Player
		ok, err := w.Get(snapshot.EntityID(id), &p)
		return ok && err == nil && p == want
	})
	pollUntil(t, 20*time.Second, "the client to be connected", func() bool { return c.State() == LinkConnected })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, s := range rec.commands[id] {
		if s != i {
			t.Fatalf("commands %v, want 0..%d once each in order", rec.commands[id], commands-1)
		}
	}
	if len(rec.left) > 0 {
		t.Fatalf("departures %+v, want none", rec.left)
	}
}

// TestNoRestartWithoutSignaling closes the signaling path (the player left the
// lobby), then blackholes the network until ICE calls the connection disconnected on
// both sides, and past the time a restart would start. No restart starts, on the
// client or (for a client that does not restart ICE itself) on the host: its offer
// would reach nobody, and applying it would tear down the ICE session. When the
// network returns, ICE recovers by itself and commands flow again. (CI run 56:
// TestLobbyDrainWithGames, a player that had left the draining lobby restarted on a
// stall and ended after "4 ICE restarts failed".)
func TestNoRestartWithoutSignaling(t *testing.T) {
	for _, tc := range []struct {
		name         string
		client, host RestartConfig
	}{
		{"client restarts", RestartConfig{After: 200 * time.Millisecond}, RestartConfig{}},
		{"host restarts", RestartConfig{Attempts: -1}, RestartConfig{After: 200 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) { testNoRestartWithoutSignaling(t, tc.client, tc.host) })
	}
}

func testNoRestartWithoutSignaling(t *testing.T, clientRestart, hostRestart RestartConfig) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nw, reg, rec, srv, clientTr := blackholeHost(t, hostRestart)
	hostSig, clientSig := signaling.Pipe()
	accepted := make(chan error, 1)
	go func() {
		_, err := srv.Accept(ctx, hostSig)
		accepted <- err
	}()
	c, err := Dial(ctx, ClientConfig{Registry: reg, Transport: clientTr, Restart: clientRestart}, clientSig)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	id := c.ID()
	waitWorld(t, c, 20*time.Second, "a first snapshot", func(*snapshot.World) bool { return true })
	srv.mu.Lock()
	sess := srv.sessions[id]
	srv.mu.Unlock()
	hostICE := func() webrtc.ICEConnectionState {
		sess.life.mu.Lock()
		defer sess.life.mu.Unlock()
		return sess.life.ice
	}

	clientSig.Close()
	pollUntil(t, 20*time.Second, "both sides to see the signaling path closed", func() bool { return c.sigw.closed() && sess.sigw.closed() })
	nw.SetLoss(1)
	pollUntil(t, 20*time.Second, "ICE to call the connection down on both sides", func() bool {
		return c.State() == LinkRestarting && !iceUp(hostICE())
	})
	// Past RestartConfig.After, a restart would have started: the outage itself.
	<-time.After(time.Second)
	nw.SetLoss(0)
	if err := c.Send(cmdMsg{Seq: 0}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 30*time.Second, "a command after the outage", func() bool { return len(rec.commands[id]) == 1 })
	waitWorld(t, c, 20*time.Second, "the command's effect in a snapshot", func(w *snapshot.World) bool {
		var p Player
		ok, err := w.Get(snapshot.EntityID(id), &p)
		return ok && err == nil && p.X == 1
	})
	hst, _ := srv.ClientStats(id)
	if st := c.Stats(); st.Restarts != 0 || hst.Restarts != 0 || c.Err() != nil {
		t.Fatalf("after the outage: client %d restarts, host %d, client err %v; want none and connected", st.Restarts, hst.Restarts, c.Err())
	}
}

// pollUntil polls cond until it holds, for state that signals no event.
func pollUntil(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-time.After(20 * time.Millisecond)
	}
}

// lifeRecorder adds what Step saw of the lifecycle to a recorder.
type lifeRecorder struct {
	*recorder
	suspended, resumed []ClientID
	events             []string // "suspended 3", "resumed 3", "left 3"
}

func newLifeRecorder() *lifeRecorder { return &lifeRecorder{recorder: newRecorder()} }

// step wraps a game: it records the lifecycle fields, then runs game.
func (r *lifeRecorder) step(game func(*Tick)) func(*Tick) {
	return func(tk *Tick) {
		r.mu.Lock()
		for _, id := range tk.Suspended {
			r.suspended = append(r.suspended, id)
			r.events = append(r.events, fmt.Sprintf("suspended %d", id))
		}
		for _, id := range tk.Resumed {
			r.resumed = append(r.resumed, id)
			r.events = append(r.events, fmt.Sprintf("resumed %d", id))
		}
		for _, l := range tk.Left {
			r.events = append(r.events, fmt.Sprintf("left %d", l.Client))
		}
		changed := len(tk.Suspended)+len(tk.Resumed) > 0
		r.mu.Unlock()
		game(tk)
		if changed {
			r.poke()
		}
	}
}

// kill ends a client as if its process died: no goodbye, its peer connection closed.
func kill(c *Client) {
	c.end(fmt.Errorf("%w: killed by the test", ErrConnectionLost))
	<-c.Done()
}

// TestResumeAfterHardClose closes a client's peer connection hard, as if its process
// died, and resumes its session from a new client with its ResumeState: same ID, the
// game saw a suspension and a resumption (no departure, no join), the entity and its
// score persist, the new client's first snapshot decodes on its own (a full one),
// commands the old client had sent but not seen acknowledged arrive exactly once, and
// events the host sent during the gap arrive in order.
func TestResumeAfterHardClose(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg := testRegistry(t)
	rec := newLifeRecorder()
	srv, err := NewServer(ServerConfig{Registry: reg, Transport: loopback(), Step: rec.step(counterGame(t, reg, rec.recorder))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	a, id := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback()})
	const before = 5
	for i := range before {
		if err := a.Send(cmdMsg{Seq: i}); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitFor(t, 20*time.Second, "the first commands", func() bool { return len(rec.commands[id]) == before })
	if err := srv.Send(id, "before"); err != nil {
		t.Fatal(err)
	}
	if ev := <-a.Events(); !eventIs(ev, "before") {
		t.Fatalf("first event %q", ev.Data)
	}

	kill(a)
	rec.waitFor(t, 20*time.Second, "the game to see the suspension", func() bool { return len(rec.suspended) == 1 })
	for _, ev := range []string{"gap 1", "gap 2", "gap 3"} {
		if err := srv.Send(id, ev); err != nil {
			t.Fatalf("event to a suspended client: %v", err)
		}
	}
	st := a.ResumeState()
	if st == nil {
		t.Fatalf("no resume state after %v", a.Err())
	}
	// Two commands the dead process had sent that never reached the host: the
	// resumption must deliver them once, after the five the host has.
	for _, seq := range []int{before, before + 1} {
		body, err := msgpackMarshal(cmdMsg{Seq: seq})
		if err != nil {
			t.Fatal(err)
		}
		st.Unacked = append(st.Unacked, body)
		st.Commands++
	}

	b, bid, err := tryConnect(ctx, srv, ClientConfig{Registry: reg, Transport: loopback(), Resume: st})
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	defer b.Close()
	if bid != id || b.ID() != id {
		t.Fatalf("resumed as client %d (client says %d), want %d", bid, b.ID(), id)
	}
	for _, want := range []string{"gap 1", "gap 2", "gap 3"} {
		select {
		case ev := <-b.Events():
			if !eventIs(ev, want) {
				t.Fatalf("replayed event %q, want %q", ev.Data, want)
			}
		case <-ctx.Done():
			t.Fatalf("waiting for replayed event %q", want)
		}
	}
	// The first snapshot the new client decodes holds the entity with its score:
	// with no baselines it can only be a full one.
	var first Player
	waitWorld(t, b, 20*time.Second, "a first snapshot", func(w *snapshot.World) bool {
		ok, err := w.Get(snapshot.EntityID(id), &first)
		return ok && err == nil
	})
	if st := b.Stats(); st.Dropped(DropSnapshotDecode) != 0 || st.Resumes != 1 {
		t.Fatalf("new client stats %+v, want no undecodable snapshot and one resumption", st)
	}
	if err := b.Send(cmdMsg{Seq: before + 2}); err != nil {
		t.Fatal(err)
	}
	const total = before + 3
	rec.waitFor(t, 20*time.Second, "every command", func() bool { return len(rec.commands[id]) >= total })
	waitWorld(t, b, 20*time.Second, "the score to count every command once", func(w *snapshot.World) bool {
		var p Player
		ok, err := w.Get(snapshot.EntityID(id), &p)
		return ok && err == nil && p.X == total
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.commands[id]) != total {
		t.Fatalf("commands %v, want 0..%d once each", rec.commands[id], total-1)
	}
	for i, s := range rec.commands[id] {
		if s != i {
			t.Fatalf("commands %v, want 0..%d once each in order", rec.commands[id], total-1)
		}
	}
	if want := fmt.Sprintf("[suspended %d resumed %d]", id, id); fmt.Sprint(rec.events) != want || len(rec.joined) != 1 || len(rec.left) != 0 {
		t.Fatalf("game saw %v, joins %v, departures %v; want %s, one join, no departure", rec.events, rec.joined, rec.left, want)
	}
}

// TestResumeCommandDuringTakeOver holds the host's takeover open until the resumed
// client's first resent command has reached the new connection: the client sends it
// as soon as the welcome arrives, and on a loaded machine it can arrive before the
// takeover ends. The command, and those after it, must still reach the game once
// each and in order. (Numbered before the session held its identity, the command
// was dropped as out of sequence and every later one with it: CI run 49 of issue 10.)
func TestResumeCommandDuringTakeOver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg := testRegistry(t)
	rec := newLifeRecorder()
	var resuming atomic.Bool
	arrived := make(chan struct{}, 1)
	cfg := ServerConfig{Registry: reg, Transport: loopback(), Step: rec.step(counterGame(t, reg, rec.recorder))}
	cfg.observeReliable = func(kind byte) {
		if kind == kindCommand && resuming.Load() {
			select {
			case arrived <- struct{}{}:
			default:
			}
		}
	}
	held := make(chan bool, 1)
	cfg.observeTakeOver = func() {
		select {
		case <-arrived:
			held <- true
		case <-ctx.Done():
			held <- false
		}
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	a, id := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback()})
	if err := a.Send(cmdMsg{Seq: 0}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 20*time.Second, "the first command", func() bool { return len(rec.commands[id]) == 1 })
	kill(a)
	rec.waitFor(t, 20*time.Second, "the game to see the suspension", func() bool { return len(rec.suspended) == 1 })
	st := a.ResumeState()
	if st == nil {
		t.Fatalf("no resume state after %v", a.Err())
	}
	body, err := msgpackMarshal(cmdMsg{Seq: 1})
	if err != nil {
		t.Fatal(err)
	}
	st.Unacked = append(st.Unacked, body)
	st.Commands++

	resuming.Store(true)
	b, _, err := tryConnect(ctx, srv, ClientConfig{Registry: reg, Transport: loopback(), Resume: st})
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	defer b.Close()
	if !<-held {
		t.Fatal("the resent command never reached the host while the takeover was held")
	}
	if err := b.Send(cmdMsg{Seq: 2}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 20*time.Second, "the resent command and the next one", func() bool { return len(rec.commands[id]) >= 3 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if fmt.Sprint(rec.commands[id]) != "[0 1 2]" {
		t.Fatalf("commands %v, want [0 1 2]", rec.commands[id])
	}
}

func eventIs(ev Event, want string) bool {
	var s string
	return ev.Decode(&s) == nil && s == want
}

func msgpackMarshal(v any) ([]byte, error) {
	msg, err := marshalMessage(kindCommand, v)
	if err != nil {
		return nil, err
	}
	return msg[1:], nil
}

// TestSuspendRecoverExpire cuts the client off for longer than the host's timeout:
// the game sees a suspension (not a departure), events sent meanwhile wait, and when
// the network returns the client recovers on its own connection (the game sees it
// resumed) and gets the events in order. Cut off again for longer than ResumeWindow,
// the client leaves with the original reason.
func TestSuspendRecoverExpire(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nw := netsim.ForTest(t, netsim.Config{Seed: 9})
	reg := testRegistry(t)
	rec := newLifeRecorder()
	srv, err := NewServer(ServerConfig{
		Registry:     reg,
		Transport:    TransportConfig{Net: nw.MustNet(t)},
		Timeout:      500 * time.Millisecond,
		ResumeWindow: 2 * time.Second,
		Step:         rec.step(counterGame(t, reg, rec.recorder)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, id := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: TransportConfig{Net: nw.MustNet(t)}, Timeout: time.Minute})
	defer c.Close()
	waitWorld(t, c, 20*time.Second, "a first snapshot", func(*snapshot.World) bool { return true })

	nw.SetLoss(1)
	rec.waitFor(t, 20*time.Second, "the suspension", func() bool { return len(rec.suspended) == 1 })
	for _, ev := range []string{"wait 1", "wait 2"} {
		if err := srv.Send(id, ev); err != nil {
			t.Fatalf("event to a suspended client: %v", err)
		}
	}
	nw.SetLoss(0)
	rec.waitFor(t, 20*time.Second, "the recovery", func() bool { return len(rec.resumed) == 1 })
	for _, want := range []string{"wait 1", "wait 2"} {
		select {
		case ev := <-c.Events():
			if !eventIs(ev, want) {
				t.Fatalf("event %q, want %q", ev.Data, want)
			}
		case <-ctx.Done():
			t.Fatalf("waiting for event %q", want)
		}
	}
	if st := srv.LifecycleStats(); st.Recovered != 1 || st.Suspended != 0 {
		t.Fatalf("lifecycle stats %+v, want one recovery and none suspended", st)
	}

	nw.SetLoss(1)
	rec.waitFor(t, 30*time.Second, "the departure after the window", func() bool { return len(rec.left) == 1 })
	rec.mu.Lock()
	d, events := rec.left[0], fmt.Sprint(rec.events)
	rec.mu.Unlock()
	if d.Client != id || !errors.Is(d.Reason, ErrTimeout) {
		t.Fatalf("departure %+v, want client %d with ErrTimeout", d, id)
	}
	if want := fmt.Sprintf("[suspended %d resumed %d suspended %d left %d]", id, id, id, id); events != want {
		t.Fatalf("game saw %s, want %s", events, want)
	}
	if st := srv.LifecycleStats(); st.Expired != 1 || st.Suspensions != 2 {
		t.Fatalf("lifecycle stats %+v, want two suspensions, one expired", st)
	}
}

// TestResumeBytes checks both sides' bound on what a resumption keeps. On the host:
// events piling up for a suspended client past ResumeBytes make it leave with
// ErrResumeOverflow rather than lose events; events outgrowing it while connected
// (faster than the client acknowledges) cost the client its resumability, so that a
// later loss is a departure. On the client: commands waiting for acknowledgement past
// ClientConfig.ResumeBytes cost it its ResumeState.
func TestResumeBytes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg := testRegistry(t)
	rec := newLifeRecorder()
	srv, err := NewServer(ServerConfig{
		Registry:    reg,
		Transport:   loopback(),
		ResumeBytes: 1000,
		Step:        rec.step(counterGame(t, reg, rec.recorder)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	event := string(make([]byte, 300))

	// Suspended: the fourth event of 300 bytes overflows. (A command the game
	// saw shows the client's key, sent before it, has arrived: from then on the
	// host keeps events for it.)
	a, aid := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback()})
	if err := a.Send(cmdMsg{}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 20*time.Second, "a's command", func() bool { return len(rec.commands[aid]) == 1 })
	kill(a)
	rec.waitFor(t, 20*time.Second, "the suspension", func() bool { return len(rec.suspended) == 1 })
	for i := range 4 {
		if err := srv.Send(aid, event); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	rec.waitFor(t, 20*time.Second, "the departure", func() bool { return len(rec.left) == 1 })
	rec.mu.Lock()
	d := rec.left[0]
	rec.mu.Unlock()
	if d.Client != aid || !errors.Is(d.Reason, ErrResumeOverflow) {
		t.Fatalf("departure %+v, want client %d with ErrResumeOverflow", d, aid)
	}

	// Connected: four events sent at once outgrow the bound before the client
	// can acknowledge them; the client then leaves at once when lost.
	b, bid := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: loopback(), ResumeBytes: 100})
	if err := b.Send(cmdMsg{}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 20*time.Second, "b's command", func() bool { return len(rec.commands[bid]) == 1 })
	for range 4 {
		if err := srv.Send(bid, event); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := srv.ClientStats(bid); st.ResumeLost != 1 {
		t.Fatalf("host stats of client %d: ResumeLost %d, want 1", bid, st.ResumeLost)
	}
	for i := range 4 {
		if err := b.Send(padCmd{Seq: i, Pad: event}); err != nil {
			t.Fatal(err)
		}
	}
	if st := b.ResumeState(); st != nil || b.Stats().ResumeLost != 1 {
		t.Fatalf("client with 1200 bytes of commands over a 100-byte bound: resume state %v, stats %+v", st, b.Stats())
	}
	kill(b)
	rec.waitFor(t, 20*time.Second, "the second departure", func() bool { return len(rec.left) == 2 })
	rec.mu.Lock()
	d = rec.left[1]
	rec.mu.Unlock()
	if d.Client != bid || !errors.Is(d.Reason, ErrConnectionLost) {
		t.Fatalf("departure %+v, want client %d with ErrConnectionLost", d, bid)
	}
	if st := srv.LifecycleStats(); st.Overflowed != 1 || st.ResumeLost != 1 || st.Suspensions != 1 {
		t.Fatalf("lifecycle stats %+v, want one overflow, one lost resumability, one suspension", st)
	}
}

// padCmd is a cmdMsg with padding.
type padCmd struct {
	Seq int    `msgpack:"seq"`
	Pad string `msgpack:"pad"`
}

// TestResumeRefused tries resumptions the host must refuse, each with a typed error on
// the client's side and nothing changed on the host's: a token of the wrong length,
// random bytes, another client's token (without that client's key), a token replayed
// twice at once (one wins), a token used already, and one whose window has passed.
// The client whose token was misused plays on undisturbed.
func TestResumeRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg := testRegistry(t)
	rec := newLifeRecorder()
	// The window must outlast the replayed resumptions' handshakes on a loaded
	// machine; its end is awaited below.
	srv, err := NewServer(ServerConfig{Registry: reg, Transport: loopback(), ResumeWindow: 8 * time.Second,
		Step: rec.step(counterGame(t, reg, rec.recorder))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := ClientConfig{Registry: reg, Transport: loopback()}
	a, aid := connect(ctx, t, srv, cfg)
	defer a.Close()
	stA := a.ResumeState()
	if stA == nil {
		t.Fatal("no resume state")
	}
	refused := func(name string, st *ResumeState, want error) {
		t.Helper()
		c := cfg
		c.Resume = st
		b, _, err := tryConnect(ctx, srv, c)
		if err == nil {
			b.Close()
			t.Fatalf("%s: resumed, want %v", name, want)
		}
		if !errors.Is(err, want) || !errors.Is(err, ErrRejected) {
			t.Fatalf("%s: %v, want a rejection matching %v", name, err, want)
		}
	}
	forged := *stA
	forged.Token = "AQAAAAEAAAAB"
	refused("short token", &forged, ErrResumeInvalid)
	forged.Token = strings.Repeat("Zm9v", 9)[:len(stA.Token)]
	refused("random token", &forged, ErrResumeInvalid)
	forged = *stA
	forged.Key = make([]byte, len(stA.Key))
	refused("another client's token", &forged, ErrResumeInvalid)

	// a plays on: a command still arrives, and the game saw nothing happen to it.
	if err := a.Send(cmdMsg{Seq: 0}); err != nil {
		t.Fatal(err)
	}
	rec.waitFor(t, 20*time.Second, "a's command", func() bool { return len(rec.commands[aid]) == 1 })
	if n := len(srv.Clients()); n != 1 {
		t.Fatalf("%d clients on the host, want 1", n)
	}

	// a dies; its token, replayed twice at once, resumes it once.
	kill(a)
	stA = a.ResumeState()
	type result struct {
		c   *Client
		err error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			c := cfg
			c.Resume = stA
			b, _, err := tryConnect(ctx, srv, c)
			results <- result{b, err}
		}()
	}
	var won *Client
	for range 2 {
		r := <-results
		switch {
		case r.err == nil && won == nil:
			won = r.c
		case r.err == nil:
			r.c.Close()
			t.Fatal("a token replayed twice at once resumed twice")
		case !errors.Is(r.err, ErrResumeReplayed):
			t.Fatalf("the replay's loser: %v, want ErrResumeReplayed", r.err)
		}
	}
	if won == nil {
		t.Fatal("neither resumed")
	}
	defer won.Close()
	refused("used token", stA, ErrResumeReplayed)

	// The window passes: the session leaves, its token expires.
	stB := won.ResumeState()
	kill(won)
	rec.waitFor(t, 40*time.Second, "the departure after the window", func() bool { return len(rec.left) == 1 })
	refused("expired token", stB, ErrResumeExpired)
	if n, st := len(srv.Clients()), srv.LifecycleStats(); n != 0 || st.Suspended != 0 || st.Resumed != 1 {
		t.Fatalf("host keeps %d clients, lifecycle %+v; want none suspended and one resumption", n, st)
	}
}

// TestICERestartNetworkSwitch moves the client to a new address (a new vnet interface;
// the old address goes silent for good), as a phone moving from Wi-Fi to mobile data.
// Either ICE notices (the quiet watch off) and the client restarts it, or the application, told by the
// system that the network changed, calls RestartICE; the restart gathers the new
// address and snapshots flow again; commands sent meanwhile arrive once; nobody left.
func TestICERestartNetworkSwitch(t *testing.T) {
	for _, tell := range []bool{false, true} {
		name := "ICE notices"
		if tell {
			name = "the application tells"
		}
		t.Run(name, func(t *testing.T) { testNetworkSwitch(t, tell) })
	}
}

func testNetworkSwitch(t *testing.T, tell bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nw := netsim.ForTest(t, netsim.Config{Delay: 5 * time.Millisecond, Seed: 11})
	roam, err := nw.NewRoaming()
	if err != nil {
		t.Fatal(err)
	}
	reg := testRegistry(t)
	rec := newLifeRecorder()
	fast := TransportConfig{ICEDisconnectedTimeout: time.Second, ICEKeepaliveInterval: 200 * time.Millisecond}
	hostTr, clientTr := fast, fast
	hostTr.Net, clientTr.Net = nw.MustNet(t), roam
	srv, err := NewServer(ServerConfig{Registry: reg, Transport: hostTr, Step: rec.step(counterGame(t, reg, rec.recorder))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	// ICE's own detection is tested here: the quiet watch (TestQuietRestart) is off.
	c, id := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: clientTr, Restart: RestartConfig{After: 200 * time.Millisecond, Quiet: -1}})
	defer c.Close()
	waitWorld(t, c, 20*time.Second, "a first snapshot", func(*snapshot.World) bool { return true })

	if err := roam.Switch(); err != nil {
		t.Fatal(err)
	}
	if tell {
		c.RestartICE()
	}
	const commands = 10
	for i := range commands {
		if err := c.Send(cmdMsg{Seq: i}); err != nil {
			t.Fatal(err)
		}
	}
	rec.waitFor(t, 30*time.Second, "every command", func() bool { return len(rec.commands[id]) == commands })
	waitWorld(t, c, 20*time.Second, "the world with every command", func(w *snapshot.World) bool {
		var p Player
		ok, err := w.Get(snapshot.EntityID(id), &p)
		return ok && err == nil && p.X == commands
	})
	pollUntil(t, 20*time.Second, "the client to be connected", func() bool { return c.State() == LinkConnected })
	if st := c.Stats(); st.Restarts == 0 {
		t.Fatalf("client stats %+v: no ICE restart", st)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i, s := range rec.commands[id] {
		if s != i {
			t.Fatalf("commands %v, want 0..%d once each in order", rec.commands[id], commands-1)
		}
	}
	if len(rec.left) > 0 {
		t.Fatalf("departures %+v, want none", rec.left)
	}
}

// TestRestartAttempts: a network that never comes back costs the client
// Restart.Attempts ICE restarts, then it ends with ErrConnectionLost and a state to
// resume with (the host keeps its session for the resume window).
func TestRestartAttempts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	nw := netsim.ForTest(t, netsim.Config{Seed: 13})
	reg := testRegistry(t)
	fast := TransportConfig{ICEDisconnectedTimeout: time.Second, ICEKeepaliveInterval: 200 * time.Millisecond}
	hostTr, clientTr := fast, fast
	hostTr.Net, clientTr.Net = nw.MustNet(t), nw.MustNet(t)
	srv, err := NewServer(ServerConfig{Registry: reg, Transport: hostTr})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _ := connect(ctx, t, srv, ClientConfig{Registry: reg, Transport: clientTr, Timeout: time.Minute,
		Restart: RestartConfig{After: 100 * time.Millisecond, Attempts: 2, Timeout: 500 * time.Millisecond, Backoff: 100 * time.Millisecond}})
	defer c.Close()
	waitWorld(t, c, 20*time.Second, "a first snapshot", func(*snapshot.World) bool { return true })
	nw.SetLoss(1)
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatalf("the client kept restarting: %+v", c.Stats())
	}
	if st := c.Stats(); !errors.Is(c.Err(), ErrConnectionLost) || st.Restarts != 2 || st.RestartsFailed != 2 {
		t.Fatalf("client ended with %v after %d restarts (%d failed), want ErrConnectionLost after 2", c.Err(), st.Restarts, st.RestartsFailed)
	}
	if c.ResumeState() == nil {
		t.Fatal("no resume state after a lost connection")
	}
}
