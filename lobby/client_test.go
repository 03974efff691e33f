//go:build !js

package lobby_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/signaling"
)

func TestClient(t *testing.T) {
	env := newEnv(t, lobbyserver.Config{})
	ctx := testCtx(t)
	host := dialClient(t, env.url)
	room, err := host.Create(ctx, lobby.RoomOptions{Name: "duel", Capacity: 2, Metadata: json.RawMessage(`{"mode":"ffa"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if id, isHost := host.Room(); id != room.ID || !isHost {
		t.Fatalf("Room() = %q %v", id, isHost)
	}
	if _, err := host.Create(ctx, lobby.RoomOptions{}); !errors.Is(err, &lobby.Error{Code: lobby.CodeAlreadyInRoom}) {
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
	if _, err := p3.Join(ctx, room.ID, ""); !errors.Is(err, &lobby.Error{Code: lobby.CodeRoomFull}) || !errors.Is(err, lobby.ErrRoomFull) || lobby.ErrorCode(err) != lobby.CodeRoomFull {
		t.Fatalf("join full room: %v", err)
	}

	// Each player offers through HostSignaler; the host accepts one Signaler per member.
	for _, p := range []*lobby.Client{p1, p2} {
		sig := p.HostSignaler()
		if err := sig.SendSignal(ctx, signaling.Signal{Type: signaling.TypeOffer, SDP: "offer from " + p.ID()}); err != nil {
			t.Fatal(err)
		}
		if err := sig.SendSignal(ctx, signaling.Signal{Type: signaling.TypeICE, Candidate: "candidate:" + p.ID()}); err != nil {
			t.Fatal(err)
		}
	}
	members := map[string]*lobby.PeerSignaler{}
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
	for _, p := range []*lobby.Client{p1, p2} {
		s, err := p.HostSignaler().RecvSignal(ctx)
		if err != nil || s.SDP != "answer for "+p.ID() {
			t.Fatalf("answer = %+v, %v", s, err)
		}
	}

	// Events on the host side.
	seen := map[string]bool{}
	for len(seen) < 2 {
		e := <-host.Events()
		if e.Type == lobby.TypeMemberJoined {
			seen[e.Peer] = true
		}
	}

	// A member leaving closes its Signaler on the host.
	if err := p1.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := members[p1.ID()].RecvSignal(ctx); !errors.Is(err, signaling.ErrClosed) || !errors.Is(err, lobby.ErrRoomClosed) {
		t.Fatalf("member signaler after leave: %v", err)
	}
	// A rejected signal comes back as an event.
	if err := p1.Signal(ctx, "", signaling.Signal{Type: signaling.TypeOffer, SDP: "late"}); err != nil {
		t.Fatal(err)
	}
	if e := <-p1.Events(); e.Type != lobby.TypeError || e.Err.Code != lobby.CodeNotInRoom {
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
	if err := <-acceptErr; !errors.Is(err, lobby.ErrNotHost) {
		t.Fatalf("AcceptMember when the room closed: %v", err)
	}
	if _, err := p2sig.RecvSignal(ctx); !errors.Is(err, signaling.ErrClosed) {
		t.Fatalf("host signaler after room closed: %v", err)
	}
	for e := range p2.Events() {
		if e.Type == lobby.TypeRoomClosed {
			if e.RoomID != room.ID || e.Reason != lobby.RoomClosedHostLeft {
				t.Fatalf("room_closed = %+v", e)
			}
			break
		}
	}
	if _, _, err := host.AcceptMember(ctx); !errors.Is(err, lobby.ErrNotHost) {
		t.Fatalf("AcceptMember after leaving: %v", err)
	}
	if id, _ := p2.Room(); id != "" {
		t.Fatalf("still in room %q", id)
	}

	// Closing the client ends everything; its methods then fail with ErrClosed.
	p2.Close()
	if _, err := p2.List(ctx); !errors.Is(err, lobby.ErrClosed) {
		t.Fatalf("List after Close: %v", err)
	}
	if _, ok := <-p2.Events(); ok {
		t.Fatal("Events not closed")
	}
}

func TestClientServerClose(t *testing.T) {
	srvEnv := newEnv(t, lobbyserver.Config{})
	ctx := testCtx(t)
	host := dialClient(t, srvEnv.url)
	if _, err := host.Create(ctx, lobby.RoomOptions{}); err != nil {
		t.Fatal(err)
	}
	srvEnv.srv.Close()
	select {
	case <-host.Done():
	case <-ctx.Done():
		t.Fatal("client not closed by server shutdown")
	}
	if !errors.Is(host.Err(), lobby.ErrClosed) || closeCode(host.Err()) != 1001 {
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
	env := newEnv(t, lobbyserver.Config{AllowedOrigins: []string{"https://game.example"}})
	ctx := testCtx(t)
	if _, err := lobby.Dial(ctx, env.url, lobby.ClientConfig{Origin: "https://evil.example"}); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("dial with bad origin: %v", err)
	}
	if c, err := lobby.Dial(ctx, env.url, lobby.ClientConfig{Origin: "https://game.example"}); err != nil {
		t.Fatal(err)
	} else {
		c.Close()
	}
	if _, err := lobby.Dial(ctx, env.ts.URL+"/healthz", lobby.ClientConfig{}); err == nil {
		t.Fatal("dial of a non-WebSocket URL succeeded")
	}
}

// TestConcurrentJoinLeave: many clients join, signal, leave and disconnect at once.
// goleak (TestMain) then checks that no goroutine outlives the test.
func TestConcurrentJoinLeave(t *testing.T) {
	env := newEnv(t, lobbyserver.Config{})
	ctx := testCtx(t)
	const hosts, players = 4, 48
	var hs []*lobby.Client
	for i := range hosts {
		h := dialClient(t, env.url)
		if _, err := h.Create(ctx, lobby.RoomOptions{Name: fmt.Sprint("r", i), Capacity: players}); err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
	var wg sync.WaitGroup
	for i := range players {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := lobby.Dial(ctx, env.url, lobby.ClientConfig{})
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

// TestClientGames: rooms carry the game their host announced; ListPage filters and
// pages them; QuickJoinMatching joins only a matching room, QuickJoin any.
func TestClientGames(t *testing.T) {
	env := newEnv(t, lobbyserver.Config{MaxListRooms: 2})
	ctx := testCtx(t)
	var rooms []lobby.RoomInfo
	for _, o := range []lobby.RoomOptions{
		{Name: "first game", Game: "first", GameVersion: "0.1"},
		{Name: "arena v1", Game: "arena", GameVersion: "1"},
		{Name: "arena v2", Game: "arena", GameVersion: "2"},
		{Name: "no game"},
	} {
		r, err := dialClient(t, env.url).Create(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if r.Game != o.Game || r.GameVersion != o.GameVersion {
			t.Fatalf("created %+v from %+v", r, o)
		}
		rooms = append(rooms, r)
	}
	c := dialClient(t, env.url)
	var all []string
	for cursor := ""; ; {
		page, err := c.ListPage(ctx, lobby.ListOptions{Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Rooms) > 2 {
			t.Fatalf("page of %d rooms; the server's limit is 2", len(page.Rooms))
		}
		for _, r := range page.Rooms {
			all = append(all, r.Name)
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if got := strings.Join(all, ","); got != "first game,arena v1,arena v2,no game" {
		t.Fatalf("walked %s", got)
	}
	page, err := c.ListPage(ctx, lobby.ListOptions{Game: "arena", Limit: 1})
	if err != nil || len(page.Rooms) != 1 || page.Rooms[0].ID != rooms[1].ID || page.Next == "" {
		t.Fatalf("first arena page = %+v, %v", page, err)
	}
	if first, err := c.List(ctx); err != nil || len(first) != 2 {
		t.Fatalf("List = %+v, %v", first, err)
	}
	if r, err := c.QuickJoinMatching(ctx, lobby.RoomFilter{Game: "arena", GameVersion: "2"}); err != nil || r.ID != rooms[2].ID {
		t.Fatalf("QuickJoinMatching arena 2 = %+v, %v", r, err)
	}
	if _, err := dialClient(t, env.url).QuickJoinMatching(ctx, lobby.RoomFilter{Game: "chess"}); !errors.Is(err, lobby.ErrNoRoomAvailable) {
		t.Fatalf("QuickJoinMatching chess: %v", err)
	}
	if r, err := dialClient(t, env.url).QuickJoin(ctx); err != nil || r.ID != rooms[0].ID {
		t.Fatalf("QuickJoin = %+v, %v", r, err)
	}
}
