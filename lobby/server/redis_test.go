package server

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/volleynet/volley/internal/redistest"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/signaling"
)

func newRedisClient(t testing.TB, addr string) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// storeImpls lists the Store implementations the contract tests run against. Each
// returns a fresh empty store and a maker of connection IDs that the store treats as
// alive (a RedisStore checks that the instance named in an ID is registered).
func storeImpls(t *testing.T) []struct {
	name string
	open func(t *testing.T) (Store, func(n int) string)
} {
	var addr string
	if _, err := exec.LookPath("redis-server"); err == nil {
		addr = redistest.Start(t) // one server for all subtests, distinct prefixes
	}
	return []struct {
		name string
		open func(t *testing.T) (Store, func(n int) string)
	}{
		{"memory", func(*testing.T) (Store, func(int) string) {
			return NewMemoryStore(), func(n int) string { return fmt.Sprintf("c%024x", n) }
		}},
		{"redis", func(t *testing.T) (Store, func(int) string) {
			if addr == "" {
				t.Skip("redis-server is not installed (apt-get install redis-server)")
			}
			st := NewRedisStore(newRedisClient(t, addr), RedisStoreConfig{Prefix: "t:" + t.Name() + ":"})
			inst, err := st.register(testCtx(t))
			if err != nil {
				t.Fatal(err)
			}
			return st, func(n int) string { return fmt.Sprintf("c%s%016x", inst, n) }
		}},
	}
}

func mustCreate(t *testing.T, st Store, r Room) {
	t.Helper()
	if err := st.CreateRoom(testCtx(t), r); err != nil {
		t.Fatalf("create %s: %v", r.ID, err)
	}
}

func roomIDs(rs []Room) []string {
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return ids
}

