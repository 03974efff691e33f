//go:build !js

package lobby

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/volleynet/volley/signaling"
)

// TestBrowserClient runs the wasm build of Client (the browser WebSocket transport) in
// headless Chromium against a real lobby: it joins a locked room hosted by a native
// client, offers, trickles a candidate, gets the answer and leaves.
func TestBrowserClient(t *testing.T) {
	if testing.Short() {
		t.Skip("builds wasm and starts Chromium")
	}
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	dir := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(dir, "client.wasm"), "./testdata/wasmclient")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("wasm build: %v\n%s", err, out)
	}
	wasmExec := filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js")

	srv := NewServer(Config{})
	mux := srv.Mux()
	mux.HandleFunc("/wasm_exec.js", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, wasmExec) })
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
	if _, err := host.Create(ctx, RoomOptions{Name: "browser", Password: "pw"}); err != nil {
		t.Fatal(err)
	}

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chrome), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
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
	cancelBrowser()
	cancelAlloc()
}
