//go:build !js

package netcode

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/volleynet/volley/internal/browsertest"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

const hostPage = `<!doctype html>
<meta charset="utf-8">
<script src="wasm_exec.js"></script>
<script>
window.volleyOutQ = []; window.volleyWaiters = [];
window.volleyPush = (s) => { const w = volleyWaiters.shift(); if (w) w(s); else volleyOutQ.push(s); };
window.volleyNext = () => new Promise(r => { if (volleyOutQ.length) r(volleyOutQ.shift()); else volleyWaiters.push(r); });
window.volleyStarted = new Promise(r => { window.volleyReady = r; });
const go = new Go();
WebAssembly.instantiateStreaming(fetch("host.wasm"), go.importObject).then(r => go.run(r.instance));
</script>`

// hostView is what the page's window.hostState() reports (internal/wasmhost).
type hostView struct {
	Error    string             `json:"error"`
	Local    uint32             `json:"local"`
	LocalX   float32            `json:"localX"`
	Clients  []uint32           `json:"clients"`
	X        map[string]float32 `json:"x"`
	Accepted map[string]string  `json:"accepted"`
	Loop     LoopStats          `json:"loop"`
	Page     PageStats          `json:"page"`
	Events   []string           `json:"events"`
}

// browserHost is a netcode.Server running in a headless Chromium tab
// (internal/wasmhost), and the relay that carries native peers' signals to it.
type browserHost struct {
	t    *testing.T
	ctx  context.Context // the tab
	mu   sync.Mutex
	pipe map[string]*signaling.PipeEnd
	wg   sync.WaitGroup
	stop context.CancelFunc
	n    int
}

// startBrowserHost opens the host page (query: e.g. "?nowaker=1") and relays signals.
func startBrowserHost(t *testing.T, ctx context.Context, query string) *browserHost {
	t.Helper()
	chrome := browsertest.Chromium(t)
	web := browsertest.Serve(t, ctx, "./internal/wasmhost", "host.wasm", hostPage)
	bctx := browsertest.NewBrowser(t, ctx, chrome)
	if err := chromedp.Do(bctx, chromedp.Navigate(web.URL+"/index.html"+query)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[chromedp.Void]("volleyStarted", chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("the host page did not start: %v", err)
	}
	h := &browserHost{t: t, ctx: bctx, pipe: map[string]*signaling.PipeEnd{}}
	if v := h.state(); v.Error != "" {
		t.Fatalf("the host page failed: %s", v.Error)
	}
	relayCtx, stop := context.WithCancel(bctx)
	h.stop = stop
	h.wg.Add(1)
	go func() { // page → peers
		defer h.wg.Done()
		for {
			raw, err := chromedp.Run(relayCtx, chromedp.Evaluate[string]("volleyNext()", chromedp.EvalAwaitPromise))
			if err != nil {
				return
			}
			var m struct {
				Peer   string           `json:"peer"`
				Signal signaling.Signal `json:"signal"`
			}
			if json.Unmarshal([]byte(raw), &m) != nil {
				continue
			}
			h.mu.Lock()
			p := h.pipe[m.Peer]
			h.mu.Unlock()
			if p != nil {
				_ = p.SendSignal(relayCtx, m.Signal)
			}
		}
	}()
	t.Cleanup(h.close)
	return h
}

// close stops the relay and waits for its goroutines.
func (h *browserHost) close() {
	h.stop()
	h.mu.Lock()
	for _, p := range h.pipe {
		p.Close()
	}
	h.mu.Unlock()
	h.wg.Wait()
}

// signaler returns a new peer's signaling path to the page's host.
func (h *browserHost) signaler() signaling.Signaler {
	h.mu.Lock()
	h.n++
	peer := fmt.Sprintf("peer%d", h.n)
	bridge, sig := signaling.Pipe()
	h.pipe[peer] = bridge
	h.mu.Unlock()
	h.wg.Add(1)
	go func() { // peer → page
		defer h.wg.Done()
		for {
			s, err := bridge.RecvSignal(h.ctx)
			if err != nil {
				return
			}
			b, _ := json.Marshal(s)
			expr := fmt.Sprintf("hostIn(%q, %q)", peer, b)
			if _, err := chromedp.Run(h.ctx, chromedp.Evaluate[chromedp.Void](expr)); err != nil {
				return
			}
		}
	}()
	return sig
}

func (h *browserHost) state() hostView {
	h.t.Helper()
	raw, err := chromedp.Run(h.ctx, chromedp.Evaluate[string]("hostState()"))
	if err != nil {
		h.t.Fatalf("hostState: %v", err)
	}
	var v hostView
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		h.t.Fatalf("hostState %s: %v", raw, err)
	}
	return v
}

// waitState polls the page (no event reaches the test from it) until cond holds. It
// polls on a timer, not on animation frames, which a hidden tab does not run.
func (h *browserHost) waitState(what string, d time.Duration, cond string) hostView {
	h.t.Helper()
	expr := fmt.Sprintf("(() => { const s = JSON.parse(hostState()); return !!(%s); })()", cond)
	if _, err := chromedp.Run(h.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(d))); err != nil {
		h.t.Fatalf("waiting for %s (%s): %v; host state: %+v", what, cond, err, h.state())
	}
	return h.state()
}