// TestStoreContract runs the Store contract against every implementation.
func TestStoreContract(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, st Store, id func(int) string)
	}{
		{"create and get", func(t *testing.T, st Store, id func(int) string) {
			ctx := testCtx(t)
			hash := hashPassword("r1", "pw") // binary, may hold zero bytes
			want := Room{ID: "r1", Name: "arena ✓", Host: id(1), Capacity: 4,
				Metadata: []byte(`{"map":"dust","n":[1,2.50]}`), PasswordHash: hash}
			mustCreate(t, st, want)
			if err := st.CreateRoom(ctx, Room{ID: "r1", Host: id(2), Capacity: 1}); !errors.Is(err, ErrRoomExists) {
				t.Fatalf("duplicate create: %v", err)
			}
			got, err := st.Room(ctx, "r1")
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != want.ID || got.Name != want.Name || got.Host != want.Host || got.Capacity != 4 ||
				!bytes.Equal(got.Metadata, want.Metadata) || !bytes.Equal(got.PasswordHash, hash) || len(got.Members) != 0 {
				t.Fatalf("room = %+v, want %+v", got, want)
			}
			mustCreate(t, st, Room{ID: "r2", Host: id(2), Capacity: 1})
			open, _ := st.Room(ctx, "r2")
			if open.Metadata != nil || open.PasswordHash != nil || open.Info().Locked {
				t.Fatalf("open room = %+v", open)
			}
			if _, err := st.Room(ctx, "nope"); !errors.Is(err, lobby.ErrRoomNotFound) {
				t.Fatalf("missing room: %v", err)
			}
		}},
		{"list and count", func(t *testing.T, st Store, id func(int) string) {
			ctx := testCtx(t)
			for i := range 5 {
				mustCreate(t, st, Room{ID: fmt.Sprint("r", i), Host: id(i), Capacity: 2})
			}
			rs, err := st.ListRooms(ctx, ListQuery{Limit: 3})
			if err != nil || !slices.Equal(roomIDs(rs), []string{"r0", "r1", "r2"}) {
				t.Fatalf("list 3 = %v, %v", roomIDs(rs), err)
			}
			if _, err := st.DeleteRoom(ctx, "r1"); err != nil {
				t.Fatal(err)
			}
			rs, _ = st.ListRooms(ctx, ListQuery{Limit: 100})
			if !slices.Equal(roomIDs(rs), []string{"r0", "r2", "r3", "r4"}) {
				t.Fatalf("list = %v", roomIDs(rs))
			}
			if n, err := st.CountRooms(ctx); n != 4 || err != nil {
				t.Fatalf("count = %d, %v", n, err)
			}
		}},
		{"filters and cursors", func(t *testing.T, st Store, id func(int) string) {
			ctx := testCtx(t)
			games := []struct{ game, ver string }{{"arena", "1"}, {"chess", "1"}, {"arena", "2"}, {"", ""}, {"arena", "1"}, {"chess", "2"}}
			for i, g := range games {
				mustCreate(t, st, Room{ID: fmt.Sprint("r", i), Host: id(i), Capacity: 2, Game: g.game, GameVersion: g.ver})
			}
			list := func(q ListQuery) []Room {
				t.Helper()
				rs, err := st.ListRooms(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				return rs
			}
			for _, tc := range []struct {
				f    lobby.RoomFilter
				want []string
			}{
				{lobby.RoomFilter{}, []string{"r0", "r1", "r2", "r3", "r4", "r5"}},
				{lobby.RoomFilter{Game: "arena"}, []string{"r0", "r2", "r4"}},
				{lobby.RoomFilter{Game: "arena", GameVersion: "1"}, []string{"r0", "r4"}},
				{lobby.RoomFilter{GameVersion: "2"}, []string{"r2", "r5"}},
				{lobby.RoomFilter{Game: "go"}, nil},
			} {
				if got := roomIDs(list(ListQuery{RoomFilter: tc.f, Limit: 100})); !slices.Equal(got, tc.want) {
					t.Errorf("list %+v = %v, want %v", tc.f, got, tc.want)
				}
				// The same walked in pages of one, each after the previous page's Seq.
				var walked []string
				for after := uint64(0); ; {
					page := list(ListQuery{RoomFilter: tc.f, After: after, Limit: 1})
					if len(page) == 0 {
						break
					}
					walked = append(walked, page[0].ID)
					after = page[0].Seq
				}
				if !slices.Equal(walked, tc.want) {
					t.Errorf("walk %+v = %v, want %v", tc.f, walked, tc.want)
				}
			}
			// A cursor stays valid when the room it names is deleted.
			rs := list(ListQuery{Limit: 2})
			if _, err := st.DeleteRoom(ctx, "r1"); err != nil {
				t.Fatal(err)
			}
			if got := roomIDs(list(ListQuery{After: rs[1].Seq, Limit: 2})); !slices.Equal(got, []string{"r2", "r3"}) {
				t.Errorf("after a deleted room: %v", got)
			}
			r, err := st.Room(ctx, "r5")
			if err != nil || r.Game != "chess" || r.GameVersion != "2" || r.Info().Game != "chess" || r.Info().GameVersion != "2" {
				t.Fatalf("room r5 = %+v, %v", r, err)
			}
			for _, tc := range []struct {
				f    lobby.RoomFilter
				want string
			}{{lobby.RoomFilter{Game: "chess"}, "r5"}, {lobby.RoomFilter{Game: "arena", GameVersion: "2"}, "r2"}, {lobby.RoomFilter{}, "r0"}} {
				if r, err := st.QuickJoin(ctx, id(20), tc.f); err != nil || r.ID != tc.want {
					t.Errorf("quick join %+v = %s, %v; want %s", tc.f, r.ID, err, tc.want)
				}
				if _, err := st.RemoveMember(ctx, tc.want, id(20)); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := st.QuickJoin(ctx, id(20), lobby.RoomFilter{Game: "go"}); !errors.Is(err, lobby.ErrNoRoomAvailable) {
				t.Fatalf("quick join of a game without rooms: %v", err)
			}
		}},
		{"add and remove members", func(t *testing.T, st Store, id func(int) string) {
			ctx := testCtx(t)
			mustCreate(t, st, Room{ID: "r", Host: id(0), Capacity: 2})
			for _, p := range []int{1, 2, 1} { // adding a member twice changes nothing
				if _, err := st.AddMember(ctx, "r", id(p)); err != nil && p != 1 {
					t.Fatal(err)
				}
			}
			r, err := st.AddMember(ctx, "r", id(3))
			if !errors.Is(err, lobby.ErrRoomFull) {
				t.Fatalf("third member: %+v, %v", r, err)
			}
			if _, err := st.AddMember(ctx, "nope", id(3)); !errors.Is(err, lobby.ErrRoomNotFound) {
				t.Fatalf("add to missing room: %v", err)
			}
			r, _ = st.Room(ctx, "r")
			if !slices.Equal(r.Members, []string{id(1), id(2)}) {
				t.Fatalf("members = %v", r.Members)
			}
			r.Members[0] = "mutated" // a returned Room is a copy
			r, err = st.RemoveMember(ctx, "r", id(1))
			if err != nil || !slices.Equal(r.Members, []string{id(2)}) {
				t.Fatalf("after remove: %v, %v", r.Members, err)
			}
			if r, err = st.AddMember(ctx, "r", id(3)); err != nil || !slices.Equal(r.Members, []string{id(2), id(3)}) {
				t.Fatalf("after re-add: %v, %v", r.Members, err)
			}
			if _, err := st.RemoveMember(ctx, "nope", id(1)); !errors.Is(err, lobby.ErrRoomNotFound) {
				t.Fatalf("remove from missing room: %v", err)
			}
			last, err := st.DeleteRoom(ctx, "r")
			if err != nil || !slices.Equal(last.Members, []string{id(2), id(3)}) || last.Host != id(0) {
				t.Fatalf("delete = %+v, %v", last, err)
			}
			if _, err := st.DeleteRoom(ctx, "r"); !errors.Is(err, lobby.ErrRoomNotFound) {
				t.Fatalf("second delete: %v", err)
			}
			if _, err := st.AddMember(ctx, "r", id(4)); !errors.Is(err, lobby.ErrRoomNotFound) {
				t.Fatalf("add to deleted room: %v", err)
			}
		}},
		{"quick join", func(t *testing.T, st Store, id func(int) string) {
			ctx := testCtx(t)
			if _, err := st.QuickJoin(ctx, id(9), lobby.RoomFilter{}); !errors.Is(err, lobby.ErrNoRoomAvailable) {
				t.Fatalf("no rooms: %v", err)
			}
			mustCreate(t, st, Room{ID: "locked", Host: id(0), Capacity: 4, PasswordHash: hashPassword("locked", "x")})
			mustCreate(t, st, Room{ID: "small", Host: id(1), Capacity: 1})
			mustCreate(t, st, Room{ID: "big", Host: id(2), Capacity: 3})
			mustCreate(t, st, Room{ID: "own", Host: id(9), Capacity: 4})
			for p, want := range []string{"small", "big", "big"} { // oldest open room with space
				r, err := st.QuickJoin(ctx, id(10+p), lobby.RoomFilter{})
				if err != nil || r.ID != want || !r.hasMember(id(10+p)) {
					t.Fatalf("quick join %d = %+v, %v; want %s", p, r, err, want)
				}
			}
			r, err := st.QuickJoin(ctx, id(9), lobby.RoomFilter{}) // never into the room it hosts
			if err != nil || r.ID != "big" {
				t.Fatalf("host quick join = %+v, %v", r, err)
			}
			if r, err := st.QuickJoin(ctx, id(20), lobby.RoomFilter{}); err != nil || r.ID != "own" {
				t.Fatalf("quick join = %+v, %v", r, err)
			}
			if _, err := st.QuickJoin(ctx, id(9), lobby.RoomFilter{}); !errors.Is(err, lobby.ErrNoRoomAvailable) {
				t.Fatalf("host quick join with only its own room open: %v", err)
			}
		}},
		{"concurrent joins respect capacity", func(t *testing.T, st Store, id func(int) string) {
			ctx := testCtx(t)
			const capacity, joiners = 5, 40
			mustCreate(t, st, Room{ID: "r", Host: id(0), Capacity: capacity})
			var wg sync.WaitGroup
			errs := make(chan error, joiners)
			for i := range joiners {
				wg.Go(func() {
					var err error
					if i%2 == 0 {
						_, err = st.AddMember(ctx, "r", id(i+1))
					} else {
						_, err = st.QuickJoin(ctx, id(i+1), lobby.RoomFilter{})
					}
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			ok := 0
			for err := range errs {
				switch {
				case err == nil:
					ok++
				case errors.Is(err, lobby.ErrRoomFull), errors.Is(err, lobby.ErrNoRoomAvailable):
				default:
					t.Fatal(err)
				}
			}
			r, _ := st.Room(ctx, "r")
			if ok != capacity || len(r.Members) != capacity {
				t.Fatalf("%d joins succeeded, %d members; capacity %d", ok, len(r.Members), capacity)
			}
		}},
	}
	for _, impl := range storeImpls(t) {
		t.Run(impl.name, func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					st, id := impl.open(t)
					tc.run(t, st, id)
				})
			}
		})
	}
}

