package server

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/volleynet/volley/internal/redistest"
	"github.com/volleynet/volley/lobby"
)

// TestRedisRestart reproduces finding 5 of issue 11: Redis killed and restarted empty.
// Both instances report the store unhealthy during the outage, then put their rooms and
// memberships back, and the protocol works across them as before. It logs how long the
// rooms took to reappear:
//
//	go test -run TestRedisRestart -v -count=1 ./lobby/server
func TestRedisRestart(t *testing.T) {
	rs := redistest.StartServer(t)
	p := newRedisPair(t, rs.Addr, Config{StoreTimeout: time.Second}, RedisStoreConfig{}) // CheckInterval 1 s
	// Room A (hosted on A, locked, member on B); room B (hosted on B, a game, member on A).
	hA := dialRaw(t, p.a.url)
	roomA := hA.create("on-a", 4, "pw")
	mB := dialRaw(t, p.b.url)
	mB.join(roomA.ID, "pw")
	hA.expect(lobby.TypeMemberJoined)
	hB := dialRaw(t, p.b.url)
	hB.send(lobby.Message{Type: lobby.TypeCreate, Ref: "c", Name: "on-b", Capacity: 4, Game: "arena", GameVersion: "2"})
	roomB := *hB.expect(lobby.TypeCreated).Room
	mA := dialRaw(t, p.a.url)
	mA.join(roomB.ID, "")
	hB.expect(lobby.TypeMemberJoined)

	healthy := func(env *testEnv) bool {
		code, _ := httpGet(t, env.ts.URL+"/healthz")
		return code == 200
	}
	rs.Kill()
	waitFor(t, waitTimeout, "both instances to report the store unhealthy", func() bool {
		return !healthy(p.a) && !healthy(p.b)
	})
	if p.a.metric(t, "lobby_store_up", "") != 0 {
		t.Fatal("lobby_store_up is not 0 during the outage")
	}
	rs.Restart() // empty
	restarted := time.Now()
	ctx := testCtx(t)
	waitFor(t, waitTimeout, "both rooms and their members to reappear", func() bool {
		rooms, err := p.sa.ListRooms(ctx, ListQuery{Limit: 10})
		if err != nil || len(rooms) != 2 {
			return false
		}
		for _, r := range rooms {
			if len(r.Members) != 1 {
				return false
			}
		}
		return true
	})
	back := time.Since(restarted)
	waitFor(t, waitTimeout, "both instances to report the store healthy", func() bool {
		return healthy(p.a) && healthy(p.b)
	})
	t.Logf("rooms and members back %v after Redis restarted empty (default CheckInterval)", back.Round(time.Millisecond))

	// The rooms kept what they were: password, game, host, members.
	pl := dialRaw(t, p.b.url)
	pl.send(lobby.Message{Type: lobby.TypeJoin, Ref: "j", RoomID: roomA.ID, Password: "PW"})
	pl.expectError(lobby.CodeWrongPassword)
	pl.send(lobby.Message{Type: lobby.TypeQuickJoin, Ref: "q", Game: "arena"})
	if got := pl.expect(lobby.TypeJoined).Room; got.ID != roomB.ID || got.Host != hB.id || got.GameVersion != "2" || got.Members != 2 {
		t.Fatalf("quick join after the restart: %+v", got)
	}
	hB.expect(lobby.TypeMemberJoined)
	// Signals cross instances again (the relay resubscribed), both ways.
	waitFor(t, waitTimeout, "the relay to carry signals again", func() bool {
		mB.send(lobby.Message{Type: lobby.TypeSignal, Ref: "s", Signal: offer("again")})
		m := mB.roundTrip()
		return len(m) == 0 // no peer_not_found
	})
	expectSignal(t, hA, mB.id, offer("again"))
	hA.send(lobby.Message{Type: lobby.TypeSignal, To: mB.id, Signal: offer("back")})
	expectSignal(t, mB, hA.id, offer("back"))
	mA.send(lobby.Message{Type: lobby.TypeSignal, Signal: offer("to b")})
	expectSignal(t, hB, mA.id, offer("to b"))
	if got := p.a.metric(t, "lobby_store_restored_total", "rooms"); got != 1 {
		t.Fatalf("rooms restored by A = %v", got)
	}
}

// TestRedisRoomLost: a hosted room whose key another host has taken meanwhile cannot
// be restored: its host and its member (on the other instance) get room_closed with
// reason store_lost, and the host may create a new room.
func TestRedisRoomLost(t *testing.T) {
	addr := redistest.Start(t)
	p := newRedisPair(t, addr, Config{}, RedisStoreConfig{CheckInterval: 50 * time.Millisecond})
	h := dialRaw(t, p.a.url)
	room := h.create("doomed", 4, "")
	m := dialRaw(t, p.b.url)
	m.join(room.ID, "")
	h.expect(lobby.TypeMemberJoined)
	ctx := testCtx(t)
	// Another host's room under the same key, and A's liveness key gone: A's next check
	// finds its records vanished and cannot take the room back.
	other := "c" + "ffffffff" + "0000000000000001"
	if err := p.rdb.HSet(ctx, p.sa.roomKey(room.ID), "host", other).Err(); err != nil {
		t.Fatal(err)
	}
	if err := p.rdb.Del(ctx, p.sa.instKey(connInstanceOf(t, h.id))).Err(); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*raw{h, m} {
		got := r.expect(lobby.TypeRoomClosed)
		if got.RoomID != room.ID || got.Reason != lobby.RoomClosedStoreLost {
			t.Fatalf("%s: room_closed = %+v", r.id, got)
		}
	}
	if got := p.a.metric(t, "lobby_store_restored_total", "lost"); got != 1 {
		t.Fatalf("lost rooms = %v", got)
	}
	h.create("again", 4, "")
}

func connInstanceOf(t *testing.T, id string) string {
	t.Helper()
	inst, ok := connInstance(id)
	if !ok {
		t.Fatalf("%q is not a relayed connection ID", id)
	}
	return inst
}

// TestStoreTimeout: a store call that takes longer than StoreTimeout (Redis paused) is
// answered "internal" instead of waiting, and signals between connections of one
// instance, which need no store call, still flow meanwhile.
func TestStoreTimeout(t *testing.T) {
	addr := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	env := newEnv(t, Config{StoreTimeout: 200 * time.Millisecond, Store: NewRedisStore(rdb, RedisStoreConfig{Prefix: "timeout:"})})
	h := dialRaw(t, env.url)
	room := h.create("r", 4, "")
	m := dialRaw(t, env.url)
	m.join(room.ID, "")
	h.expect(lobby.TypeMemberJoined)
	admin := newRedisClient(t, addr)
	if err := admin.Do(testCtx(t), "CLIENT", "PAUSE", 2000, "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	m.send(lobby.Message{Type: lobby.TypeSignal, Signal: offer("during the pause")})
	expectSignal(t, h, m.id, offer("during the pause"))
	lister := dialRaw(t, env.url)
	lister.send(lobby.Message{Type: lobby.TypeList, Ref: "l"})
	lister.expectError(lobby.CodeInternal)
}
