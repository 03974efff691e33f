package server

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/volleynet/volley/lobby"
)

// DrainMessage is the text of the "draining" message.
const DrainMessage = "this lobby instance is shutting down: connect again to move to another one"

// drainState is the Server's drain: which connections have been welcomed (so each
// gets the "draining" notice once, after its welcome) and when the last has gone.
type drainState struct {
	mu       sync.Mutex
	on       bool               // Drain has started
	welcomed map[*conn]struct{} // connections past their welcome, not yet gone
	empty    chan struct{}      // closed once on && welcomed is empty
	emptied  bool               // empty is closed
	flag     atomic.Bool        // on, for the lock-free checks of ServeHTTP and /healthz
}

// Drain takes this instance out of service gracefully, for a deploy or a scale-down:
// it refuses new connections (HTTP 503, counted as "draining") and answers /healthz
// with 503 so that the load balancer stops sending any, tells every connection to
// move (a "draining" message; see lobby.TypeDraining), and keeps serving the
// connections it has, relaying their signals so that handshakes in progress
// complete, until they have all left or ctx ends. Then it closes the Server (Close:
// the rest get 1001 "shutdown"). With a shared store, rooms hosted through other
// instances are untouched, and hosts that move re-open their rooms there.
//
// It returns ctx's error when the deadline cut the drain short, else nil.
func (s *Server) Drain(ctx context.Context) error {
	d := &s.drain
	d.mu.Lock()
	if !d.on {
		d.on = true
		d.flag.Store(true)
		n := len(d.welcomed)
		for c := range d.welcomed {
			c.enqueue(drainNotice)
		}
		d.checkEmptyLocked()
		s.feed.endStreams() // their EventSource reconnects, through the load balancer, elsewhere
		s.log.Info("lobby: draining", "connections", n)
	}
	empty := d.empty
	d.mu.Unlock()
	var err error
	select {
	case <-empty:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.Close()
	return err
}

// Draining reports whether Drain has started.
func (s *Server) Draining() bool { return s.drain.flag.Load() }

var drainNotice = lobby.Message{Type: lobby.TypeDraining, Message: DrainMessage}

// drainWelcomed records a connection whose welcome is queued; one that arrives during
// a drain is told at once.
func (s *Server) drainWelcomed(c *conn) {
	d := &s.drain
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.welcomed == nil {
		d.welcomed = map[*conn]struct{}{}
		d.empty = make(chan struct{})
	}
	d.welcomed[c] = struct{}{}
	if d.on {
		c.enqueue(drainNotice)
	}
}

// drainGone forgets a connection that has ended.
func (s *Server) drainGone(c *conn) {
	d := &s.drain
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.welcomed, c)
	d.checkEmptyLocked()
}

func (d *drainState) checkEmptyLocked() {
	if d.empty == nil {
		d.empty = make(chan struct{})
	}
	if d.on && len(d.welcomed) == 0 && !d.emptied {
		d.emptied = true
		close(d.empty)
	}
}

// refuseDraining answers a request that arrives during a drain; it reports whether it
// did.
func (s *Server) refuseDraining(w http.ResponseWriter) bool {
	if !s.Draining() {
		return false
	}
	s.reject(w, lobby.ReasonDraining, "lobby: this instance is draining; connect again", http.StatusServiceUnavailable)
	return true
}