// TestRedisStoreExpiry: the records of an instance that stops its heartbeat (crashed)
// expire: rooms it hosts vanish, its connections stop counting as members elsewhere.
func TestRedisStoreExpiry(t *testing.T) {
	addr := redistest.Start(t)
	rdb := newRedisClient(t, addr)
	const prefix = "exp:"
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
	did := func(n int) string { return fmt.Sprintf("c%s%016x", deadInst, n) }
	mustCreate(t, live, Room{ID: "kept", Host: lid(0), Capacity: 3})
	mustCreate(t, dying, Room{ID: "crashed", Host: did(0), Capacity: 3})
	for _, p := range []string{did(1), lid(1)} {
		if _, err := live.AddMember(ctx, "kept", p); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := live.AddMember(ctx, "crashed", lid(2)); err != nil {
		t.Fatal(err)
	}
	if n, _ := live.CountRooms(ctx); n != 2 {
		t.Fatalf("count = %d", n)
	}
	// Nobody refreshes the dying instance: wait (polling) for its records to expire.
	waitFor(t, 5*time.Second, "crashed instance's records to expire", func() bool {
		n, err := rdb.Exists(ctx, dying.instKey(deadInst), dying.roomKey("crashed")).Result()
		return err == nil && n == 0
	})
	rs, err := live.ListRooms(ctx, ListQuery{Limit: 10})
	if err != nil || !slices.Equal(roomIDs(rs), []string{"kept"}) {
		t.Fatalf("rooms = %v, %v", roomIDs(rs), err)
	}
	if !slices.Equal(rs[0].Members, []string{lid(1)}) {
		t.Fatalf("members = %v, want only the live one", rs[0].Members)
	}
	if _, err := live.Room(ctx, "crashed"); !errors.Is(err, lobby.ErrRoomNotFound) {
		t.Fatalf("crashed room: %v", err)
	}
	// Reading pruned what the TTLs left: the index entry and the members list.
	if n, _ := rdb.ZCard(ctx, prefix+"rooms").Result(); n != 1 {
		t.Fatalf("room index holds %d rooms", n)
	}
	if n, _ := rdb.Exists(ctx, live.membersKey("crashed")).Result(); n != 0 {
		t.Fatal("the crashed room's members list remains")
	}
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		<-tick.C
	}
}

