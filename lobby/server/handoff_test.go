package server

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/volleynet/volley/internal/redistest"
	"github.com/volleynet/volley/lobby"
)

// roomMembers returns the member count env lists for room.
func roomMembers(t *testing.T, env *testEnv, room string) int {
	t.Helper()
	r := dialRaw(t, env.url)
	defer r.close()
	r.send(lobby.Message{Type: lobby.TypeList, Ref: "l"})
	for _, info := range r.expect(lobby.TypeRooms).Rooms {
		if info.ID == room {
			return info.Members
		}
	}
	t.Fatalf("room %s is not listed", room)
	return 0
}

// refused checks that resuming with token at url fails, leaving others alone.
func refused(t *testing.T, url, token string) {
	t.Helper()
	r := dialRaw(t, url)
	r.send(lobby.Message{Type: lobby.TypeResume, Ref: "r", Token: token})
	r.expectError(lobby.CodeResumeFailed)
	r.close()
}

// TestGraceAcrossInstances: a connection whose WebSocket drops resumes on another
// instance sharing the store, within the grace window, as on its own: same ID, same
// room and seat, the messages that waited for it, and the signaling path to and from
// its host, whether the host is on the old instance or the new one. The old instance
// lets it go. The used token is refused on every instance; the new one works, even to
// move back; a token whose grace passed is refused on the other instance too.
func TestGraceAcrossInstances(t *testing.T) {
	addr := redistest.Start(t)
	for _, hostOnB := range []bool{false, true} {
		name := "host on the old instance"
		if hostOnB {
			name = "host on the new instance"
		}
		t.Run(name, func(t *testing.T) {
			p := newRedisPair(t, addr, Config{MemberGrace: 2 * time.Second}, RedisStoreConfig{})
			a, b := p.a, p.b
			hostEnv := a
			if hostOnB {
				hostEnv = b
			}
			h := dialRaw(t, hostEnv.url)
			room := h.create("arena", 4, "")
			m := dialRaw(t, a.url)
			m.join(room.ID, "")
			h.expect(lobby.TypeMemberJoined)

			// The member's WebSocket to A drops; a signal for it waits on A.
			m.drop()
			waitDetached(t, a, 1)
			h.send(lobby.Message{Type: lobby.TypeSignal, To: m.id, Signal: offer("while away")})
			if got := h.roundTrip(); len(got) != 0 {
				t.Fatalf("host got %+v while its member was detached, want nothing", got)
			}

			// It resumes on B: same identity, same room and seat, what waited.
			m2, resumed := resumeRaw(t, b.url, m.welcome.Token)
			if resumed.ID != m.id || resumed.Room == nil || resumed.Room.ID != room.ID || resumed.Room.Host != h.id {
				t.Fatalf("resumed %+v: want member %s of room %s hosted by %s", resumed, m.id, room.ID, h.id)
			}
			expectSignal(t, m2, h.id, offer("while away"))
			waitDetached(t, a, 0)
			if n := roomMembers(t, a, room.ID); n != 1 {
				t.Fatalf("the room lists %d members after the move, want 1", n)
			}

			// Signals flow both ways through B now.
			h.send(lobby.Message{Type: lobby.TypeSignal, To: m.id, Signal: offer("restart")})
			expectSignal(t, m2, h.id, offer("restart"))
			m2.send(lobby.Message{Type: lobby.TypeSignal, Signal: &signalAnswer})
			if got := h.expect(lobby.TypeSignal); got.From != m.id || got.Signal.SDP != signalAnswer.SDP {
				t.Fatalf("host got %+v, want the answer from %s", got, m.id)
			}
			if got := a.metric(t, "lobby_resumes_total", resumeMoved); got != 1 {
				t.Errorf("A: lobby_resumes_total{moved} = %v, want 1", got)
			}
			if got := b.metric(t, "lobby_resumes_total", resumeOK); got != 1 {
				t.Errorf("B: lobby_resumes_total{ok} = %v, want 1", got)
			}

			// The used token is refused everywhere; the member is not disturbed.
			refused(t, a.url, m.welcome.Token)
			refused(t, b.url, m.welcome.Token)
			h.send(lobby.Message{Type: lobby.TypeSignal, To: m.id, Signal: ice(1)})
			expectSignal(t, m2, h.id, ice(1))

			// A live connection is taken over too (its old WebSocket closed), and
			// the next token moves it back to A.
			m3, back := resumeRaw(t, a.url, resumed.Token)
			if back.ID != m.id || back.Room == nil || back.Room.ID != room.ID {
				t.Fatalf("moved back %+v", back)
			}
			if err := m2.waitClose(); closeCode(err) != websocket.CloseGoingAway {
				t.Fatalf("the taken-over WebSocket closed with %v, want 1001", err)
			}
			h.send(lobby.Message{Type: lobby.TypeSignal, To: m.id, Signal: ice(2)})
			expectSignal(t, m3, h.id, ice(2))
			m3.send(lobby.Message{Type: lobby.TypeSignal, Signal: ice(3)})
			expectSignal(t, h, m.id, ice(3))

			// Its grace passes on A: it leaves, and its token is refused on B.
			m3.drop()
			if got := h.expect(lobby.TypeMemberLeft); got.Peer != m.id {
				t.Fatalf("member_left %+v, want %s", got, m.id)
			}
			refused(t, b.url, back.Token)
			if n := roomMembers(t, b, room.ID); n != 0 {
				t.Fatalf("the room lists %d members after the grace, want 0", n)
			}
		})
	}
}

