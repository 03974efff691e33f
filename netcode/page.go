package netcode

import "time"

// PageConfig configures a host running in a browser tab (GOOS=js GOARCH=wasm). It
// is ignored natively.
type PageConfig struct {
	// NoWaker turns off the wake-up worker. While the tab is hidden, browsers run
	// its timers at most once a second (Chromium: aligned to whole seconds), so the
	// tick loop would run a burst of MaxCatchUp ticks a second and skip the rest. A
	// dedicated Web Worker's timers are not throttled, and the host starts one
	// (from a blob: URL) that wakes the tab at the tick rate while it is hidden.
	// Turn it off for a page whose Content-Security-Policy forbids blob: workers,
	// or to measure the difference. Default false (the worker runs).
	NoWaker bool
	// Goodbye is the reason every client is told, in a bye on its reliable
	// channel, when the tab is closed or navigates away (the "pagehide" event):
	// clients then end with ErrServerClosed and this reason at once, instead of
	// timing out. Default "the host closed its browser tab".
	Goodbye string
}

// PageStats reports how the browser treated a host running in a tab: whether the tab
// is hidden, for how long it has been, and what the tick loop did meanwhile. Natively
// it is the zero value.
type PageStats struct {
	// InBrowser is true for a host running in a browser tab.
	InBrowser bool
	// Hidden is true while the tab is hidden (another tab in front, the window
	// minimized): the browser throttles its timers then.
	Hidden bool
	// HiddenTime is the total time the tab has been hidden since the host started.
	HiddenTime time.Duration
	// HiddenTicks, HiddenLate and HiddenSkipped are the ticks run, run late
	// (catch-up) and skipped (past MaxCatchUp) while the tab was hidden; LoopStats
	// has the totals.
	HiddenTicks, HiddenLate, HiddenSkipped uint64
	// Waker is true while the wake-up worker runs (the tab is hidden and
	// PageConfig.NoWaker is off); WakerErr says why it could not start.
	Waker    bool
	WakerErr string
}

// Page returns how the browser treats a host running in a tab (see PageStats).
func (s *Server) Page() PageStats { return s.page.stats() }
