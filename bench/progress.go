package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"time"
)

// progress prints what a long run is doing to stderr, so that stdout keeps only
// the table or the JSON.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
	last  time.Time
}

func newProgress(quiet bool) *progress {
	var w io.Writer = os.Stderr
	if quiet {
		w = io.Discard
	}
	return &progress{w: w, start: time.Now()}
}

// Printf prints one progress line with the elapsed time.
func (p *progress) Printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.last = time.Now()
	fmt.Fprintf(p.w, "[%5.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// Tick prints a progress line at most every two seconds.
func (p *progress) Tick(format string, args ...any) {
	p.mu.Lock()
	due := time.Since(p.last) >= 2*time.Second
	p.mu.Unlock()
	if due {
		p.Printf(format, args...)
	}
}

func numCPU() int { return runtime.NumCPU() }
