package server_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/volleynet/volley/examples/arena/client"
	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/examples/arena/host"
	"github.com/volleynet/volley/examples/arena/server"
	"github.com/volleynet/volley/internal/browsertest"
	"github.com/volleynet/volley/lobby"
	"github.com/volleynet/volley/netcode"
)

// TestLargeMap starts the arena on a 2×2 map with bots; a player joining through the
// lobby learns the map from the room, plays on it, and (interest management) receives
// fewer entities than the map holds once someone is far from it.
func TestLargeMap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	loopback := netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}
	a, err := server.Start(ctx, server.Config{Bots: 6, NoWeb: true, Transport: loopback, Map: game.NewMap(2)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	lc, sig, m, err := client.JoinRoom(ctx, a.LobbyURL, a.RoomID, lobby.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if m.Tiles != 2 {
		t.Fatalf("the room names a map of %d tiles, want 2", m.Tiles)
	}
	// Another schema, another version: classic-arena clients never quick-join it.
	page, err := lc.ListPage(ctx, lobby.ListOptions{Game: game.LobbyGame})
	if err != nil || len(page.Rooms) != 1 || page.Rooms[0].GameVersion != game.LobbyVersionFor(m) || page.Rooms[0].GameVersion == game.LobbyVersion {
		t.Errorf("arena rooms = %+v, %v; want one of version %s", page.Rooms, err, game.LobbyVersionFor(m))
	}
	sess, err := client.Connect(ctx, client.Config{Name: "me", Map: m, Netcode: client.WithLobbyICE(netcode.ClientConfig{Transport: loopback}, lc)}, sig)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	frames := time.NewTicker(time.Second / 60)
	defer frames.Stop()
	var f *client.Frame
	for {
		select {
		case <-frames.C:
		case <-ctx.Done():
			t.Fatalf("never received fewer entities than the map holds: last frame %+v, host %d players", f.Net, len(a.Host.Summary().Players))
		}
		sess.Poll()
		if err := sess.Input(game.ButtonRight, 0); err != nil {
			t.Fatal(err)
		}
		f = sess.Frame(1.0 / 60)
		players := len(a.Host.Summary().Players)
		if f.Connected && players == 7 && f.Net.Entities > 0 && f.Net.Entities < players {
			break
		}
	}
	t.Logf("receiving %d entities of a map with 7 players; bots: %v", f.Net.Entities, a.Bots().Stats().Summary())
}

// TestBrowserLargeMap plays the wasm client on a 4×4 map with bots in headless
// Chromium: it learns the map from the room, connects, and its camera follows its
// player (the page reports where it is and how many entities it receives). A
// screenshot lands in the test's temporary directory.
func TestBrowserLargeMap(t *testing.T) {
	chrome := browsertest.Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, err := server.Start(ctx, server.Config{
		Bots:      12,
		Map:       game.NewMap(4),
		Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}},
		CacheDir:  server.DefaultCacheDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.WaitWeb(ctx); err != nil {
		t.Fatalf("wasm client: %v", err)
	}
	bctx := browsertest.NewBrowser(t, ctx, chrome, chromedp.WindowSize(1280, 760))
	page := a.PageURL(url.Values{"name": {"tester"}})
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 720), chromedp.Navigate(page)); err != nil {
		t.Fatalf("navigate to %s: %v", page, err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`window.arenaState && window.arenaState.connected === true && window.arenaState.entities > 0`,
		chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		status, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.arenaState)`))
		t.Fatalf("the page did not connect: %v; arenaState = %s", err, status)
	}
	id, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.arenaState.playerId`))
	if err != nil || id == 0 {
		t.Fatalf("playerId = %d, %v", id, err)
	}
	// The page shows its player where the host has it, anywhere on the large map.
	var hostOK bool
	var pos game.Vec
	for range 5 {
		s := waitHost(ctx, t, a.Host, func(s host.Summary) bool { _, ok := s.Player(game.PlayerID(id)); return ok })
		p, _ := s.Player(game.PlayerID(id))
		pos = p.Pos
		expr := fmt.Sprintf(`Math.abs(window.arenaState.x - %f) < 0.05 && Math.abs(window.arenaState.y - %f) < 0.05`, p.Pos.X, p.Pos.Y)
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(5*time.Second))); err == nil {
			hostOK = true
			break
		}
	}
	state, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.arenaState)`))
	if !hostOK {
		t.Errorf("page state %s, host has the player at %+v", state, pos)
	}
	png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	out := filepath.Join(t.TempDir(), "large.png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("player at %+v; page %s; screenshot %s", pos, state, out)
	if shot := os.Getenv("ARENA_LARGE_SCREENSHOT"); shot != "" {
		_ = os.WriteFile(shot, png, 0o644)
	}
}