// setMinimized minimizes or restores the tab's window: a minimized window's page is
// hidden (document.visibilityState), and Chromium throttles its timers.
func (h *browserHost) setMinimized(min bool) {
	h.t.Helper()
	c := chromedp.FromContext(h.ctx)
	win, err := chromedp.CallBrowser(h.ctx, browser.GetWindowForTarget, browser.GetWindowForTargetParams{TargetID: c.Target.TargetID})
	if err != nil {
		h.t.Fatalf("window of the host tab: %v", err)
	}
	state := browser.WindowStateNormal
	if min {
		state = browser.WindowStateMinimized
	}
	if _, err := chromedp.CallBrowser(h.ctx, browser.SetWindowBounds, browser.SetWindowBoundsParams{WindowID: win.WindowID, Bounds: &browser.Bounds{WindowState: state}}); err != nil {
		h.t.Fatalf("set the host window %s: %v", state, err)
	}
}

// TestBrowserHost runs a Server in headless Chromium (GOOS=js, the browser's own
// RTCPeerConnection) with the tab's own player on a local client, and two native
// clients over loopback WebRTC: commands come back as events, inputs move entities
// for everyone, the hidden tab's loop keeps running (the wake-up worker) and is
// reported, and closing the tab tells every client why at once.
func TestBrowserHost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	h := startBrowserHost(t, ctx, "")

	type ball struct {
		X float32 `snap:"float,min=-10000,max=10000,prec=0.01"`
	}
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(1, ball{}); err != nil {
		t.Fatal(err)
	}
	var clients []*Client
	for range 2 {
		c, err := Dial(ctx, ClientConfig{Registry: reg, Transport: loopback()}, h.signaler())
		if err != nil {
			t.Fatalf("dial the browser host: %v; host state: %+v", err, h.state())
		}
		defer c.Close()
		clients = append(clients, c)
	}
	a, b := clients[0], clients[1]
	t.Log("two native clients connected")
	v := h.waitState("the local and both native clients", 60*time.Second, "s.clients.length === 3 && s.events.length > 0")
	if v.Local == 0 || v.Local == uint32(a.ID()) || v.Local == uint32(b.ID()) {
		t.Errorf("IDs: local %d, native %d and %d; want three distinct", v.Local, a.ID(), b.ID())
	}
	if len(v.Events) == 0 || v.Events[0] != "echo 42" {
		t.Errorf("the local client's events: %q, want [\"echo 42\"]", v.Events)
	}
	if !v.Page.InBrowser || v.Page.Hidden {
		t.Errorf("page stats %+v: want InBrowser, not Hidden", v.Page)
	}

	// A command comes back as an event.
	if err := a.Send(5); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-a.Events():
		var s string
		if err := ev.Decode(&s); err != nil || s != "echo 5" {
			t.Errorf("event %q (%v), want \"echo 5\"", s, err)
		}
	case <-a.Done():
		t.Fatalf("client ended waiting for its event: %v", a.Err())
	case <-ctx.Done():
		t.Fatal("no event for the command")
	}

	// Native inputs move a's entity on the host, and b sees it.
	key := fmt.Sprint(a.ID())
	moved := func(w *snapshot.World, id ClientID, min float32) bool {
		var bl ball
		ok, _ := w.Get(snapshot.EntityID(id), &bl)
		return ok && bl.X >= min
	}
	for {
		if st := h.state(); st.X[key] >= 10 {
			break
		}
		if _, err := a.SendInput([]byte{1}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-a.Updates():
		case <-a.Done():
			t.Fatalf("client ended sending inputs: %v", a.Err())
		case <-ctx.Done():
			t.Fatalf("inputs did not move the entity on the browser host: %+v", h.state())
		}
	}
	waitWorld(t, b, 30*time.Second, "a's move in b's snapshots", func(w *snapshot.World) bool { return moved(w, a.ID(), 10) })

	// The tab's own player moves, and the native clients see it.
	local := ClientID(v.Local)
	for i := 0; ; i++ {
		st := h.state()
		if st.X[fmt.Sprint(local)] >= 9 {
			break
		}
		if i > 2000 {
			t.Fatalf("the local player's inputs did not move it: %+v", st)
		}
		if _, err := chromedp.Run(h.ctx, chromedp.Evaluate[chromedp.Void]("localInput(3)")); err != nil {
			t.Fatal(err)
		}
		select { // pace the inputs by the host's snapshots
		case <-a.Updates():
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	waitWorld(t, a, 30*time.Second, "the tab's player's move in a's snapshots", func(w *snapshot.World) bool { return moved(w, local, 9) })
	h.waitState("the local client's own view of its move", 30*time.Second, "s.localX >= 9")

	t.Log("inputs and commands went both ways")
	// Hidden: the loop keeps running on the wake-up worker, and the page says so.
	h.setMinimized(true)
	h.waitState("the hidden tab with its wake-up worker", 30*time.Second, "s.page.Hidden && s.page.Waker")
	h.waitState("ticks run while hidden", 60*time.Second, "s.page.HiddenTicks >= 120")
	waitWorld(t, a, 30*time.Second, "snapshots from the hidden host", func(*snapshot.World) bool { return true })
	h.setMinimized(false)
	v = h.waitState("the visible tab again", 30*time.Second, "!s.page.Hidden && !s.page.Waker")
	if v.Page.HiddenTime <= 0 || v.Page.HiddenTicks < 120 || v.Page.WakerErr != "" {
		t.Errorf("page stats after being hidden: %+v", v.Page)
	}
	t.Logf("hidden for %v: %d ticks, %d late, %d skipped", v.Page.HiddenTime, v.Page.HiddenTicks, v.Page.HiddenLate, v.Page.HiddenSkipped)

	t.Log("closing the host tab")
	// Closing the tab (pagehide) tells both clients why.
	h.stop()
	if _, err := chromedp.Call(h.ctx, page.Close, cdp.Empty{}); err != nil {
		t.Fatalf("close the host tab: %v", err)
	}
	for _, c := range clients {
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatal("a client is still connected after the host tab closed")
		}
		if err := c.Err(); !errors.Is(err, ErrServerClosed) || !strings.Contains(err.Error(), "the host closed its browser tab") {
			t.Errorf("client %d after the host tab closed: %v, want ErrServerClosed with the host's reason", c.ID(), err)
		}
	}
}

