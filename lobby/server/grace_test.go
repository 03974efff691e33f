package server

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/volleynet/volley/internal/redistest"
	"github.com/volleynet/volley/lobby"
)

// resumeRaw dials url and resumes the connection of token, expecting success.
func resumeRaw(t *testing.T, url, token string) (*raw, lobby.Message) {
	t.Helper()
	r := dialRaw(t, url)
	r.send(lobby.Message{Type: lobby.TypeResume, Ref: "r", Token: token})
	m := r.expect(lobby.TypeResumed)
	if m.Ref != "r" || m.Token == "" || m.Token == token {
		t.Fatalf("resumed %+v: want ref r and a new token", m)
	}
	r.id = m.ID
	return r, m
}

// waitDetached waits until env holds n detached connections: a message sent to a
// connection whose drop the server has not noticed yet is lost with it.
func waitDetached(t *testing.T, env *testEnv, n float64) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for env.metric(t, "lobby_detached_connections", "") != n {
		if time.Now().After(deadline) {
			t.Fatalf("%v detached connections, want %v", env.metric(t, "lobby_detached_connections", ""), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testGrace runs the grace scenarios with the host on hostEnv and the member on
// memberEnv (the same instance, or two sharing a store).
func testGrace(t *testing.T, hostEnv, memberEnv *testEnv) {
	hostURL, memberURL := hostEnv.url, memberEnv.url
	h := dialRaw(t, hostURL)
	room := h.create("arena", 4, "")
	p := dialRaw(t, memberURL)
	if p.welcome.Token == "" || p.welcome.Grace != 2000 {
		t.Fatalf("welcome %+v: want a token and a 2000 ms grace", p.welcome)
	}
	p.join(room.ID, "")
	h.expect(lobby.TypeMemberJoined)

	// The member's WebSocket drops: it keeps its seat, and a signal for it waits.
	p.drop()
	waitDetached(t, memberEnv, 1)
	h.send(lobby.Message{Type: lobby.TypeSignal, Ref: "s", To: p.id, Signal: offer("restart")})
	if got := h.roundTrip(); len(got) != 0 {
		t.Fatalf("host got %+v while its member was detached, want nothing", got)
	}
	p2, resumed := resumeRaw(t, memberURL, p.welcome.Token)
	if resumed.ID != p.id || resumed.Room == nil || resumed.Room.ID != room.ID || resumed.Room.Host != h.id {
		t.Fatalf("resumed %+v: want member %s of room %s", resumed, p.id, room.ID)
	}
	expectSignal(t, p2, h.id, offer("restart"))
	p2.send(lobby.Message{Type: lobby.TypeSignal, Ref: "a", Signal: &signalAnswer})
	m := h.expect(lobby.TypeSignal)
	if m.From != p.id || m.Signal.SDP != signalAnswer.SDP {
		t.Fatalf("host got %+v, want the answer from %s", m, p.id)
	}

	// The used token is refused; so are malformed ones; none disturbs the member.
	for _, tok := range []string{p.welcome.Token, "", "x", p.id + ".zz", p.id + "." + strings.Repeat("0", 32), strings.Repeat("a", 200)} {
		r := dialRaw(t, memberURL)
		r.send(lobby.Message{Type: lobby.TypeResume, Ref: "r", Token: tok})
		r.expectError(lobby.CodeResumeFailed)
		r.close()
	}
	// Resuming from a connection already in a room is refused.
	h.send(lobby.Message{Type: lobby.TypeResume, Ref: "r", Token: resumed.Token})
	h.expectError(lobby.CodeResumeFailed)

	// The host drops: its room stays open, and the member's signal waits for it.
	h.drop()
	waitDetached(t, hostEnv, 1)
	p2.send(lobby.Message{Type: lobby.TypeSignal, Ref: "s", Signal: offer("to host")})
	if got := p2.roundTrip(); len(got) != 0 {
		t.Fatalf("member got %+v while its host was detached, want nothing", got)
	}
	h2, hm := resumeRaw(t, hostURL, h.welcome.Token)
	if hm.ID != h.id || hm.Room == nil || hm.Room.ID != room.ID || hm.Room.Host != h.id {
		t.Fatalf("host resumed %+v", hm)
	}
	expectSignal(t, h2, p.id, offer("to host"))

	// The member drops for longer than the grace: it leaves, and its token is dead.
	p2.drop()
	m = h2.expect(lobby.TypeMemberLeft)
	if m.Peer != p.id {
		t.Fatalf("member_left %+v, want %s", m, p.id)
	}
	r := dialRaw(t, memberURL)
	r.send(lobby.Message{Type: lobby.TypeResume, Ref: "r", Token: resumed.Token})
	r.expectError(lobby.CodeResumeFailed)
}

var signalAnswer = *offer("x")

func init() { signalAnswer.Type = "answer" }

// TestGrace: a connection in a room whose WebSocket drops keeps its ID, room and seat
// for MemberGrace; a new connection resumes it with its token and gets what was sent
// to it meanwhile; after the grace it leaves. Tokens are single-use.
func TestGrace(t *testing.T) {
	env := newEnv(t, Config{MemberGrace: 2 * time.Second})
	testGrace(t, env, env)
	if got := env.metric(t, "lobby_resumes_total", resumeOK); got != 2 {
		t.Errorf("lobby_resumes_total{ok} = %v, want 2", got)
	}
	if got := env.metric(t, "lobby_resumes_total", resumeExpired); got != 1 {
		t.Errorf("lobby_resumes_total{expired} = %v, want 1", got)
	}
}

// TestGraceRedis runs the same with the host on one instance and the member on
// another, sharing Redis: what waits for a detached member is relayed to its
// instance, and the resumed connections signal across instances.
func TestGraceRedis(t *testing.T) {
	addr := redistest.Start(t)
	p := newRedisPair(t, addr, Config{MemberGrace: 2 * time.Second}, RedisStoreConfig{})
	testGrace(t, p.a, p.b)
}

// TestGraceQueueBound: messages for a detached connection wait up to SendQueue; one
// more ends its grace at once (it leaves).
func TestGraceQueueBound(t *testing.T) {
	env := newEnv(t, Config{MemberGrace: time.Minute, SendQueue: 4})
	h := dialRaw(t, env.url)
	room := h.create("arena", 4, "")
	p := dialRaw(t, env.url)
	p.join(room.ID, "")
	h.expect(lobby.TypeMemberJoined)
	p.drop()
	waitDetached(t, env, 1)
	for i := range 5 {
		h.send(lobby.Message{Type: lobby.TypeSignal, To: p.id, Signal: ice(i)})
	}
	if m := h.expect(lobby.TypeMemberLeft); m.Peer != p.id {
		t.Fatalf("member_left %+v", m)
	}
}

// TestResumeWhileLeaving: a token stops working once its connection starts leaving.
// The resumption here arrives after the room was told the member left and before
// the server forgot the connection; it used to take the connection over.
func TestResumeWhileLeaving(t *testing.T) {
	env := newEnv(t, Config{MemberGrace: 50 * time.Millisecond})
	h := dialRaw(t, env.url)
	room := h.create("arena", 4, "")
	p := dialRaw(t, env.url)
	p.join(room.ID, "")
	h.expect(lobby.TypeMemberJoined)

	leaving, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	env.srv.mu.Lock()
	env.srv.leftHook = func(id string) {
		if id == p.id {
			once.Do(func() { // only the member's first departure waits
				leaving <- struct{}{}
				<-release
			})
		}
	}
	env.srv.mu.Unlock()
	defer close(release)

	p.drop() // the grace expires and the member leaves
	<-leaving
	h.expect(lobby.TypeMemberLeft)
	r := dialRaw(t, env.url)
	r.send(lobby.Message{Type: lobby.TypeResume, Ref: "r", Token: p.welcome.Token})
	r.expectError(lobby.CodeResumeFailed)
}
