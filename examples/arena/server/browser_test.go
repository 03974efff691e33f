package server_test

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/examples/arena/host"
	"github.com/volleynet/volley/examples/arena/server"
	"github.com/volleynet/volley/internal/browsertest"
	"github.com/volleynet/volley/netcode"
)

// screenshotEnv names a file to save the README screenshot to, e.g.
// ARENA_SCREENSHOT=$PWD/docs/arena.png go test -run TestBrowserPlays ./examples/arena/server
const screenshotEnv = "ARENA_SCREENSHOT"

// TestBrowserPlays starts the whole arena in-process (lobby, host, web server, wasm
// build), opens the page in headless Chromium, waits for the wasm client to connect
// over WebRTC, holds a movement key, and checks that the host moved that player and
// that the page shows it where the host has it. It saves a screenshot in the test's
// temporary directory.
func TestBrowserPlays(t *testing.T) {
	chrome := browsertest.Chromium(t)
	shotPath := os.Getenv(screenshotEnv)
	bots := 0
	if shotPath != "" {
		bots = 4 // the arena command's default, as the README's picture says
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a, err := server.Start(ctx, server.Config{
		Bots:      bots,
		Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}},
		CacheDir:  server.DefaultCacheDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	buildStart := time.Now()
	if err := a.WaitWeb(ctx); err != nil {
		t.Fatalf("wasm client: %v", err)
	}
	t.Logf("wasm client ready after %v", time.Since(buildStart).Round(time.Millisecond))

	bctx := browsertest.NewBrowser(t, ctx, chrome, chromedp.WindowSize(1280, 760))

	page := a.PageURL(url.Values{"name": {"tester"}})
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 720), chromedp.Navigate(page)); err != nil {
		t.Fatalf("navigate to %s: %v", page, err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`window.arenaState && window.arenaState.connected === true`,
		chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		status, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.arenaState)`))
		t.Fatalf("the page did not connect: %v; arenaState = %s", err, status)
	}
	id, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.arenaState.playerId`))
	if err != nil || id == 0 {
		t.Fatalf("playerId = %d, %v", id, err)
	}
	pid := game.PlayerID(id)
	start := waitHost(ctx, t, a.Host, func(s host.Summary) bool { _, ok := s.Player(pid); return ok })
	p0, _ := start.Player(pid)
	if p0.Name != "tester" {
		t.Errorf("host knows the player as %q, want %q", p0.Name, "tester")
	}

	pageX := walkAndMatch(ctx, bctx, t, a.Host, pid, p0, 0.05)
	if math.Abs(pageX-p0.Pos.X) < 3 {
		t.Errorf("page x %.2f barely moved from the spawn x %.2f", pageX, p0.Pos.X)
	}
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil || !contains(title, "tester") {
		t.Errorf("title = %q (%v), want it to name the player", title, err)
	}

	if shotPath != "" {
		// Let the bots fight a little for the picture.
		chromedp.Run(bctx, chromedp.Poll[bool](fmt.Sprintf(`window.arenaState.players >= %d`, bots+1), chromedp.WithPollingTimeout(20*time.Second)))
		waitKills(ctx, a.Host, 3, 20*time.Second)
	}
	png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	out := filepath.Join(t.TempDir(), "arena.png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(png))
	if shotPath != "" {
		if err := os.WriteFile(shotPath, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("README screenshot written to %s", shotPath)
	}

	// A page pointed at a lobby that is not there says so.
	tab, tabCancel := chromedp.NewContext(bctx)
	defer tabCancel()
	bad := a.PageURL(url.Values{"lobby": {"ws://127.0.0.1:1/ws"}})
	if err := chromedp.Do(tab, chromedp.Navigate(bad)); err != nil {
		t.Fatal(err)
	}
	badStatus, err := chromedp.Run(tab, chromedp.Poll[string](
		`/Cannot reach the lobby/.test(window.arenaState.status) && window.arenaState.status`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		st, _ := chromedp.Run(tab, chromedp.Evaluate[string](`JSON.stringify(window.arenaState)`))
		t.Errorf("page with a wrong lobby: %v; arenaState = %s", err, st)
	}
	t.Logf("page status with a wrong lobby: %q", badStatus)
	tabCancel()

	// When the host goes away, the page says so and tries again.
	if err := a.Host.Close(); err != nil {
		t.Errorf("host close: %v", err)
	}
	status, err := chromedp.Run(bctx, chromedp.Poll[string](
		`!window.arenaState.connected && /Reconnecting/.test(window.arenaState.status) && window.arenaState.status`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		t.Errorf("the page did not report the lost host: %v", err)
	}
	t.Logf("page status after the host closed: %q", status)
}

// key dispatches one keyboard event to the page.
func key(typ input.DispatchKeyEventType, code, keyName string, vk int64) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
			Type: typ, Code: code, Key: keyName, WindowsVirtualKeyCode: vk, NativeVirtualKeyCode: vk,
		})
		return chromedp.Void{}, err
	}
}

