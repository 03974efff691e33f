//go:build !js

package lobby

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/volleynet/volley/signaling"
)

func TestClient(t *testing.T) {
	env := newEnv(t, Config{})
	ctx := testCtx(t)
	host := dialClient(t, env.url)
	room, err := host.Create(ctx, RoomOptions{Name: "duel", Capacity: 2, Metadata: json.RawMessage(`{"mode":"ffa"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if id, isHost := host.Room(); id != room.ID || !isHost {
		t.Fatalf("Room() = %q %v", id, isHost)
	}
	if _, err := host.Create(ctx, RoomOptions{}); !errors.Is(err, &Error{Code: CodeAlreadyInRoom}) {
		t.Fatalf("second create: %v", err)
	}

	p1 := dialClient(t, env.url)
	if sig := p1.HostSignaler(); sig != nil {
		if _, err := sig.RecvSignal(ctx); !errors.Is(err, signaling.ErrClosed) {
			t.Fatalf("HostSignaler before join: %v", err)
		}
	}
	rooms, err := p1.List(ctx)
	if err != nil || len(rooms) != 1 || string(rooms[0].Metadata) != `{"mode":"ffa"}` {
		t.Fatalf("List = %+v, %v", rooms, err)
	}
	if _, err := p1.Join(ctx, room.ID, ""); err != nil {
		t.Fatal(err)
	}
	p2 := dialClient(t, env.url)
	if got, err := p2.QuickJoin(ctx); err != nil || got.ID != room.ID {
		t.Fatalf("QuickJoin = %+v, %v", got, err)
	}
	p3 := dialClient(t, env.url)
	if _, err := p3.Join(ctx, room.ID, ""); !errors.Is(err, &Error{Code: CodeRoomFull}) || !errors.Is(err, ErrRoomFull) || ErrorCode(err) != CodeRoomFull {
		t.Fatalf("join full room: %v", err)
	}

	// Each player offers through HostSignaler; the host accepts one Signaler per member.
	for _, p := range []*Client{p1, p2} {
		sig := p.HostSignaler()
		if err := sig.SendSignal(ctx, signaling.Signal{Type: signaling.TypeOffer, SDP: "offer from " + p.ID()}); err != nil {
			t.Fatal(err)
		}
		if err := sig.SendSignal(ctx, signaling.Signal{Type: signaling.TypeICE, Candidate: "candidate:" + p.ID()}); err != nil {
			t.Fatal(err)
		}
	}
	members := map[string]*PeerSignaler{}
	for range 2 {
		id, sig, err := host.AcceptMember(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s, err := sig.RecvSignal(ctx)
		if err != nil || s.SDP != "offer from "+id {
			t.Fatalf("first signal from %s = %+v, %v", id, s, err)
		}
		s, err = sig.RecvSignal(ctx)
		if err != nil || s.Candidate != "candidate:"+id {
			t.Fatalf("second signal from %s = %+v, %v", id, s, err)
		}
		if err := sig.SendSignal(ctx, signaling.Signal{Type: signaling.TypeAnswer, SDP: "answer for " + id}); err != nil {
			t.Fatal(err)
		}
		members[id] = sig
	}
	for _, p := range []*Client{p1, p2} {
		s, err := p.HostSignaler().RecvSignal(ctx)
		if err != nil || s.SDP != "answer for "+p.ID() {
			t.Fatalf("answer = %+v, %v", s, err)
		}
	}

	// Events on the host side.
	seen := map[string]bool{}
	for len(seen) < 2 {
		e := <-host.Events()
		if e.Type == TypeMemberJoined {
			seen[e.Peer] = true
		}
	}

	// A member leaving closes its Signaler on the host.
	if err := p1.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := members[p1.ID()].RecvSignal(ctx); !errors.Is(err, signaling.ErrClosed) || !errors.Is(err, ErrRoomClosed) {
		t.Fatalf("member signaler after leave: %v", err)
	}
	// A rejected signal comes back as an event.
	if err := p1.Signal(ctx, "", signaling.Signal{Type: signaling.TypeOffer, SDP: "late"}); err != nil {
		t.Fatal(err)
	}
	if e := <-p1.Events(); e.Type != TypeError || e.Err.Code != CodeNotInRoom {
		t.Fatalf("event = %+v", e)
	}

	// The host leaving closes the room for the remaining player, and ends AcceptMember.
	p2sig := p2.HostSignaler()
	acceptErr := make(chan error, 1)
	go func() {
		_, _, err := host.AcceptMember(ctx)
		acceptErr <- err
	}()
	if err := host.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-acceptErr; !errors.Is(err, ErrNotHost) {
		t.Fatalf("AcceptMember when the room closed: %v", err)
	}
	if _, err := p2sig.RecvSignal(ctx); !errors.Is(err, signaling.ErrClosed) {
		t.Fatalf("host signaler after room closed: %v", err)
	}
	for e := range p2.Events() {
		if e.Type == TypeRoomClosed {
			if e.RoomID != room.ID || e.Reason != RoomClosedHostLeft {
				t.Fatalf("room_closed = %+v", e)
			}
			break
		}
	}
	if _, _, err := host.AcceptMember(ctx); !errors.Is(err, ErrNotHost) {
		t.Fatalf("AcceptMember after leaving: %v", err)
	}
	if id, _ := p2.Room(); id != "" {
		t.Fatalf("still in room %q", id)
	}

	// Closing the client ends everything; its methods then fail with ErrClosed.
	p2.Close()
	if _, err := p2.List(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("List after Close: %v", err)
	}
	if _, ok := <-p2.Events(); ok {
		t.Fatal("Events not closed")
	}
}

func TestClientServerClose(t *testing.T) {
	srvEnv := newEnv(t, Config{})
	ctx := testCtx(t)
	host := dialClient(t, srvEnv.url)
	if _, err := host.Create(ctx, RoomOptions{}); err != nil {
		t.Fatal(err)
	}
	srvEnv.srv.Close()
	select {
	case <-host.Done():
	case <-ctx.Done():
		t.Fatal("client not closed by server shutdown")
	}
	if !errors.Is(host.Err(), ErrClosed) || closeCode(host.Err()) != 1001 {
		t.Fatalf("Err = %v, want ErrClosed with close code 1001", host.Err())
	}
	if _, _, err := host.AcceptMember(ctx); err == nil {
		t.Fatal("AcceptMember after close succeeded")
	}
	code, _ := httpGet(t, srvEnv.ts.URL+"/healthz")
	if code != 503 {
		t.Fatalf("healthz after close = %d", code)
	}
}

func TestDialErrors(t *testing.T) {
	env := newEnv(t, Config{AllowedOrigins: []string{"https://game.example"}})
	ctx := testCtx(t)
	if _, err := Dial(ctx, env.url, ClientConfig{Origin: "https://evil.example"}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("dial with bad origin: %v", err)
	}
	if c, err := Dial(ctx, env.url, ClientConfig{Origin: "https://game.example"}); err != nil {
		t.Fatal(err)
	} else {
		c.Close()
	}
	if _, err := Dial(ctx, env.ts.URL+"/healthz", ClientConfig{}); err == nil {
		t.Fatal("dial of a non-WebSocket URL succeeded")
	}
}

// TestIsolation floods the lobby with signals to random targets (other rooms' peers,
// unknown IDs, self, empty) and checks that nothing is delivered outside the sender's
// room, that every delivery carries the true sender, and that every legitimate signal
// arrives.
func TestIsolation(t *testing.T) {
	env := newEnv(t, Config{MessagesPerSecond: 1e6, MessageBurst: 1e6, SendQueue: 4096})
	const rooms, membersPerRoom, signalsPerPeer = 4, 3, 250
	type peer struct {
		r    *raw
		room int
		host bool
	}
	var all []*peer
	var roomOf = map[string]int{}
	hosts := make([]*peer, rooms)
	for i := range rooms {
		h := &peer{r: dialRaw(t, env.url), room: i, host: true}
		info := h.r.create(fmt.Sprint("room", i), membersPerRoom, "")
		hosts[i] = h
		all = append(all, h)
		roomOf[h.r.id] = i
		for range membersPerRoom {
			m := &peer{r: dialRaw(t, env.url), room: i}
			m.r.join(info.ID, "")
			h.r.expect(TypeMemberJoined)
			all = append(all, m)
			roomOf[m.r.id] = i
		}
	}
	targets := []string{"", "nobody", "c0000000000000000"}
	for _, p := range all {
		targets = append(targets, p.r.id)
	}
	legit := func(from *peer, to string) bool {
		if to == from.r.id {
			return false
		}
		if from.host {
			room, ok := roomOf[to]
			return ok && room == from.room && to != hosts[from.room].r.id
		}
		return to == "" || to == hosts[from.room].r.id
	}
	want := map[string]int{} // receiver -> expected deliveries
	var wg sync.WaitGroup
	for i, p := range all {
		rng := rand.New(rand.NewPCG(uint64(i), 42))
		var sends []Message
		for n := range signalsPerPeer {
			to := targets[rng.IntN(len(targets))]
			sends = append(sends, Message{Type: TypeSignal, To: to,
				Signal: &signaling.Signal{Type: signaling.TypeOffer, SDP: fmt.Sprintf("%s>%s#%d", p.r.id, to, n)}})
			if legit(p, to) {
				recv := to
				if recv == "" {
					recv = hosts[p.room].r.id
				}
				want[recv]++
			}
		}
		wg.Add(1)
		go func() { // gorilla allows one concurrent writer per connection: this goroutine
			defer wg.Done()
			for _, m := range sends {
				data, _ := json.Marshal(m)
				if err := p.r.c.WriteMessage(1, data); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Every sender's signals have been relayed once its own round trip completes; then
	// each receiver's round trip flushes what was queued for it.
	got := map[string]int{}
	var errs int
	check := func(p *peer, msgs []Message) {
		for _, m := range msgs {
			switch m.Type {
			case TypeError:
				if m.Code != CodePeerNotFound {
					t.Fatalf("unexpected error %+v", m)
				}
				errs++
			case TypeSignal:
				from, _, _ := strings.Cut(m.Signal.SDP, ">")
				if from != m.From {
					t.Fatalf("%s received a signal stamped %s but sent by %s", p.r.id, m.From, from)
				}
				if roomOf[m.From] != p.room || m.From == p.r.id {
					t.Fatalf("%s (room %d) received a signal from %s (room %d)", p.r.id, p.room, m.From, roomOf[m.From])
				}
				if !p.host && m.From != hosts[p.room].r.id {
					t.Fatalf("member %s received a signal from fellow member %s", p.r.id, m.From)
				}
				got[p.r.id]++
			default:
				t.Fatalf("unexpected message %+v", m)
			}
		}
	}
	var before [][]Message
	for _, p := range all {
		before = append(before, p.r.roundTrip())
	}
	for i, p := range all {
		check(p, before[i])
		check(p, p.r.roundTrip())
	}
	total := 0
	for _, p := range all {
		if got[p.r.id] != want[p.r.id] {
			t.Errorf("%s received %d signals, want %d", p.r.id, got[p.r.id], want[p.r.id])
		}
		total += got[p.r.id]
	}
	if total+errs != len(all)*signalsPerPeer {
		t.Errorf("%d delivered + %d rejected != %d sent", total, errs, len(all)*signalsPerPeer)
	}
	t.Logf("%d signals: %d delivered, %d rejected", len(all)*signalsPerPeer, total, errs)
}

// TestConcurrentJoinLeave: many clients join, signal, leave and disconnect at once.
// goleak (TestMain) then checks that no goroutine outlives the test.
func TestConcurrentJoinLeave(t *testing.T) {
	env := newEnv(t, Config{})
	ctx := testCtx(t)
	const hosts, players = 4, 48
	var hs []*Client
	for i := range hosts {
		h := dialClient(t, env.url)
		if _, err := h.Create(ctx, RoomOptions{Name: fmt.Sprint("r", i), Capacity: players}); err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	var wg sync.WaitGroup
	for i := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := Dial(ctx, env.url, ClientConfig{})
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for round := range 3 {
				if _, err := c.QuickJoin(ctx); err != nil {
					t.Error(err)
					return
				}
				if err := c.HostSignaler().SendSignal(ctx, signaling.Signal{Type: signaling.TypeOffer, SDP: "x"}); err != nil {
					t.Error(err)
					return
				}
				if round == 2 && i%2 == 0 {
					return // disconnect without leaving
				}
				if err := c.Leave(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// The hosts accept members concurrently; members that leave close their Signalers.
	var accepted sync.WaitGroup
	for _, h := range hs {
		accepted.Add(1)
		go func() {
			defer accepted.Done()
			for {
				_, sig, err := h.AcceptMember(ctx)
				if err != nil {
					return
				}
				go func() { // drain until the member leaves
					for {
						if _, err := sig.RecvSignal(ctx); err != nil {
							return
						}
					}
				}()
			}
		}()
	}
	wg.Wait()
	// Every player is gone: all rooms are empty.
	deadline := time.Now().Add(waitTimeout)
	for {
		rooms, err := hs[0].List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range rooms {
			n += r.Members
		}
		if len(rooms) == hosts && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rooms not empty: %+v", rooms)
		}
		// Disconnects are processed asynchronously; poll the server's state.
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	for _, h := range hs {
		h.Close()
	}
	accepted.Wait()
}
