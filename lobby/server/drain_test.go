package server

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/volleynet/volley/internal/redistest"
	"github.com/volleynet/volley/lobby"
)

// drainAsync starts Drain and returns its result channel.
func drainAsync(ctx context.Context, s *Server) <-chan error {
	done := make(chan error, 1)
	go func() { done <- s.Drain(ctx) }()
	return done
}

func expectRefused(t *testing.T, e *testEnv) {
	t.Helper()
	_, resp, err := websocket.DefaultDialer.Dial(e.url, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial to a draining instance: %v (response %+v), want HTTP 503", err, resp)
	}
	resp.Body.Close()
	h, err := http.Get(e.ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	h.Body.Close()
	if h.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/healthz of a draining instance: %d, want 503", h.StatusCode)
	}
}

// TestDrain: a draining lobby refuses new connections, tells each of its connections
// once to move, keeps relaying their signals, and closes once they have all left.
func TestDrain(t *testing.T) {
	e := newEnv(t, Config{})
	h := dialRaw(t, e.url)
	room := h.create("arena", 4, "")
	p := dialRaw(t, e.url)
	p.join(room.ID, "")
	h.expect(lobby.TypeMemberJoined)

	gc, err := lobby.Dial(context.Background(), e.url, lobby.ClientConfig{}) // the Go client
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Close()

	done := drainAsync(context.Background(), e.srv)
	if ev := <-gc.Events(); ev.Type != lobby.TypeDraining || ev.Reason != DrainMessage {
		t.Fatalf("Go client event %+v, want draining", ev)
	}
	gc.Close()
	for _, r := range []*raw{h, p} {
		if m := r.expect(lobby.TypeDraining); m.Message != DrainMessage {
			t.Fatalf("draining message %+v", m)
		}
	}
	expectRefused(t, e)
	if got := e.metric(t, "lobby_rejections_total", lobby.ReasonDraining); got != 1 {
		t.Fatalf("rejections{draining} = %v, want 1", got)
	}
	// A handshake in progress still completes through the draining instance.
	p.send(lobby.Message{Type: lobby.TypeSignal, Signal: offer("v=0 offer")})
	expectSignal(t, h, p.id, offer("v=0 offer"))
	if before := p.roundTrip(); len(before) != 0 {
		t.Fatalf("player got %+v besides one draining notice", before)
	}
	p.close()
	h.expect(lobby.TypeMemberLeft)
	h.close()
	if err := <-done; err != nil {
		t.Fatalf("Drain = %v after every connection left", err)
	}
	if err := e.srv.Drain(context.Background()); err != nil {
		t.Fatalf("second Drain = %v", err)
	}
}

// TestDrainDeadline: connections still there when the drain's context ends are
// closed with 1001 "shutdown".
func TestDrainDeadline(t *testing.T) {
	e := newEnv(t, Config{})
	r := dialRaw(t, e.url)
	ctx, cancel := context.WithCancel(context.Background())
	done := drainAsync(ctx, e.srv)
	r.expect(lobby.TypeDraining)
	cancel() // the deadline
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain = %v, want the context's error", err)
	}
	if err := r.waitClose(); closeCode(err) != websocket.CloseGoingAway {
		t.Fatalf("close after the deadline: %v, want 1001", err)
	}
}

// TestRedisDrain: two instances on one Redis; draining A leaves the rooms of B alone,
// relays across instances until its connections leave, and a host that moves to B
// opens its room there for new players.
func TestRedisDrain(t *testing.T) {
	addr := redistest.Start(t)
	pr := newRedisPair(t, addr, Config{}, RedisStoreConfig{})
	hA := dialRaw(t, pr.a.url)
	roomA := hA.create("on-a", 4, "")
	hB := dialRaw(t, pr.b.url)
	roomB := hB.create("on-b", 4, "")
	pA := dialRaw(t, pr.a.url) // a player on A in a game hosted through B
	pA.join(roomB.ID, "")
	hB.expect(lobby.TypeMemberJoined)

	done := drainAsync(context.Background(), pr.a.srv)
	hA.expect(lobby.TypeDraining)
	pA.expect(lobby.TypeDraining)
	expectRefused(t, pr.a)
	if h, err := http.Get(pr.b.ts.URL + "/healthz"); err != nil || h.StatusCode != http.StatusOK {
		t.Fatalf("/healthz of B: %v %v", h, err)
	} else {
		h.Body.Close()
	}
	// Signaling across instances goes on during the drain.
	pA.send(lobby.Message{Type: lobby.TypeSignal, Signal: offer("v=0 offer")})
	expectSignal(t, hB, pA.id, offer("v=0 offer"))

	// The host on A moves: it opens its room again through B, then leaves A.
	hA2 := dialRaw(t, pr.b.url)
	roomA2 := hA2.create("on-a", 4, "")
	hA.close()
	pA.close()
	hB.expect(lobby.TypeMemberLeft)
	if err := <-done; err != nil {
		t.Fatalf("Drain = %v", err)
	}

	newcomer := dialRaw(t, pr.b.url)
	newcomer.send(lobby.Message{Type: lobby.TypeList, Ref: "l"})
	rooms := newcomer.expect(lobby.TypeRooms).Rooms
	ids := map[string]bool{}
	for _, r := range rooms {
		ids[r.ID] = true
	}
	if len(rooms) != 2 || !ids[roomB.ID] || !ids[roomA2.ID] || ids[roomA.ID] {
		t.Fatalf("rooms after the drain %+v, want %s and %s", rooms, roomB.ID, roomA2.ID)
	}
	newcomer.join(roomA2.ID, "")
	hA2.expect(lobby.TypeMemberJoined)
}
