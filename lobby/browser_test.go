//go:build !js

package lobby_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/volleynet/volley/internal/browsertest"
	"github.com/volleynet/volley/lobby"
	lobbyserver "github.com/volleynet/volley/lobby/server"
	"github.com/volleynet/volley/signaling"
)

// TestBrowserClient runs the wasm build of Client (the browser WebSocket transport) in
// headless Chromium against a real lobby: it joins a locked room hosted by a native
// client, offers, trickles a candidate, gets the answer and leaves.
func TestBrowserClient(t *testing.T) {
	chrome := browsertest.Chromium(t)
	dir := t.TempDir()
	browsertest.BuildWasm(t, t.Context(), "./testdata/wasmclient", filepath.Join(dir, "client.wasm"))
	wasmExec := browsertest.WasmExecJS(t)

	srv := lobbyserver.New(lobbyserver.Config{})
	mux := srv.Mux()
	mux.HandleFunc("/wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "wasm_exec.js", time.Time{}, bytes.NewReader(wasmExec))
	})
	mux.HandleFunc("/client.wasm", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, filepath.Join(dir, "client.wasm"))
	})
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><script src="/wasm_exec.js"></script><script>
window.lobbyURL = "ws://" + location.host + "/ws";
const go = new Go();
WebAssembly.instantiateStreaming(fetch("/client.wasm"), go.importObject)
  .then(r => go.run(r.instance))
  .catch(e => { window.lobbyResult = "error: " + e; });
</script>`))
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	host := dialClient(t, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws")
	if _, err := host.Create(ctx, lobby.RoomOptions{Name: "browser", Password: "pw"}); err != nil {
		t.Fatal(err)
	}

	browser := browsertest.NewBrowser(t, ctx, chrome)
	if err := chromedp.Do(browser, chromedp.Navigate(ts.URL+"/")); err != nil {
		t.Fatal(err)
	}

	// The host side: the browser's offer and candidate arrive, stamped with its ID.
	memberID, sig, err := host.AcceptMember(ctx)
	if err != nil {
		t.Fatal(err)
	}
	offer, err := sig.RecvSignal(ctx)
	if err != nil || offer.SDP != "offer from "+memberID {
		t.Fatalf("offer = %+v, %v", offer, err)
	}
	cand, err := sig.RecvSignal(ctx)
	if err != nil || cand.Candidate != "candidate:wasm" || cand.SDPMid == nil || *cand.SDPMid != "0" || cand.SDPMLineIndex == nil {
		t.Fatalf("candidate = %+v, %v", cand, err)
	}
	if err := sig.SendSignal(ctx, signaling.Signal{Type: signaling.TypeAnswer, SDP: "answer for " + memberID}); err != nil {
		t.Fatal(err)
	}

	if _, err := chromedp.Run(browser, chromedp.Poll[bool](`typeof window.lobbyResult === "string"`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatal(err)
	}
	result, err := chromedp.Run(browser, chromedp.Evaluate[string](`window.lobbyResult`))
	if err != nil {
		t.Fatal(err)
	}
	if result != "ok: answer for "+memberID {
		t.Fatalf("browser: %s", result)
	}
	// The browser left: its Signaler on the host closes.
	if _, err := sig.RecvSignal(ctx); err == nil {
		t.Fatal("member signaler still open after the browser left")
	}
}