// redisPair is two lobby instances (A and B) sharing one Redis, each with its own client.
type redisPair struct {
	rdb  *redis.Client // for inspection
	a, b *testEnv
	sa   *RedisStore
}

func newRedisPair(t *testing.T, addr string, cfg Config, scfg RedisStoreConfig) *redisPair {
	t.Helper()
	if scfg.Prefix == "" {
		scfg.Prefix = "pair:" + t.Name() + ":"
	}
	p := &redisPair{rdb: newRedisClient(t, addr)}
	p.sa = NewRedisStore(newRedisClient(t, addr), scfg)
	cfg.Store = p.sa
	p.a = newEnv(t, cfg)
	cfg.Store = NewRedisStore(newRedisClient(t, addr), scfg)
	p.b = newEnv(t, cfg)
	return p
}

func offer(sdp string) *signaling.Signal {
	return &signaling.Signal{Type: signaling.TypeOffer, SDP: sdp}
}

func ice(n int) *signaling.Signal {
	return &signaling.Signal{Type: signaling.TypeICE, Candidate: fmt.Sprintf("candidate:%d 1 udp 1 127.0.0.1 %d typ host", n, 5000+n),
		SDPMid: strp("0"), SDPMLineIndex: u16(0)}
}

// expectSignal waits for a signal on r and checks its sender and payload.
func expectSignal(t *testing.T, r *raw, from string, want *signaling.Signal) {
	t.Helper()
	m := r.expect(lobby.TypeSignal)
	if m.From != from || m.Signal == nil || m.Signal.Type != want.Type || m.Signal.SDP != want.SDP || m.Signal.Candidate != want.Candidate {
		t.Fatalf("%s: signal %+v from %q, want %+v from %q", r.id, m.Signal, m.From, want, from)
	}
}

