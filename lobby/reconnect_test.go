//go:build !js

package lobby_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/signaling"
)

// cutProxy forwards TCP connections to a lobby and can cut them all at once, as a lost
// network does: no close frame, the sockets just end.
type cutProxy struct {
	ln net.Listener
	wg sync.WaitGroup

	mu     sync.Mutex
	target string // host:port of the lobby
	conns  []net.Conn
	down   bool // refuse new connections
}

func newCutProxy(t testing.TB, lobbyURL string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(lobbyURL, "ws://")
	host = host[:strings.Index(host, "/")]
	p := &cutProxy{ln: ln, target: host}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) url() string { return "ws://" + p.ln.Addr().String() + "/ws" }

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down, target := p.down, p.target
		p.mu.Unlock()
		if down {
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, in, out)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

func (p *cutProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}

// retarget sends new connections to the lobby at lobbyURL (a load balancer that
// picks another instance).
func (p *cutProxy) retarget(lobbyURL string) {
	host := strings.TrimPrefix(lobbyURL, "ws://")
	p.mu.Lock()
	p.target = host[:strings.Index(host, "/")]
	p.mu.Unlock()
}

// setDown makes the proxy refuse new connections (true) or accept them again.
func (p *cutProxy) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	p.mu.Unlock()
}

// cut ends every connection through the proxy.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// TestReconnect cuts a player's lobby WebSocket: the client reconnects by itself and
// resumes its connection (same ID, same room, its Signaler still works both ways), and
// says so with a TypeResumed event.
func TestReconnect(t *testing.T) {
	env := newEnv(t, lobbyserver.Config{MemberGrace: 10 * time.Second})
	ctx := testCtx(t)
	proxy := newCutProxy(t, env.url)
	host := dialClient(t, env.url)
	if _, err := host.Create(ctx, lobby.RoomOptions{Name: "arena"}); err != nil {
		t.Fatal(err)
	}
	player, err := lobby.Dial(ctx, proxy.url(), lobby.ClientConfig{ReconnectBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer player.Close()
	if _, err := player.QuickJoin(ctx); err != nil {
		t.Fatal(err)
	}
	id, token := player.ID(), player.ResumeToken()
	toHost := player.HostSignaler()
	if err := toHost.SendSignal(ctx, signaling.Signal{Type: signaling.TypeOffer, SDP: "first"}); err != nil {
		t.Fatal(err)
	}
	peer, toPlayer, err := host.AcceptMember(ctx)
	if err != nil || peer != id {
		t.Fatalf("AcceptMember: %q, %v; want %q", peer, err, id)
	}
	if s, err := toPlayer.RecvSignal(ctx); err != nil || s.SDP != "first" {
		t.Fatalf("host received %+v, %v", s, err)
	}

	proxy.cut()
	select {
	case e := <-player.Events():
		if e.Type != lobby.TypeResumed {
			t.Fatalf("event %+v, want %q", e, lobby.TypeResumed)
		}
	case <-ctx.Done():
		t.Fatalf("no reconnection: %v", player.Err())
	}
	if player.ID() != id || player.Reconnects() != 1 || player.ResumeToken() == token {
		t.Fatalf("after reconnecting: ID %q (was %q), %d reconnects, token changed %v", player.ID(), id, player.Reconnects(), player.ResumeToken() != token)
	}
	if err := toPlayer.SendSignal(ctx, signaling.Signal{Type: signaling.TypeOffer, SDP: "restart"}); err != nil {
		t.Fatal(err)
	}
	if s, err := toHost.RecvSignal(ctx); err != nil || s.SDP != "restart" {
		t.Fatalf("player received %+v, %v", s, err)
	}
	if err := toHost.SendSignal(ctx, signaling.Signal{Type: signaling.TypeAnswer, SDP: "answer"}); err != nil {
		t.Fatal(err)
	}
	if s, err := toPlayer.RecvSignal(ctx); err != nil || s.SDP != "answer" {
		t.Fatalf("host received %+v, %v", s, err)
	}
}

// TestDialResume: a client that does not reconnect by itself ends when its WebSocket
// drops; a new Client dialed with its ResumeToken (as a reloaded page would) takes the
// connection over, room and all. The token then is used up.
func TestDialResume(t *testing.T) {
	env := newEnv(t, lobbyserver.Config{MemberGrace: 10 * time.Second})
	ctx := testCtx(t)
	proxy := newCutProxy(t, env.url)
	host := dialClient(t, env.url)
	room, err := host.Create(ctx, lobby.RoomOptions{Name: "arena"})
	if err != nil {
		t.Fatal(err)
	}
	old, err := lobby.Dial(ctx, proxy.url(), lobby.ClientConfig{ReconnectAttempts: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if _, err := old.Join(ctx, room.ID, ""); err != nil {
		t.Fatal(err)
	}
	token := old.ResumeToken()
	proxy.cut()
	select {
	case <-old.Done():
	case <-ctx.Done():
		t.Fatal("the client without reconnection did not end")
	}
	if !errors.Is(old.Err(), lobby.ErrClosed) {
		t.Fatalf("ended with %v, want ErrClosed", old.Err())
	}

	reloaded, err := lobby.Dial(ctx, env.url, lobby.ClientConfig{Resume: token})
	if err != nil {
		t.Fatal(err)
	}
	defer reloaded.Close()
	if id, _ := reloaded.Room(); reloaded.ID() != old.ID() || id != room.ID {
		t.Fatalf("resumed as %q in room %q, want %q in %q", reloaded.ID(), id, old.ID(), room.ID)
	}
	if err := reloaded.HostSignaler().SendSignal(ctx, signaling.Signal{Type: signaling.TypeOffer, SDP: "again"}); err != nil {
		t.Fatal(err)
	}
	peer, sig, err := host.AcceptMember(ctx)
	if err != nil || peer != old.ID() {
		t.Fatalf("AcceptMember: %q, %v", peer, err)
	}
	if s, err := sig.RecvSignal(ctx); err != nil || s.SDP != "again" {
		t.Fatalf("host received %+v, %v", s, err)
	}

	_, err = lobby.Dial(ctx, env.url, lobby.ClientConfig{Resume: token})
	if !errors.Is(err, lobby.ErrResumeFailed) || lobby.ErrorCode(err) != lobby.CodeResumeFailed {
		t.Fatalf("second resume with the same token: %v, want ErrResumeFailed (%s)", err, lobby.CodeResumeFailed)
	}
}

// TestReconnectAttempts: a lobby that stays unreachable costs the client
// ReconnectAttempts attempts, then it ends with an error matching ErrResumeFailed and
// ErrClosed.
func TestReconnectAttempts(t *testing.T) {
	env := newEnv(t, lobbyserver.Config{MemberGrace: 10 * time.Second})
	ctx := testCtx(t)
	proxy := newCutProxy(t, env.url)
	c, err := lobby.Dial(ctx, proxy.url(), lobby.ClientConfig{ReconnectAttempts: 3, ReconnectBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	host := dialClient(t, env.url)
	room, err := host.Create(ctx, lobby.RoomOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Join(ctx, room.ID, ""); err != nil {
		t.Fatal(err)
	}
	proxy.setDown(true)
	proxy.cut()
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the client kept reconnecting")
	}
	if err := c.Err(); !errors.Is(err, lobby.ErrResumeFailed) || !errors.Is(err, lobby.ErrClosed) || !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("client ended with %v, want ErrResumeFailed after 3 attempts", err)
	}
}