var hiddenTab = flag.Duration("hiddentab", 0, "measure a browser host's tick loop in a hidden tab for this long per condition (TestBrowserHostHiddenMeasure; figures in the README)")

// TestBrowserHostHiddenMeasure measures what a hidden tab does to a browser host's
// tick loop, with and without the wake-up worker, with a native client that sends
// inputs at 60 Hz and with one that only acknowledges. It asserts nothing and logs
// the figures; it runs only with -hiddentab, e.g.
//
//	go test -run TestBrowserHostHiddenMeasure -v ./netcode -args -hiddentab=20s
func TestBrowserHostHiddenMeasure(t *testing.T) {
	if *hiddenTab <= 0 {
		t.Skip("a measurement: run with -args -hiddentab=20s")
	}
	type ball struct {
		X float32 `snap:"float,min=-10000,max=10000,prec=0.01"`
	}
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(1, ball{}); err != nil {
		t.Fatal(err)
	}
	for _, waker := range []bool{true, false} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		query := ""
		if !waker {
			query = "?nowaker=1"
		}
		h := startBrowserHost(t, ctx, query)
		c, err := Dial(ctx, ClientConfig{Registry: reg, Transport: loopback()}, h.signaler())
		if err != nil {
			t.Fatal(err)
		}
		measure := func(name string, inputs bool) {
			if c == nil { // no remote client: the loop alone
				before := h.state()
				start := time.Now()
				<-time.After(*hiddenTab)
				after := h.state()
				sec := time.Since(start).Seconds()
				t.Logf("waker %-5v %-28s ticks/s %5.1f  late/s %5.1f  skipped/s %5.1f", waker, name,
					float64(after.Loop.Ticks-before.Loop.Ticks)/sec,
					float64(after.Loop.Late-before.Loop.Late)/sec,
					float64(after.Loop.Skipped-before.Loop.Skipped)/sec)
				return
			}
			before, cst := h.state(), c.Stats()
			var gap, last time.Duration
			start := time.Now()
			end := time.After(*hiddenTab)
			tick := time.NewTicker(time.Second / 60)
		loop:
			for {
				select {
				case <-c.Updates():
					el := time.Since(start)
					gap, last = max(gap, el-last), el
				case <-tick.C:
					if inputs {
						_, _ = c.SendInput([]byte{1})
					}
				case <-end:
					break loop
				case <-c.Done():
					t.Fatalf("client ended: %v", c.Err())
				}
			}
			tick.Stop()
			after, cst2 := h.state(), c.Stats()
			sec := time.Since(start).Seconds()
			t.Logf("waker %-5v %-28s ticks/s %5.1f  late/s %5.1f  skipped/s %5.1f  client: snapshots/s %5.1f, longest gap %v",
				waker, name,
				float64(after.Loop.Ticks-before.Loop.Ticks)/sec,
				float64(after.Loop.Late-before.Loop.Late)/sec,
				float64(after.Loop.Skipped-before.Loop.Skipped)/sec,
				float64(cst2.Snapshots-cst.Snapshots)/sec, gap.Round(time.Millisecond))
		}
		measure("visible, inputs at 60 Hz", true)
		h.setMinimized(true)
		h.waitState("the hidden tab", 30*time.Second, "s.page.Hidden")
		measure("hidden, inputs at 60 Hz", true)
		measure("hidden, acks only", false)
		c.Close()
		c = nil
		measure("hidden, no remote client", false)
		h.setMinimized(false)
		h.close()
		cancel()
	}
}
