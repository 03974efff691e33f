package server_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/volleynet/volley/examples/arena/game"
	"github.com/volleynet/volley/examples/arena/host"
	"github.com/volleynet/volley/examples/arena/server"
	"github.com/volleynet/volley/internal/browsertest"
	"github.com/volleynet/volley/netcode"
)

// jsScreenshotEnv names a file to save the JS page's screenshot to.
const jsScreenshotEnv = "ARENA_JS_SCREENSHOT"

// TestBrowserJSPlays opens the JavaScript client (/js/, no wasm) in headless Chromium:
// it must connect over WebRTC, a held key must move its player on the host, and the
// page must show the player where the host has it. It saves a screenshot in the
// test's temporary directory.
func TestBrowserJSPlays(t *testing.T) {
	chrome := browsertest.Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bots := 0
	shotPath := os.Getenv(jsScreenshotEnv)
	if shotPath != "" {
		bots = 4
	}
	a, err := server.Start(ctx, server.Config{
		NoWeb:     true, // the JS page needs no wasm build
		Bots:      bots,
		Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	bctx := browsertest.NewBrowser(t, ctx, chrome, chromedp.WindowSize(1280, 760))
	page := a.URL + "js/?" + url.Values{"name": {"jstester"}}.Encode()
	if err := chromedp.Do(bctx, chromedp.EmulateViewport(1280, 720), chromedp.Navigate(page)); err != nil {
		t.Fatalf("navigate to %s: %v", page, err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`window.arenaState && window.arenaState.connected === true`,
		chromedp.WithPollingTimeout(60*time.Second))); err != nil {
		status, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.arenaState)`))
		t.Fatalf("the JS page did not connect: %v; arenaState = %s", err, status)
	}
	id, err := chromedp.Run(bctx, chromedp.Evaluate[int](`window.arenaState.playerId`))
	if err != nil || id == 0 {
		t.Fatalf("playerId = %d, %v", id, err)
	}
	pid := game.PlayerID(id)
	start := waitHost(ctx, t, a.Host, func(s host.Summary) bool {
		p, ok := s.Player(pid)
		return ok && p.Name == "jstester" // the name command arrived
	})
	p0, _ := start.Player(pid)

	walkAndMatch(ctx, bctx, t, a.Host, pid, p0, 0.005)
	title, err := chromedp.Run(bctx, chromedp.Title())
	if err != nil || !contains(title, "jstester") {
		t.Errorf("title = %q (%v), want it to name the player", title, err)
	}
	if shotPath != "" {
		chromedp.Run(bctx, chromedp.Poll[bool](`window.arenaState.players >= 5`, chromedp.WithPollingTimeout(20*time.Second)))
		waitKills(ctx, a.Host, 2, 20*time.Second)
	}
	png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	out := filepath.Join(t.TempDir(), "arena-js.png")
	if shotPath != "" {
		out = shotPath
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", out, len(png))
}

// TestJSPageServed checks the JavaScript client's files: the page, the arena code,
// the bundle, and the schema, byte for byte the checked-in export.
func TestJSPageServed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := server.Start(ctx, server.Config{NoWeb: true, Transport: netcode.TransportConfig{ICE: netcode.ICEConfig{LoopbackOnly: true}}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for path, want := range map[string]string{
		"js/":          `<script type="module" src="arena.js">`,
		"js/arena.js":  `from "./volley.js"`,
		"js/game.js":   "export function movePlayer",
		"js/volley.js": "@volleynet/client",
	} {
		if body := getBody(t, a.URL+path); !contains(body, want) {
			t.Errorf("GET /%s lacks %q", path, want)
		}
	}
	want, err := os.ReadFile(filepath.Join("..", "schema", "arena.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got := getBody(t, a.URL+"js/schema.json"); got+"\n" != string(want) {
		t.Errorf("/js/schema.json = %s, want examples/arena/schema/arena.json", got)
	}
}