// waitHost waits (on the host's per-tick signal, at most 20 s) for a summary that
// satisfies cond, and returns it.
func waitHost(ctx context.Context, t *testing.T, h *host.Host, cond func(host.Summary) bool) host.Summary {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		select {
		case <-h.Updated():
			if s := h.Summary(); cond(s) {
				return s
			}
		case <-deadline.C:
			t.Fatalf("host state never reached the expected condition; last: %+v", h.Summary().Players)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

// waitKills waits until the players have n kills in total, or d passes.
func waitKills(ctx context.Context, h *host.Host, n int, d time.Duration) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		select {
		case <-h.Updated():
			total := 0
			for _, p := range h.Summary().Players {
				total += p.Kills
			}
			if total >= n {
				return
			}
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestBrowserReload opens the arena page, plays until the page's player has a score
// (three bots hunt it), and reloads the page: within the resume window it comes back
// as the same player with its score (the page kept its lobby token and session state
// in sessionStorage), and the host saw a suspension and a resumption, not a departure
// and a join. The network panel's state counts the resumption.
func TestBrowserReload(t *testing.T) {
	chrome := browsertest.Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	a, err := server.Start(ctx, server.Config{
		Bots:      3,
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
	started := time.Now()
	bctx := browsertest.NewBrowser(t, ctx, chrome, chromedp.WindowSize(1280, 760))
	page := a.PageURL(url.Values{"name": {"reloader"}})
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 720), chromedp.Navigate(page)); err != nil {
		t.Fatalf("navigate to %s: %v", page, err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`window.arenaState && window.arenaState.connected === true`,
		chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		status, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.arenaState)`))
		t.Fatalf("the page did not connect: %v; arenaState = %s", err, status)
	}
	id, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.arenaState.playerId`))
	if err != nil || id == 0 {
		t.Fatalf("playerId = %d, %v", id, err)
	}
	pid := game.PlayerID(id)
	// The bots find the standing player within seconds; allow for a loaded machine.
	scoreDeadline := time.NewTimer(2 * time.Minute)
	defer scoreDeadline.Stop()
	var before game.Player
	for before.Kills+before.Deaths == 0 {
		select {
		case <-a.Host.Updated():
			before, _ = a.Host.Summary().Player(pid)
		case <-scoreDeadline.C:
			t.Fatalf("the page's player never scored: %+v", a.Host.Summary().Players)
		}
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`sessionStorage.getItem("volley.arena.session") !== null`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the page keeps no session state: %v", err)
	}
	resumedBefore := a.Host.Server().LifecycleStats().Resumed
	t.Logf("player %d scored (%d kills, %d deaths) after %v; reloading", pid, before.Kills, before.Deaths, time.Since(started).Round(time.Second))

	reloaded := time.Now()
	if err := chromedp.Do(bctx, chromedp.Reload()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	expr := fmt.Sprintf(`window.arenaState && window.arenaState.connected === true && window.arenaState.playerId === %d && window.arenaState.resumes >= 1`, id)
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		status, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.arenaState)`))
		t.Fatalf("the reloaded page did not come back as player %d: %v; arenaState = %s", id, err, status)
	}
	after, ok := a.Host.Summary().Player(pid)
	if !ok || after.Kills < before.Kills || after.Deaths < before.Deaths || after.Name != "reloader" {
		t.Fatalf("after the reload the host has %+v (found %v), before %+v", after, ok, before)
	}
	st := a.Host.Server().LifecycleStats()
	if st.Resumed != resumedBefore+1 {
		t.Fatalf("lifecycle %+v: want one more resumption", st)
	}
	if n := a.Host.Server().Totals().Disconnects; n["left"]+n["error"]+n["closed"] != 0 {
		t.Fatalf("departures %v: the reload made the player leave", n)
	}
	shown := fmt.Sprintf(`window.arenaState.kills >= %d && window.arenaState.deaths >= %d`, before.Kills, before.Deaths)
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](shown, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		status, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.arenaState)`))
		t.Fatalf("the page does not show the score (%d kills, %d deaths): %v; arenaState = %s", before.Kills, before.Deaths, err, status)
	}
	t.Logf("player %d came back with %d kills, %d deaths (before: %d, %d) %v after the reload; lifecycle %+v",
		pid, after.Kills, after.Deaths, before.Kills, before.Deaths, time.Since(reloaded).Round(time.Millisecond), st)
}

// walkAndMatch holds a key that walks the page's player pid toward the middle (every
// spawn point has room that way) until the host has moved it 3 units from p0, lets
// go, and checks that once it stands still the page shows it within tol of where
// the host has it. It returns the page's x.
func walkAndMatch(ctx, bctx context.Context, t *testing.T, h *host.Host, pid game.PlayerID, p0 game.Player, tol float64) float64 {
	t.Helper()
	code, keyName, vk, dir := "KeyD", "d", int64(68), 1.0
	if p0.Pos.X > game.Width/2 {
		code, keyName, vk, dir = "KeyA", "a", int64(65), -1.0
	}
	if err := chromedp.Do(bctx, key(input.DispatchKeyEventTypeKeyDown, code, keyName, vk)); err != nil {
		t.Fatal(err)
	}
	moved := waitHost(ctx, t, h, func(s host.Summary) bool {
		p, ok := s.Player(pid)
		return ok && (p.Pos.X-p0.Pos.X)*dir > 3
	})
	if err := chromedp.Do(bctx, key(input.DispatchKeyEventTypeKeyUp, code, keyName, vk)); err != nil {
		t.Fatal(err)
	}
	p1, _ := moved.Player(pid)
	t.Logf("host moved player %d from %+v to %+v", pid, p0.Pos, p1.Pos)

	// Once it stands still, the page must draw the player where the host has it.
	var hostX float64
	var same bool
	for range 3 {
		s := waitHost(ctx, t, h, func(host.Summary) bool { return true })
		p, _ := s.Player(pid)
		hostX = p.Pos.X
		expr := fmt.Sprintf(`window.arenaState.connected && Math.abs(window.arenaState.x - %f) < %f`, hostX, tol)
		if _, err := chromedp.Run(bctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(5*time.Second))); err == nil {
			same = true
			break
		}
	}
	pageX, _ := chromedp.Run(bctx, chromedp.Evaluate[float64](`window.arenaState.x`))
	if !same {
		t.Errorf("the page shows x = %.2f, the host has %.2f", pageX, hostX)
	}
	return pageX
}