// TestRedisTwoInstances: a host on instance A and players on instance B find, join and
// signal each other through one Redis.
func TestRedisTwoInstances(t *testing.T) {
	addr := redistest.Start(t)

	t.Run("list join signal", func(t *testing.T) {
		p := newRedisPair(t, addr, Config{}, RedisStoreConfig{})
		h := dialRaw(t, p.a.url)
		room := h.create("arena", 4, "")
		pl := dialRaw(t, p.b.url)
		pl.send(lobby.Message{Type: lobby.TypeList, Ref: "l"})
		rooms := pl.expect(lobby.TypeRooms).Rooms
		if len(rooms) != 1 || rooms[0].ID != room.ID || rooms[0].Host != h.id || rooms[0].Name != "arena" {
			t.Fatalf("B lists %+v", rooms)
		}
		if got := pl.join(room.ID, ""); got.Host != h.id || got.Members != 1 {
			t.Fatalf("joined %+v", got)
		}
		if m := h.expect(lobby.TypeMemberJoined); m.Peer != pl.id || m.RoomID != room.ID {
			t.Fatalf("member_joined %+v", m)
		}
		// Player (B) -> host (A): "to" omitted, a forged "from" is replaced.
		pl.send(lobby.Message{Type: lobby.TypeSignal, From: "cforged", Signal: offer("v=0 offer")})
		expectSignal(t, h, pl.id, offer("v=0 offer"))
		// Host (A) -> player (B), then many trickled candidates both ways, in order.
		h.send(lobby.Message{Type: lobby.TypeSignal, To: pl.id, Signal: &signaling.Signal{Type: signaling.TypeAnswer, SDP: "v=0 answer"}})
		expectSignal(t, pl, h.id, &signaling.Signal{Type: signaling.TypeAnswer, SDP: "v=0 answer"})
		const n = 50
		for i := range n {
			pl.send(lobby.Message{Type: lobby.TypeSignal, To: h.id, Signal: ice(i)})
			h.send(lobby.Message{Type: lobby.TypeSignal, To: pl.id, Signal: ice(1000 + i)})
		}
		for i := range n {
			expectSignal(t, h, pl.id, ice(i))
			expectSignal(t, pl, h.id, ice(1000+i))
		}
		// A second player on B leaves: the host on A learns it.
		pl2 := dialRaw(t, p.b.url)
		pl2.join(room.ID, "")
		h.expect(lobby.TypeMemberJoined)
		pl2.send(lobby.Message{Type: lobby.TypeLeave, Ref: "x"})
		pl2.expect(lobby.TypeLeft)
		if m := h.expect(lobby.TypeMemberLeft); m.Peer != pl2.id {
			t.Fatalf("member_left %+v", m)
		}
		pl2.close() // a disconnect is a leave too: nothing more for the host
		if before := h.roundTrip(); len(before) != 0 {
			t.Fatalf("host got %+v", before)
		}
		if got := p.a.metric(t, "lobby_relay_messages_total", relayReceived); got < n+2 {
			t.Fatalf("A received %v relayed messages", got)
		}
	})

	t.Run("quick join and password", func(t *testing.T) {
		p := newRedisPair(t, addr, Config{}, RedisStoreConfig{})
		h1 := dialRaw(t, p.a.url)
		locked := h1.create("locked", 2, "secret")
		h2 := dialRaw(t, p.a.url)
		open := h2.create("open", 1, "")
		pl := dialRaw(t, p.b.url)
		pl.send(lobby.Message{Type: lobby.TypeQuickJoin, Ref: "q"})
		if m := pl.expect(lobby.TypeJoined); m.Room.ID != open.ID {
			t.Fatalf("quick join into %+v", m.Room)
		}
		h2.expect(lobby.TypeMemberJoined)
		pl2 := dialRaw(t, p.b.url)
		pl2.send(lobby.Message{Type: lobby.TypeQuickJoin, Ref: "q"})
		pl2.expectError(lobby.CodeNoRoomAvailable) // the open room is full, the other locked
		pl2.send(lobby.Message{Type: lobby.TypeJoin, Ref: "j", RoomID: locked.ID, Password: "wrong"})
		pl2.expectError(lobby.CodeWrongPassword)
		pl2.join(locked.ID, "secret")
		if m := h1.expect(lobby.TypeMemberJoined); m.Peer != pl2.id {
			t.Fatalf("member_joined %+v", m)
		}
	})

	t.Run("capacity under concurrent joins", func(t *testing.T) {
		p := newRedisPair(t, addr, Config{}, RedisStoreConfig{})
		h := dialRaw(t, p.a.url)
		const capacity, players = 3, 12
		room := h.create("small", capacity, "")
		var joiners []*raw
		for i := range players {
			url := p.a.url
			if i%2 == 1 {
				url = p.b.url
			}
			joiners = append(joiners, dialRaw(t, url))
		}
		for i, j := range joiners {
			if i%3 == 0 {
				j.send(lobby.Message{Type: lobby.TypeQuickJoin, Ref: "j"})
			} else {
				j.send(lobby.Message{Type: lobby.TypeJoin, Ref: "j", RoomID: room.ID})
			}
		}
		joined := map[string]bool{}
		for _, j := range joiners {
			switch m := j.recv(); {
			case m.Type == lobby.TypeJoined:
				joined[j.id] = true
			case m.Type == lobby.TypeError && (m.Code == lobby.CodeRoomFull || m.Code == lobby.CodeNoRoomAvailable):
			default:
				t.Fatalf("%s: %+v", j.id, m)
			}
		}
		if len(joined) != capacity {
			t.Fatalf("%d players joined a room of capacity %d", len(joined), capacity)
		}
		for range capacity {
			if m := h.expect(lobby.TypeMemberJoined); !joined[m.Peer] {
				t.Fatalf("member_joined for %s, which did not join", m.Peer)
			}
		}
	})

	t.Run("isolation", func(t *testing.T) {
		p := newRedisPair(t, addr, Config{}, RedisStoreConfig{})
		// Room 1: host on A, member on B. Room 2: host on B, member on A.
		h1, m1 := dialRaw(t, p.a.url), dialRaw(t, p.b.url)
		h2, m2 := dialRaw(t, p.b.url), dialRaw(t, p.a.url)
		r1, r2 := h1.create("one", 4, ""), h2.create("two", 4, "")
		m1.join(r1.ID, "")
		m2.join(r2.ID, "")
		h1.expect(lobby.TypeMemberJoined)
		h2.expect(lobby.TypeMemberJoined)
		outsider := dialRaw(t, p.b.url) // in no room
		// Every foreign target is refused at the sender's instance.
		for _, tc := range []struct {
			from *raw
			to   string
			code string
		}{
			{m1, h2.id, lobby.CodePeerNotFound}, // a member signals another room's host
			{m1, m2.id, lobby.CodePeerNotFound}, // ... another room's member
			{h1, m2.id, lobby.CodePeerNotFound}, // a host signals another room's member (other instance)
			{h1, h2.id, lobby.CodePeerNotFound}, // ... another host
			{h2, m1.id, lobby.CodePeerNotFound},
			{h1, "c" + strings.Repeat("0", 24), lobby.CodePeerNotFound}, // an unknown ID shaped like a relayed one
			{outsider, h1.id, lobby.CodeNotInRoom},
		} {
			tc.from.send(lobby.Message{Type: lobby.TypeSignal, Ref: "s", To: tc.to, Signal: offer("forged")})
			tc.from.expectError(tc.code)
		}
		// Markers sent after the refusals (each refusal came before any publish could):
		// every receiver's first signal must be its legitimate marker.
		m1.send(lobby.Message{Type: lobby.TypeSignal, Signal: offer("m1")})
		m2.send(lobby.Message{Type: lobby.TypeSignal, Signal: offer("m2")})
		h1.send(lobby.Message{Type: lobby.TypeSignal, To: m1.id, Signal: offer("h1")})
		h2.send(lobby.Message{Type: lobby.TypeSignal, To: m2.id, Signal: offer("h2")})
		expectSignal(t, h1, m1.id, offer("m1"))
		expectSignal(t, h2, m2.id, offer("m2"))
		expectSignal(t, m1, h1.id, offer("h1"))
		expectSignal(t, m2, h2.id, offer("h2"))
		// An envelope that reaches an instance for a connection no longer in that room
		// (a race with a leave) is dropped there.
		ok := p.a.srv.relayTo(m1.id, r2.ID, p.a.srv.encode(lobby.Message{Type: lobby.TypeSignal, From: h1.id, Signal: offer("stale")}))
		if !ok {
			t.Fatal("relay to a live instance reported undelivered")
		}
		waitFor(t, waitTimeout, "the stale envelope to be dropped", func() bool {
			return p.b.metric(t, "lobby_relay_messages_total", relayDropped) == 1
		})
		for _, r := range []*raw{h1, h2, m1, m2, outsider} {
			if before := r.roundTrip(); len(before) != 0 {
				t.Fatalf("%s got %+v", r.id, before)
			}
		}
	})

	t.Run("host leaving closes the room everywhere", func(t *testing.T) {
		p := newRedisPair(t, addr, Config{}, RedisStoreConfig{})
		for _, how := range []string{"leave", "disconnect"} {
			h := dialRaw(t, p.a.url)
			room := h.create(how, 4, "")
			members := []*raw{dialRaw(t, p.b.url), dialRaw(t, p.b.url), dialRaw(t, p.a.url)}
			for _, m := range members {
				m.join(room.ID, "")
				h.expect(lobby.TypeMemberJoined)
			}
			if how == "leave" {
				h.send(lobby.Message{Type: lobby.TypeLeave, Ref: "l"})
				h.expect(lobby.TypeLeft)
			} else {
				h.close()
			}
			for _, m := range members {
				if c := m.expect(lobby.TypeRoomClosed); c.RoomID != room.ID || c.Reason != lobby.RoomClosedHostLeft {
					t.Fatalf("%s: %+v", how, c)
				}
				// The member is in no room on its own instance any more.
				m.send(lobby.Message{Type: lobby.TypeSignal, Ref: "s", Signal: offer("late")})
				m.expectError(lobby.CodeNotInRoom)
				m.send(lobby.Message{Type: lobby.TypeList, Ref: "l"})
				if rooms := m.expect(lobby.TypeRooms).Rooms; len(rooms) != 0 {
					t.Fatalf("%s: rooms left: %+v", how, rooms)
				}
			}
		}
	})

	t.Run("instance shutdown cleans its records", func(t *testing.T) {
		p := newRedisPair(t, addr, Config{}, RedisStoreConfig{})
		prefix := "pair:" + t.Name() + ":"
		ha := dialRaw(t, p.a.url)
		ra := ha.create("on A", 4, "")
		hb := dialRaw(t, p.b.url)
		rb := hb.create("on B", 4, "")
		mb := dialRaw(t, p.b.url)
		mb.join(ra.ID, "")
		ma := dialRaw(t, p.a.url)
		ma.join(rb.ID, "")
		instA := p.a.srv.relay.r.instance()
		p.a.srv.Close()
		if c := mb.expect(lobby.TypeRoomClosed); c.RoomID != ra.ID {
			t.Fatalf("B's member: %+v", c)
		}
		if m := hb.expect(lobby.TypeMemberJoined); m.Peer != ma.id {
			t.Fatalf("B's host: %+v", m)
		}
		if m := hb.expect(lobby.TypeMemberLeft); m.Peer != ma.id {
			t.Fatalf("B's host: %+v", m)
		}
		mb.send(lobby.Message{Type: lobby.TypeList, Ref: "l"})
		if rooms := mb.expect(lobby.TypeRooms).Rooms; len(rooms) != 1 || rooms[0].ID != rb.ID || rooms[0].Members != 0 {
			t.Fatalf("rooms after A's shutdown: %+v", rooms)
		}
		ctx := testCtx(t)
		if n, _ := p.rdb.Exists(ctx, prefix+"inst:"+instA, prefix+"room:"+ra.ID, prefix+"members:"+ra.ID).Result(); n != 0 {
			t.Fatalf("%d of A's keys remain", n)
		}
		p.b.srv.Close()
		keys, err := p.rdb.Keys(ctx, prefix+"*").Result()
		if err != nil || !slices.Equal(keys, []string{prefix + "seq"}) {
			t.Fatalf("keys after both shut down: %v, %v", keys, err)
		}
	})

	t.Run("crashed instance", func(t *testing.T) {
		// Long enough that the ghost room outlives the steps below and the live
		// instances' heartbeats (every TTL/3) keep theirs on a loaded machine.
		const ttl = 2 * time.Second
		p := newRedisPair(t, addr, Config{}, RedisStoreConfig{TTL: ttl})
		ctx := testCtx(t)
		// A third instance that registers, creates a room, joins another, then dies
		// without a word (nobody refreshes its records).
		crashed, err := p.sa.register(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ghost := func(n int) string { return fmt.Sprintf("c%s%016x", crashed, n) }
		if err := p.sa.CreateRoom(ctx, Room{ID: "rghost", Name: "ghost", Host: ghost(0), Capacity: 4}); err != nil {
			t.Fatal(err)
		}
		h := dialRaw(t, p.a.url)
		room := h.create("alive", 4, "")
		if _, err := p.sa.AddMember(ctx, room.ID, ghost(1)); err != nil {
			t.Fatal(err)
		}
		pl := dialRaw(t, p.b.url)
		pl.join("rghost", "")
		// Its host cannot be reached: the publish finds no subscriber.
		pl.send(lobby.Message{Type: lobby.TypeSignal, Ref: "s", Signal: offer("hello?")})
		pl.expectError(lobby.CodePeerNotFound)
		// The ghost member was added behind the lobby's back: its host was never told
		// of it, so a signal to it is refused without a publish.
		h.send(lobby.Message{Type: lobby.TypeSignal, Ref: "s", To: ghost(1), Signal: offer("hello?")})
		h.expectError(lobby.CodePeerNotFound)
		// B: member_joined and the signal.
		if b, a := p.b.metric(t, "lobby_relay_messages_total", relayUnrouted),
			p.a.metric(t, "lobby_relay_messages_total", relayUnrouted); b != 2 || a != 0 {
			t.Fatalf("unrouted on B = %v, on A = %v", b, a)
		}
		// Once its liveness key expires, its room is gone and its member no longer
		// counts; the player's instance tells it once the room has stayed gone for a TTL.
		m := pl.expect(lobby.TypeRoomClosed)
		if m.RoomID != "rghost" || m.Reason != lobby.RoomClosedStoreLost {
			t.Fatalf("room_closed = %+v", m)
		}
		pl.send(lobby.Message{Type: lobby.TypeList, Ref: "l"})
		if rooms := pl.expect(lobby.TypeRooms).Rooms; len(rooms) != 1 || rooms[0].ID != room.ID || rooms[0].Members != 0 {
			t.Fatalf("rooms = %+v", rooms)
		}
		pl.send(lobby.Message{Type: lobby.TypeSignal, Ref: "s", Signal: offer("hello?")})
		pl.expectError(lobby.CodeNotInRoom)
		pl.join(room.ID, "")
	})

	t.Run("heartbeat keeps records alive", func(t *testing.T) {
		// A heartbeat (every TTL/3) may be late by up to 2/3 of the TTL before the
		// records lapse: 2 s leaves a loaded machine room for that.
		const ttl = 2 * time.Second
		p := newRedisPair(t, addr, Config{}, RedisStoreConfig{TTL: ttl})
		h := dialRaw(t, p.a.url)
		room := h.create("kept", 4, "")
		m := dialRaw(t, p.b.url)
		m.join(room.ID, "")
		h.expect(lobby.TypeMemberJoined)
		// Poll for 3 TTLs: the room and its member must stay all along.
		ctx := testCtx(t)
		end := time.Now().Add(3 * ttl)
		waitFor(t, waitTimeout, "3 TTLs to pass", func() bool {
			r, err := p.sa.Room(ctx, room.ID)
			if err != nil || len(r.Members) != 1 {
				t.Fatalf("room after %v: %+v, %v", time.Until(end), r, err)
			}
			return time.Now().After(end)
		})
		m.send(lobby.Message{Type: lobby.TypeSignal, Signal: offer("still here")})
		expectSignal(t, h, m.id, offer("still here"))
	})
}

// TestRedisUnreachable: an instance whose Redis does not answer reports unhealthy,
// refuses connections with 503 instead of serving them without the relay, and closes
// promptly.
func TestRedisUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a port where nothing answers
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	env := newEnv(t, Config{Store: NewRedisStore(rdb, RedisStoreConfig{}), HandshakeTimeout: 200 * time.Millisecond})
	if code, _ := httpGet(t, env.ts.URL+"/healthz"); code != 503 {
		t.Fatalf("healthz = %d", code)
	}
	if _, err := lobby.Dial(testCtx(t), env.url, lobby.ClientConfig{}); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("dial: %v", err)
	}
	waitFor(t, waitTimeout, "a failed relay open to be counted", func() bool {
		return env.metric(t, "lobby_relay_messages_total", relayFailed) > 0
	})
	env.srv.Close()
}