// TestHostAcrossInstances: a host whose WebSocket drops resumes on another instance:
// its room stays open and listed, its members (on the old instance) still signal it and
// get its signals, and when it leaves they are told.
func TestHostAcrossInstances(t *testing.T) {
	addr := redistest.Start(t)
	p := newRedisPair(t, addr, Config{MemberGrace: 5 * time.Second}, RedisStoreConfig{})
	h := dialRaw(t, p.a.url)
	room := h.create("arena", 4, "")
	m := dialRaw(t, p.a.url)
	m.join(room.ID, "")
	h.expect(lobby.TypeMemberJoined)

	h.drop()
	waitDetached(t, p.a, 1)
	m.send(lobby.Message{Type: lobby.TypeSignal, Signal: offer("to host")})
	if got := m.roundTrip(); len(got) != 0 {
		t.Fatalf("member got %+v while its host was detached, want nothing", got)
	}
	h2, resumed := resumeRaw(t, p.b.url, h.welcome.Token)
	if resumed.ID != h.id || resumed.Room == nil || resumed.Room.ID != room.ID || resumed.Room.Host != h.id {
		t.Fatalf("host resumed %+v", resumed)
	}
	expectSignal(t, h2, m.id, offer("to host"))
	h2.send(lobby.Message{Type: lobby.TypeSignal, To: m.id, Signal: &signalAnswer})
	expectSignal(t, m, h.id, &signalAnswer)
	if got, want := p.a.metric(t, "lobby_rooms", ""), 0.0; got != want {
		t.Errorf("A: lobby_rooms %v, want %v", got, want)
	}
	if got, want := p.b.metric(t, "lobby_rooms", ""), 1.0; got != want {
		t.Errorf("B: lobby_rooms %v, want %v", got, want)
	}
	// A newcomer joins through A; the host, now on B, is told.
	n := dialRaw(t, p.a.url)
	n.join(room.ID, "")
	if got := h2.expect(lobby.TypeMemberJoined); got.Peer != n.id {
		t.Fatalf("member_joined %+v, want %s", got, n.id)
	}
	h2.close()
	for _, r := range []*raw{m, n} {
		if got := r.expect(lobby.TypeRoomClosed); got.RoomID != room.ID {
			t.Fatalf("%s: room_closed %+v", r.id, got)
		}
	}
}

