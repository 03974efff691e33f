//go:build !js

package netcode

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/volleynet/volley/internal/browsertest"
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
// event back and sees the result in a snapshot. Then it asks the host to cut its path
// without a word (the host's sockets drop everything): the browser client's quiet
// watch restarts ICE, the host answers and restores its network, and snapshots flow
// again.
func TestBrowserClient(t *testing.T) {
	chrome := browsertest.Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	web := browsertest.Serve(t, ctx, "./internal/wasmprobe", "probe.wasm", probePage)

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
	cut := newCutNet(t)
	tr := loopback()
	tr.osNet = cut
	var srv *Server
	srv, err := NewServer(ServerConfig{
		Registry:  reg,
		Transport: tr,
		Step: func(tk *Tick) {
			for _, id := range tk.Joined {
				_ = tk.World.Set(snapshot.EntityID(id), 1, ball{})
			}
			for _, c := range tk.Commands {
				var p push
				if c.Decode(&p) != nil {
					continue
				}
				if p.DX < 0 { // the probe asks to be cut off
					cut.cut.Store(true)
					continue
				}
				_ = tk.World.Set(snapshot.EntityID(c.Client), 1, ball{X: p.DX})
				_ = tk.Send(c.Client, fmt.Sprintf("ball at %.2f", p.DX))
			}
		},
		OnTick: func(uint32, time.Duration) {
			// The network comes back once the client's restart has been answered.
			if cut.cut.Load() && srv.LifecycleStats().RestartsAnswered > 0 {
				cut.cut.Store(false)
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

	bctx := browsertest.NewBrowser(t, ctx, chrome)
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
	if want := `ok event="ball at 1.50" x=1.50 quiet restarts=1`; result != want {
		t.Fatalf("browser client reported %q, want %q", result, want)
	}
	if err := <-accepted; err != nil {
		t.Fatalf("Accept: %v", err)
	}
	stopRelay()
}
