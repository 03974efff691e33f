//go:build !js

package netcode

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

const probePage = `<!doctype html>
<meta charset="utf-8">
<script src="wasm_exec.js"></script>
<script>
window.volleyOutQ = []; window.volleyWaiters = [];
window.volleyPush = (s) => { const w = volleyWaiters.shift(); if (w) w(s); else volleyOutQ.push(s); };
window.volleyNext = () => new Promise(r => { if (volleyOutQ.length) r(volleyOutQ.shift()); else volleyWaiters.push(r); });
window.volleyDone = new Promise(r => { window.volleyFinish = r; });
const go = new Go();
WebAssembly.instantiateStreaming(fetch("probe.wasm"), go.importObject).then(r => go.run(r.instance));
</script>`

// TestBrowserClient runs the Go/wasm build of Client (internal/wasmprobe) in headless
// Chromium against a native host over loopback: it connects, sends a command, gets the
// event back and sees the result in a snapshot.
func TestBrowserClient(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	dir := t.TempDir()
	build := exec.CommandContext(ctx, filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", filepath.Join(dir, "probe.wasm"), "./internal/wasmprobe")
	build.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("wasm build: %v\n%s", err, out)
	}
	wasmExec, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"wasm_exec.js": wasmExec, "index.html": []byte(probePage)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	web := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer web.Close()

	type ball struct {
		X float32 `snap:"float,min=-100,max=100,prec=0.01"`
	}
	type push struct {
		DX float32 `msgpack:"dx"`
	}
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(1, ball{}); err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ServerConfig{
		Registry:  reg,
		Transport: loopback(),
		Step: func(tk *Tick) {
			for _, id := range tk.Joined {
				_ = tk.World.Set(snapshot.EntityID(id), 1, ball{})
			}
			for _, c := range tk.Commands {
				var p push
				if c.Decode(&p) != nil {
					continue
				}
				_ = tk.World.Set(snapshot.EntityID(c.Client), 1, ball{X: p.DX})
				_ = tk.Send(c.Client, fmt.Sprintf("ball at %.2f", p.DX))
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hostSig, bridge := signaling.Pipe()
	defer hostSig.Close()
	accepted := make(chan error, 1)
	go func() {
		_, err := srv.Accept(ctx, hostSig)
		accepted <- err
	}()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.NoFirstRun)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(bctx, chromedp.Navigate(web.URL+"/index.html")); err != nil {
		t.Fatal(err)
	}

	// Relay signals between the page and the host, each way on its own goroutine.
	var wg sync.WaitGroup
	defer wg.Wait()
	relayCtx, stopRelay := context.WithCancel(bctx)
	defer stopRelay()
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			s, err := bridge.RecvSignal(relayCtx)
			if err != nil {
				return
			}
			b, _ := json.Marshal(s)
			if _, err := chromedp.Run(relayCtx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf("volleyIn(%q)", b))); err != nil {
				return
			}
		}
	}()
	go func() {
		defer wg.Done()
		for {
			raw, err := chromedp.Run(relayCtx, chromedp.Evaluate[string]("volleyNext()", chromedp.EvalAwaitPromise))
			if err != nil {
				return
			}
			var s signaling.Signal
			if json.Unmarshal([]byte(raw), &s) != nil || bridge.SendSignal(relayCtx, s) != nil {
				return
			}
		}
	}()

	result, err := chromedp.Run(bctx, chromedp.Evaluate[string]("volleyDone", chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if want := `ok event="ball at 1.50" x=1.50`; result != want {
		t.Fatalf("browser client reported %q, want %q", result, want)
	}
	if err := <-accepted; err != nil {
		t.Fatalf("Accept: %v", err)
	}
	stopRelay()
}