// TestHandoffReplayedAtOnce: the same token presented to both instances at once: one
// resumption wins, the other is refused, and the connection is intact.
func TestHandoffReplayedAtOnce(t *testing.T) {
	addr := redistest.Start(t)
	p := newRedisPair(t, addr, Config{MemberGrace: 5 * time.Second}, RedisStoreConfig{})
	h := dialRaw(t, p.a.url)
	room := h.create("arena", 4, "")
	m := dialRaw(t, p.a.url)
	m.join(room.ID, "")
	h.expect(lobby.TypeMemberJoined)
	m.drop()
	waitDetached(t, p.a, 1)

	ra, rb := dialRaw(t, p.a.url), dialRaw(t, p.b.url)
	ra.send(lobby.Message{Type: lobby.TypeResume, Ref: "r", Token: m.welcome.Token})
	rb.send(lobby.Message{Type: lobby.TypeResume, Ref: "r", Token: m.welcome.Token})
	var winner *raw
	for _, r := range []*raw{ra, rb} {
		switch got := r.recv(); {
		case got.Type == lobby.TypeResumed && got.ID == m.id && winner == nil:
			winner = r
		case got.Type == lobby.TypeError && got.Code == lobby.CodeResumeFailed:
		default:
			t.Fatalf("%s: %+v, want resumed once and resume_failed once", r.id, got)
		}
	}
	if winner == nil {
		t.Fatal("both resumptions were refused")
	}
	h.send(lobby.Message{Type: lobby.TypeSignal, To: m.id, Signal: offer("after")})
	expectSignal(t, winner, h.id, offer("after"))
}

// TestRedisRoutes: a connection's route decides its liveness. A connection whose ID
// names a live instance but that moved to one that crashed counts as gone: the host's
// refresh drops it from its room's members (no other script need read the room), and
// reads no longer count it. A refresh puts a vanished route back, and leaves alone a
// route that names another instance (its connection moved on).
func TestRedisRoutes(t *testing.T) {
	addr := redistest.Start(t)
	rdb := newRedisClient(t, addr)
	const prefix = "routes:"
	live := NewRedisStore(rdb, RedisStoreConfig{Prefix: prefix}) // 30 s TTL
	dying := NewRedisStore(rdb, RedisStoreConfig{Prefix: prefix, TTL: 300 * time.Millisecond})
	ctx := testCtx(t)
	liveInst, err := live.register(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadInst, err := dying.register(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lid := func(n int) string { return fmt.Sprintf("c%s%016x", liveInst, n) }
	kept := Room{ID: "kept", Host: lid(0), Capacity: 4}
	mustCreate(t, live, kept)
	for _, p := range []string{lid(1), lid(2)} {
		if _, err := live.AddMember(ctx, kept.ID, p); err != nil {
			t.Fatal(err)
		}
	}
	// lid(1) moved to the dying instance, which then stops its heartbeat.
	if err := rdb.Set(ctx, prefix+"route:"+lid(1), deadInst, 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the dying instance's liveness key to expire", func() bool {
		n, err := rdb.Exists(ctx, dying.instKey(deadInst)).Result()
		return err == nil && n == 0
	})
	if _, err := live.refresh(ctx, liveInst, records{rooms: []Room{kept}}); err != nil {
		t.Fatal(err)
	}
	if ms, err := rdb.LRange(ctx, live.membersKey(kept.ID), 0, -1).Result(); err != nil || !slices.Equal(ms, []string{lid(2)}) {
		t.Fatalf("members list after the host's refresh: %v, %v; want only %s", ms, err, lid(2))
	}

	// Routes: one that vanished comes back, one naming another instance stays.
	moved := lid(3)
	if err := rdb.Set(ctx, prefix+"route:"+moved, "elsewhere", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := live.refresh(ctx, liveInst, records{routes: []string{lid(4), moved}}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{lid(4): liveInst, moved: "elsewhere"} {
		if got, err := rdb.Get(ctx, prefix+"route:"+id).Result(); err != nil || got != want {
			t.Fatalf("route of %s = %q, %v; want %q", id, got, err, want)
		}
	}
	if ttl, err := rdb.PTTL(ctx, prefix+"route:"+lid(4)).Result(); err != nil || ttl <= 0 || ttl > live.routeTTL() {
		t.Fatalf("route TTL %v, %v; want at most %v", ttl, err, live.routeTTL())
	}
}
