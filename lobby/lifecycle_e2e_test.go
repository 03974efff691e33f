//go:build !js

package lobby_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/volleynet/volley/internal/redistest"
	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/snapshot"
)

// TestLobbyLostMidGame kills a player's lobby WebSocket mid-game and keeps the lobby
// unreachable for a while: the game goes on (snapshots keep coming, a command still
// arrives: WebRTC does not need the lobby); once the lobby is reachable again the
// lobby client reconnects with the same member identity, and an ICE restart, whose
// signaling goes through the lobby, then works. With one lobby instance, with the host
// and the player on two instances sharing Redis, and with the player reconnecting to
// the other instance (as behind a load balancer), its host on either instance.
func TestLobbyLostMidGame(t *testing.T) {
	t.Run("one instance", func(t *testing.T) {
		srv := lobbyserver.New(lobbyserver.Config{})
		ts := httptest.NewServer(srv.Mux())
		defer ts.Close()
		defer srv.Close()
		url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"
		testLobbyLost(t, url, url, url)
	})
	addr := redistest.Start(t)
	twoInstances := func(t *testing.T) (a, b string) {
		var urls []string
		for range 2 {
			rdb := redis.NewClient(&redis.Options{Addr: addr})
			t.Cleanup(func() { rdb.Close() })
			srv := lobbyserver.New(lobbyserver.Config{Store: lobbyserver.NewRedisStore(rdb, lobbyserver.RedisStoreConfig{Prefix: t.Name() + ":"})})
			ts := httptest.NewServer(srv.Mux())
			t.Cleanup(ts.Close)
			t.Cleanup(func() { srv.Close() })
			urls = append(urls, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws")
		}
		return urls[0], urls[1]
	}
	t.Run("two instances on Redis", func(t *testing.T) {
		a, b := twoInstances(t)
		testLobbyLost(t, a, b, b)
	})
	t.Run("back on the other instance, host there", func(t *testing.T) {
		a, b := twoInstances(t)
		testLobbyLost(t, b, a, b)
	})
	t.Run("back on the other instance, host on the first", func(t *testing.T) {
		a, b := twoInstances(t)
		testLobbyLost(t, a, a, b)
	})
}

// testLobbyLost runs the scenario with the host on hostURL and the player on
// playerURL, reconnecting to backURL.
func testLobbyLost(t *testing.T, hostURL, playerURL, backURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(1, e2ePlayer{}); err != nil {
		t.Fatal(err)
	}
	loopback := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}
	moved := make(chan netcode.ClientID, 4)
	game, err := netcode.NewServer(netcode.ServerConfig{Registry: reg, Transport: loopback, Step: func(tk *netcode.Tick) {
		for _, id := range tk.Joined {
			_ = tk.World.Set(snapshot.EntityID(id), 1, &e2ePlayer{})
		}
		for _, c := range tk.Commands {
			moved <- c.Client
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer game.Close()
	host, err := lobby.Dial(ctx, hostURL, lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if _, err := host.Create(ctx, lobby.RoomOptions{Name: "lost"}); err != nil {
		t.Fatal(err)
	}
	accepted := make(chan error, 1)
	go func() {
		_, sig, err := host.AcceptMember(ctx)
		if err == nil {
			_, err = game.Accept(ctx, sig)
		}
		accepted <- err
	}()

	proxy := newCutProxy(t, playerURL)
	lc, err := lobby.Dial(ctx, proxy.url(), lobby.ClientConfig{ReconnectBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if _, err := lc.QuickJoin(ctx); err != nil {
		t.Fatal(err)
	}
	member, firstToken := lc.ID(), lc.ResumeToken()
	nc, err := netcode.Dial(ctx, netcode.ClientConfig{Registry: reg, Transport: loopback}, lc.HostSignaler())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := <-accepted; err != nil {
		t.Fatal(err)
	}
	waitUpdates(ctx, t, nc, 5, "first snapshots")

	// The lobby is gone for the player: the game does not notice.
	proxy.setDown(true)
	proxy.cut()
	waitUpdates(ctx, t, nc, 30, "snapshots while the lobby is unreachable")
	if err := nc.Send(e2eMove{DX: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-moved:
		if id != nc.ID() {
			t.Fatalf("command from %d, want %d", id, nc.ID())
		}
	case <-ctx.Done():
		t.Fatal("a command sent while the lobby was unreachable never arrived")
	}
	if err := lc.Err(); err != nil {
		t.Fatalf("lobby client gave up: %v", err)
	}

	// The lobby is back (where the load balancer sends the player now): same
	// member identity.
	proxy.retarget(backURL)
	proxy.setDown(false)
	select {
	case e := <-lc.Events():
		if e.Type != lobby.TypeResumed {
			t.Fatalf("lobby event %+v, want %q", e, lobby.TypeResumed)
		}
	case <-ctx.Done():
		t.Fatalf("the lobby client never reconnected: %v", lc.Err())
	}
	if lc.ID() != member {
		t.Fatalf("member %q after reconnecting, want %q", lc.ID(), member)
	}
	// The token the client resumed with is spent, on every instance.
	for _, url := range []string{playerURL, backURL} {
		if _, err := lobby.Dial(ctx, url, lobby.ClientConfig{Resume: firstToken}); !errors.Is(err, lobby.ErrResumeFailed) {
			t.Fatalf("a replayed token on %s: %v, want ErrResumeFailed", url, err)
		}
	}

	// An ICE restart, signaled through the reconnected lobby, completes.
	nc.RestartICE()
	deadline := time.Now().Add(30 * time.Second)
	for nc.Stats().Restarts == 0 || nc.State() != netcode.LinkConnected {
		if time.Now().After(deadline) {
			t.Fatalf("ICE restart did not complete: state %v, stats %+v", nc.State(), nc.Stats())
		}
		<-time.After(20 * time.Millisecond)
	}
	if st := nc.Stats(); st.RestartsFailed != 0 {
		t.Fatalf("stats %+v: a restart failed", st)
	}
	waitUpdates(ctx, t, nc, 10, "snapshots after the ICE restart")
	if got := game.LifecycleStats().RestartsAnswered; got != 1 {
		t.Fatalf("host answered %d restarts, want 1", got)
	}
}

// waitUpdates waits for n snapshot wake-ups.
func waitUpdates(ctx context.Context, t *testing.T, nc *netcode.Client, n int, what string) {
	t.Helper()
	for range n {
		select {
		case <-nc.Updates():
		case <-nc.Done():
			t.Fatalf("%s: client ended: %v", what, nc.Err())
		case <-ctx.Done():
			t.Fatalf("waiting for %s", what)
		}
	}
}
