//go:build js

package netcode

import (
	"cmp"
	"fmt"
	"sync"
	"syscall/js"
	"time"
)

// wakerJS is the wake-up worker: it posts a message every e.data milliseconds
// (stops on 0). A dedicated worker's timers are not throttled in a hidden tab, and
// each message wakes the Go runtime, which then runs the timers that are due (the
// tick loop's among them).
const wakerJS = `let t = 0;
onmessage = (e) => { clearInterval(t); t = 0; if (e.data > 0) t = setInterval(() => postMessage(0), e.data); };`

// pageHooks ties a host to the browser tab it runs in: it follows the tab's
// visibility (and runs the wake-up worker while it is hidden) and says goodbye to
// every client when the tab goes away. Its JavaScript callbacks run on the event
// goroutine; mu guards the fields below it.
type pageHooks struct {
	srv    *Server
	doc    js.Value
	onVis  js.Func
	onHide js.Func
	onWake js.Func
	onErr  js.Func

	mu          sync.Mutex
	stopped     bool
	hidden      bool
	hiddenSince time.Time
	hiddenTime  time.Duration
	base, acc   [3]uint64 // ticks, late, skipped: when hidden, and summed while hidden
	worker      js.Value  // the wake-up worker, once started
	workerURL   js.Value
	waking      bool
	wakerErr    string
}

// startPage installs the hooks when the host runs in a page (not in a worker or
// Node.js, which have no document).
func startPage(s *Server) *pageHooks {
	doc := js.Global().Get("document")
	if !doc.Truthy() {
		return nil
	}
	p := &pageHooks{srv: s, doc: doc}
	p.onVis = js.FuncOf(func(js.Value, []js.Value) any { p.visibility(); return nil })
	p.onHide = js.FuncOf(func(js.Value, []js.Value) any { p.goodbye(); return nil })
	p.onWake = js.FuncOf(func(js.Value, []js.Value) any { return nil }) // waking is the point
	p.onErr = js.FuncOf(func(_ js.Value, args []js.Value) any {
		p.mu.Lock()
		p.wakerErr = "the wake-up worker failed"
		if len(args) > 0 && args[0].Get("message").Truthy() {
			p.wakerErr += ": " + args[0].Get("message").String()
		}
		p.waking = false
		p.mu.Unlock()
		return nil
	})
	doc.Call("addEventListener", "visibilitychange", p.onVis)
	js.Global().Call("addEventListener", "pagehide", p.onHide)
	p.visibility()
	return p
}

// stop removes the hooks and ends the worker.
func (p *pageHooks) stop() {
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	w, u := p.worker, p.workerURL
	p.worker, p.waking = js.Undefined(), false
	p.mu.Unlock()
	p.doc.Call("removeEventListener", "visibilitychange", p.onVis)
	js.Global().Call("removeEventListener", "pagehide", p.onHide)
	if w.Truthy() {
		w.Call("terminate")
		js.Global().Get("URL").Call("revokeObjectURL", u)
	}
	p.onVis.Release()
	p.onHide.Release()
	p.onWake.Release()
	p.onErr.Release()
}

func (p *pageHooks) loopCounts() [3]uint64 {
	s := p.srv
	return [3]uint64{s.ticks.Load(), s.late.Load(), s.skipped.Load()}
}

// visibility follows the tab's visibilityState.
func (p *pageHooks) visibility() {
	hidden := p.doc.Get("visibilityState").String() == "hidden"
	now := p.srv.clk.Now()
	counts := p.loopCounts()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped || hidden == p.hidden {
		return
	}
	p.hidden = hidden
	if hidden {
		p.hiddenSince, p.base = now, counts
	} else {
		p.hiddenTime += now.Sub(p.hiddenSince)
		for i := range counts {
			p.acc[i] += counts[i] - p.base[i]
		}
	}
	p.wakeLocked(hidden)
}

// wakeLocked starts (creating it the first time) or stops the wake-up worker.
func (p *pageHooks) wakeLocked(on bool) {
	if p.srv.cfg.Page.NoWaker {
		return
	}
	if on && !p.worker.Truthy() && p.wakerErr == "" {
		if err := p.newWorkerLocked(); err != nil {
			p.wakerErr = err.Error()
			return
		}
	}
	if !p.worker.Truthy() {
		return
	}
	ms := 0
	if on {
		// Twice per tick, so that a tick starts at most half a tick late.
		ms = max(1, 1000/(2*p.srv.cfg.TickRate))
	}
	p.worker.Call("postMessage", ms)
	p.waking = on && p.wakerErr == ""
}

func (p *pageHooks) newWorkerLocked() (err error) {
	defer func() {
		// A Content-Security-Policy without blob: workers makes the constructor
		// throw, which syscall/js raises as a panic.
		if r := recover(); r != nil {
			err = fmt.Errorf("netcode: cannot start the wake-up worker: %v", r)
		}
	}()
	g := js.Global()
	blob := g.Get("Blob").New([]any{wakerJS}, map[string]any{"type": "text/javascript"})
	url := g.Get("URL").Call("createObjectURL", blob)
	w := g.Get("Worker").New(url)
	w.Set("onmessage", p.onWake)
	w.Set("onerror", p.onErr)
	p.worker, p.workerURL = w, url
	return nil
}

// goodbye runs when the tab goes away: it tells every client why at once (the page
// may not run another task), then closes the host if the page lives on.
func (p *pageHooks) goodbye() {
	s := p.srv
	reason := cmp.Or(s.cfg.Page.Goodbye, "the host closed its browser tab")
	msg, err := marshalMessage(kindBye, bye{Reason: reason, Code: codeOf(ErrClosed)})
	if err != nil {
		return
	}
	s.mu.Lock()
	list := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		list = append(list, sess)
	}
	s.mu.Unlock()
	for _, sess := range list {
		_ = sess.sendReliable(msg)
	}
	go s.Close()
}

func (p *pageHooks) stats() PageStats {
	if p == nil {
		return PageStats{}
	}
	counts := p.loopCounts()
	now := p.srv.clk.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	st := PageStats{
		InBrowser:     true,
		Hidden:        p.hidden,
		HiddenTime:    p.hiddenTime,
		HiddenTicks:   p.acc[0],
		HiddenLate:    p.acc[1],
		HiddenSkipped: p.acc[2],
		Waker:         p.waking,
		WakerErr:      p.wakerErr,
	}
	if p.hidden {
		st.HiddenTime += now.Sub(p.hiddenSince)
		st.HiddenTicks += counts[0] - p.base[0]
		st.HiddenLate += counts[1] - p.base[1]
		st.HiddenSkipped += counts[2] - p.base[2]
	}
	return st
}
