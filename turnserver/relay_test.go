package turnserver

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/volleynet/volley/internal/leakcheck"
	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/netcode"
	"github.com/volleynet/volley/snapshot"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

const testSecret = "test-turn-secret"

// Ball is the test game's entity.
type Ball struct {
	X float32 `snap:"float,min=-1000,max=1000,prec=0.01"`
}

func registry(t testing.TB) *snapshot.Registry {
	t.Helper()
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(1, Ball{}); err != nil {
		t.Fatal(err)
	}
	return reg
}

func startTURN(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Secret == "" {
		cfg.Secret = testSecret
	}
	if cfg.ListenUDP == "" && cfg.ListenTCP == "" {
		cfg.ListenUDP, cfg.ListenTCP = "127.0.0.1:0", "127.0.0.1:0"
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// commandLog records the commands the host's Step saw, in order.
type commandLog struct {
	mu   sync.Mutex
	seen []int
	poke chan struct{}
}

func (l *commandLog) add(n int) {
	l.mu.Lock()
	l.seen = append(l.seen, n)
	l.mu.Unlock()
	select {
	case l.poke <- struct{}{}:
	default:
	}
}

// TestRelayOnlyPlays: a player whose ICE policy is "relay" plays through the
// embedded TURN server with the credentials the lobby hands out (the lobby and the
// relay share the secret), over TURN/UDP and over TURN/TCP: the selected pair is
// relayed, snapshots arrive at the host's full rate, commands arrive exactly once.
func TestRelayOnlyPlays(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) { testRelayOnly(t, transport) })
	}
}

func testRelayOnly(t *testing.T, transport string) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	turnSrv := startTURN(t, Config{})
	var urls []string
	for _, u := range turnSrv.URLs("") {
		if strings.HasSuffix(u, "transport="+transport) {
			urls = append(urls, u)
		}
	}
	lob := lobbyserver.New(lobbyserver.Config{TURNURLs: urls, TURNSecret: testSecret})
	ts := httptest.NewServer(lob.Mux())
	defer ts.Close()
	defer lob.Close()
	wsURL := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"

	reg := registry(t)
	cmds := &commandLog{poke: make(chan struct{}, 1)}
	loopback := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}
	var players []snapshot.EntityID // tick goroutine
	srv, err := netcode.NewServer(netcode.ServerConfig{
		Registry:  reg,
		Transport: loopback,
		Step: func(tk *netcode.Tick) {
			for _, id := range tk.Joined {
				players = append(players, snapshot.EntityID(id))
			}
			for _, c := range tk.Commands {
				var n int
				if c.Decode(&n) == nil {
					cmds.add(n)
				}
			}
			for _, id := range players {
				tk.World.Set(id, 1, Ball{X: float32(tk.N%1000) / 10}) // changes every tick
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	host, err := lobby.Dial(ctx, wsURL, lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	if _, err := host.Create(ctx, lobby.RoomOptions{Name: "relay"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, sig, err := host.AcceptMember(ctx)
		if err == nil {
			srv.Accept(ctx, sig)
		}
	}()

	player, err := lobby.Dial(ctx, wsURL, lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer player.Close()
	if _, err := player.QuickJoin(ctx); err != nil {
		t.Fatal(err)
	}
	ice := player.ICEServers()
	if len(ice) != 1 || ice[0].Username == "" || !strings.HasSuffix(ice[0].Username, ":"+player.ID()) {
		t.Fatalf("welcome ICE servers %+v: want the relay with a credential for %s", ice, player.ID())
	}
	relayOnly := loopback
	relayOnly.ICE.RelayOnly = true
	relayOnly.ICE.Servers = []webrtc.ICEServer{{URLs: ice[0].URLs, Username: ice[0].Username, Credential: ice[0].Credential}}
	c, err := netcode.Dial(ctx, netcode.ClientConfig{Registry: reg, Transport: relayOnly}, player.HostSignaler())
	if err != nil {
		t.Fatalf("relay-only dial through TURN/%s: %v", transport, err)
	}
	defer c.Close()

	path, ok := c.SelectedPath()
	if !ok || path.LocalType != "relay" {
		t.Fatalf("selected path %+v (ok %v), want a relayed local candidate", path, ok)
	}
	if got := testutil.ToFloat64(turnSrv.m.created.WithLabelValues(transport)); got < 1 {
		t.Fatalf("allocations over %s: %v, want at least 1", transport, got)
	}

	// Commands: exactly once, in order.
	const n = 50
	for i := range n {
		if err := c.Send(i); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	for {
		cmds.mu.Lock()
		got := len(cmds.seen)
		cmds.mu.Unlock()
		if got >= n {
			break
		}
		select {
		case <-cmds.poke:
		case <-c.Done():
			t.Fatalf("client ended waiting for commands: %v", c.Err())
		case <-deadline.C:
			t.Fatalf("host saw %d of %d commands", got, n)
		}
	}
	cmds.mu.Lock()
	for i, v := range cmds.seen {
		if v != i || i >= n {
			cmds.mu.Unlock()
			t.Fatalf("commands seen %v, want 0..%d once each in order", cmds.seen, n-1)
		}
	}
	cmds.mu.Unlock()

	// Snapshots at the full rate: the client receives what the host sends it, and
	// the relay drops nothing for bandwidth.
	ids := srv.Clients()
	if len(ids) != 1 {
		t.Fatalf("host clients %v", ids)
	}
	sent := func() uint64 { st, _ := srv.ClientStats(ids[0]); return st.Snapshots }
	target := sent() + 60 // two more seconds of snapshots
	for sent() < target {
		select {
		case <-c.Updates():
		case <-c.Done():
			t.Fatalf("client ended waiting for snapshots: %v", c.Err())
		case <-deadline.C:
			t.Fatalf("host sent %d snapshots, waiting for %d", sent(), target)
		}
	}
	for c.Stats().Snapshots < target*95/100 {
		select {
		case <-c.Updates():
		case <-c.Done():
			t.Fatalf("client ended waiting for snapshots: %v", c.Err())
		case <-deadline.C:
			t.Fatalf("client received %d of the host's %d snapshots", c.Stats().Snapshots, target)
		}
	}
	if d := testutil.ToFloat64(turnSrv.m.dropped.WithLabelValues(dropBandwidth)); d != 0 {
		t.Fatalf("relay dropped %v datagrams for bandwidth", d)
	}
	if b := testutil.ToFloat64(turnSrv.m.relayed.WithLabelValues(toClient)); b == 0 {
		t.Fatal("relay counted no bytes to the client")
	}
	if err := c.Close(); err != nil && !errors.Is(err, netcode.ErrClosed) {
		t.Fatal(err)
	}
}
