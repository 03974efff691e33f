package server_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/examples/arena/server"
	"github.com/volleynet/volley/internal/leakcheck"
	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/netcode"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m)
}

// TestArenaWithBots starts the arena with its in-process lobby and four native bots
// (each a lobby client and a WebRTC peer on loopback) and waits until they all play
// and someone scores.
func TestArenaWithBots(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	a, err := server.Start(ctx, server.Config{
		Bots:      4,
		NoWeb:     true,
		Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	// The page's configuration names the room; the disabled client says why.
	body := getBody(t, a.URL+"config.js")
	if !strings.Contains(body, a.RoomID) || !strings.Contains(body, "disabled") {
		t.Errorf("config.js = %s; want the room %s and the reason the client is unavailable", body, a.RoomID)
	}

	deadline := time.NewTimer(45 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case <-a.Host.Updated():
		case <-deadline.C:
			t.Fatalf("no kill among 4 bots in 45 s: %+v; bots: %v", a.Host.Summary().Players, a.Bots().Stats().Summary())
		}
		s := a.Host.Summary()
		kills := 0
		named := 0
		for _, p := range s.Players {
			kills += p.Kills
			if strings.HasPrefix(p.Name, "bot") {
				named++
			}
		}
		if len(s.Players) == 4 && named == 4 && kills > 0 {
			break
		}
	}
	st := a.Bots().Stats().Summary()
	if st.Connected != 4 || st.Failures != 0 {
		t.Errorf("bots: %v", st)
	}

	// /metrics serves the host's netcode metrics and the embedded lobby's.
	body = getBody(t, a.URL+"metrics")
	for _, want := range []string{"volley_netcode_clients 4", "volley_netcode_tick_seconds_count", "volley_netcode_snapshot_send_lag_seconds_bucket", "lobby_rooms"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	t.Log(st)
	if err := a.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// TestExternalLobby runs the host and a bot against a lobby served elsewhere; the page
// is told to use that lobby and room. The lobby also has an older room of another
// game, which an arena client quick-joining never lands in.
func TestExternalLobby(t *testing.T) {
	lob := lobbyserver.New(lobbyserver.Config{})
	ts := httptest.NewServer(lob.Mux())
	defer ts.Close()
	defer lob.Close()
	lobbyURL := "ws" + strings.TrimPrefix(ts.URL, "http") + "/ws"

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	other, err := lobby.Dial(ctx, lobbyURL, lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Create(ctx, lobby.RoomOptions{Name: "not the arena", Game: "first-game"}); err != nil {
		t.Fatal(err)
	}
	a, err := server.Start(ctx, server.Config{
		LobbyURL:  lobbyURL,
		Bots:      1,
		NoWeb:     true,
		Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	body := getBody(t, a.URL+"config.js")
	if !strings.Contains(body, lobbyURL) || !strings.Contains(body, a.RoomID) {
		t.Errorf("config.js = %s; want lobby %s and room %s", body, lobbyURL, a.RoomID)
	}
	if res, err := http.Get(a.URL + "ws"); err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET /ws = %d; the arena should not serve a lobby of its own", res.StatusCode)
		}
	}
	for len(a.Host.Summary().Players) < 1 {
		select {
		case <-a.Host.Updated():
		case <-ctx.Done():
			t.Fatal("the bot never joined through the external lobby")
		}
	}
	lc, _, _, err := client.JoinRoom(ctx, lobbyURL, "", lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if id, _ := lc.Room(); id != a.RoomID {
		t.Errorf("an arena client quick-joined room %s, not the arena's %s", id, a.RoomID)
	}
	page, err := lc.ListPage(ctx, lobby.ListOptions{Game: game.LobbyGame})
	if err != nil || len(page.Rooms) != 1 || page.Rooms[0].ID != a.RoomID || page.Rooms[0].GameVersion != game.LobbyVersion {
		t.Errorf("arena rooms = %+v, %v", page.Rooms, err)
	}
	if body := getBody(t, a.URL+"metrics"); !strings.Contains(body, "lobby_http_sockets") {
		t.Error("/metrics lacks the web server's lobby_http_sockets")
	}
	if err := a.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// TestListenerAndFavicon starts an arena on a listener of the caller's, which then
// serves the page's favicon (browsers ask for it; a 404 is a console error).
func TestListenerAndFavicon(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := server.Start(ctx, server.Config{Listener: ln, NoWeb: true,
		Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if want := "http://" + ln.Addr().String() + "/"; a.URL != want {
		t.Errorf("URL = %s; want %s, the listener's", a.URL, want)
	}
	res, err := http.Get(a.URL + "favicon.ico")
	if err != nil {
		t.Fatal(err)
	}
	icon, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/x-icon" || !bytes.HasPrefix(icon, []byte{0, 0, 1, 0}) {
		t.Errorf("GET /favicon.ico = %d, %s, % x...; want an icon", res.StatusCode, res.Header.Get("Content-Type"), icon[:min(len(icon), 8)])
	}
	if err := a.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// getBody GETs url and returns the body of a 200 answer.
func getBody(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, res.Status, err)
	}
	return string(body)
}

// TestJSLobbyIdentity: the JavaScript page quick-joins with the same game name and
// version as the Go client (game.js mirrors package game).
func TestJSLobbyIdentity(t *testing.T) {
	src, err := os.ReadFile("static/js/game.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`export const LobbyGame = "` + game.LobbyGame + `";`,
		`export const LobbyVersion = "` + game.LobbyVersion + `";`,
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("static/js/game.js lacks %s", want)
		}
	}
}
