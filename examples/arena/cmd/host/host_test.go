package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/volleynet/volley/examples/arena/bot"
	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/internal/redistest"
	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/netcode"
)

var loopback = netcode.ClientConfig{Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}}

// player is an arena player joined through a lobby.
type player struct {
	lc   *lobby.Client
	sess *client.Session
}

func join(t *testing.T, ctx context.Context, lobbyURL, room string) *player {
	t.Helper()
	lc, sig, _, err := client.JoinRoom(ctx, lobbyURL, room, lobby.ClientConfig{})
	if err != nil {
		t.Fatalf("join room %s through %s: %v", room, lobbyURL, err)
	}
	sess, err := client.Connect(ctx, client.Config{Netcode: loopback}, sig)
	if err != nil {
		lc.Close()
		t.Fatalf("connect to the host of %s: %v", room, err)
	}
	p := &player{lc: lc, sess: sess}
	t.Cleanup(func() {
		sess.Close()
		lc.Close()
	})
	return p
}

// snapshots waits until the player has received n more snapshots.
func (p *player) snapshots(t *testing.T, ctx context.Context, n uint64, what string) {
	t.Helper()
	nc := p.sess.Netcode()
	target := nc.Stats().Snapshots + n
	for nc.Stats().Snapshots < target {
		select {
		case <-nc.Updates():
		case <-p.sess.Done():
			t.Fatalf("%s: session ended: %v", what, p.sess.Err())
		case <-ctx.Done():
			t.Fatalf("%s: %d snapshots, waiting for %d", what, nc.Stats().Snapshots, target)
		}
	}
}

// waitEnd waits for the player's session to end and returns why.
func (p *player) waitEnd(t *testing.T, ctx context.Context) error {
	t.Helper()
	select {
	case <-p.sess.Done():
		return p.sess.Err()
	case <-ctx.Done():
		t.Fatal("session still running")
		return nil
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHostCommand: the host command, started as a process, joins a lobby process,
// serves bots on its one UDP port with /healthz and /metrics, and on SIGTERM tells its
// players "draining" and exits cleanly.
func TestHostCommand(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	_, lobbyURL := startLobby(t)
	hostProc, room, httpAddr := startHost(t, lobbyURL)

	botCtx, stopBots := context.WithCancel(ctx)
	sw := bot.StartSwarm(botCtx, bot.SwarmConfig{N: 2, LobbyURL: lobbyURL, RoomID: room, Client: loopback})
	defer func() {
		stopBots()
		sw.Wait()
	}()
	p := join(t, ctx, lobbyURL, room)
	p.snapshots(t, ctx, 30, "a player of the host command")
	for sw.Stats().Summary().Connected < 2 || sw.Stats().Summary().BytesIn == 0 {
		select {
		case <-ctx.Done():
			t.Fatalf("bots: %v", sw.Stats().Summary())
		case <-time.After(20 * time.Millisecond): // polling the swarm's counters: no event exists
		}
	}
	if code, body := get(t, "http://"+httpAddr+"/healthz"); code != 200 || !strings.Contains(body, room) || !strings.Contains(body, "players=3") {
		t.Fatalf("/healthz: %d %q, want 200 with the room and 3 players", code, body)
	}
	if code, body := get(t, "http://"+httpAddr+"/metrics"); code != 200 || !strings.Contains(body, "volley_netcode_clients 3") {
		t.Fatalf("/metrics: %d, want volley_netcode_clients 3 in:\n%s", code, body)
	}

	if err := hostProc.sigterm(ctx); err != nil {
		t.Fatalf("host exit after SIGTERM: %v", err)
	}
	hostProc.waitLine(1, "host drained")
	err := p.waitEnd(t, ctx)
	if !errors.Is(err, netcode.ErrDraining) || !errors.Is(err, netcode.ErrServerClosed) {
		t.Fatalf("player's session ended with %v, want the documented reason (ErrDraining)", err)
	}
	if why, _ := client.Refusal(&netcode.RejectError{Code: "draining"}); why == "" {
		t.Fatal("no explanation for a draining host")
	}
}

// TestHostDrainInProcess: SIGTERM to a host running in this process: its players get
// the "draining" bye, run returns within the drain deadline, and no goroutine is left
// (TestMain checks).
func TestHostDrainInProcess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	lob := lobbyserver.New(lobbyserver.Config{})
	ts := httptest.NewServer(lob.Mux())
	defer ts.Close()
	defer lob.Close()
	lobbyURL := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"

	sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	readyc := make(chan ready, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(sigCtx, []string{"-lobby", lobbyURL, "-udp", "127.0.0.1:0", "-loopback", "-http", "127.0.0.1:0", "-drain-timeout", "30s"},
			io.Discard, func(r ready) { readyc <- r })
	}()
	var r ready
	select {
	case r = <-readyc:
	case err := <-done:
		t.Fatal(err)
	}
	a := join(t, ctx, lobbyURL, r.Room)
	b := join(t, ctx, lobbyURL, r.Room)
	a.snapshots(t, ctx, 10, "player a")
	b.snapshots(t, ctx, 10, "player b")

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*player{a, b} {
		if err := p.waitEnd(t, ctx); !errors.Is(err, netcode.ErrDraining) {
			t.Fatalf("player ended with %v, want ErrDraining", err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("run did not return after SIGTERM")
	}
	// The room is gone from the lobby: nobody can join a draining host.
	lc, err := lobby.Dial(ctx, lobbyURL, lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if _, err := lc.Join(ctx, r.Room, ""); !errors.Is(err, lobby.ErrRoomNotFound) {
		t.Fatalf("joining the drained host's room: %v, want room_not_found", err)
	}
}

// TestLobbyDrainWithGames: two lobby processes on one Redis with games in progress
// through both; SIGTERM to one: the games go on, a host whose room was on it opens
// the room again through the other, new players join through the other, and the
// stopped one exits cleanly.
func TestLobbyDrainWithGames(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	redisURL := "redis://" + redistest.Start(t) + "/0"
	lobA, urlA := startLobby(t, "-redis", redisURL, "-drain-timeout", "60s")
	_, urlB := startLobby(t, "-redis", redisURL, "-drain-timeout", "60s")
	hostA, roomA, _ := startHost(t, urlA+","+urlB) // its room is on A
	_, roomB, _ := startHost(t, urlB)              // its room is on B

	p1 := join(t, ctx, urlA, roomA) // all on A
	p2 := join(t, ctx, urlA, roomB) // on A, playing with a host on B
	p3 := join(t, ctx, urlB, roomA) // on B, playing with a host on A
	for _, p := range []*player{p1, p2, p3} {
		p.snapshots(t, ctx, 10, "before the drain")
	}

	if err := lobA.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Players on A are told to move; their games need the lobby no more.
	for _, p := range []*player{p1, p2} {
		for ev := range p.lc.Events() {
			if ev.Type == lobby.TypeDraining {
				break
			}
		}
		p.lc.Close()
	}
	moved := field(hostA.waitLine(2, "arena room open"), "room")
	if err := lobA.sigterm(ctx); err != nil {
		t.Fatalf("lobby A exit after SIGTERM: %v", err)
	}
	lobA.waitLine(1, "lobby shutting down")

	for _, p := range []*player{p1, p2, p3} {
		p.snapshots(t, ctx, 30, "after lobby A exited")
	}
	p4 := join(t, ctx, urlB, moved) // the moved room, through B
	p5 := join(t, ctx, urlB, roomB)
	p4.snapshots(t, ctx, 10, "new player in the moved room")
	p5.snapshots(t, ctx, 10, "new player through B")
}
