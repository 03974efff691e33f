//go:build !js

package netcode

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/volleynet/volley/internal/leakcheck"
	"github.com/volleynet/volley/signaling"
	"github.com/volleynet/volley/snapshot"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

// Player is the test entity.
type Player struct {
	X     float32 `snap:"float,min=-1000,max=1000,prec=0.01"`
	Y     float32 `snap:"float,min=-1000,max=1000,prec=0.01"`
	Angle float32 `snap:"angle,bits=12"`
	HP    int     `snap:"int,min=0,max=100"`
	Spawn int     `snap:"int,min=0,max=255,teleport"`
}

const playerType snapshot.TypeID = 1

func testRegistry(t testing.TB) *snapshot.Registry {
	t.Helper()
	reg := snapshot.NewRegistry()
	if _, err := reg.Register(playerType, Player{}); err != nil {
		t.Fatal(err)
	}
	return reg
}

func init() {
	// A loaded CI machine can stall a test process for seconds: tests that do not
	// exercise the liveness timeout must not be cut by it.
	defaultTimeout = 30 * time.Second
	defaultHandshakeTimeout = 30 * time.Second
	// An ICE restart that a stall started (the host went quiet) must not fail
	// because a second stall outlasted one attempt (CI run 52:
	// TestLoopbackSixteenClients, "4 ICE restarts failed" at load 11).
	defaultRestartTimeout = 30 * time.Second
}

func loopback() TransportConfig {
	return TransportConfig{ICE: ICEConfig{LoopbackOnly: true}}
}

// connect dials srv through an in-process signaling pipe.
func connect(ctx context.Context, t testing.TB, srv *Server, cfg ClientConfig) (*Client, ClientID) {
	t.Helper()
	c, id, err := tryConnect(ctx, srv, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, id
}

func tryConnect(ctx context.Context, srv *Server, cfg ClientConfig) (*Client, ClientID, error) {
	hostSig, clientSig := signaling.Pipe()
	type res struct {
		id  ClientID
		err error
	}
	accepted := make(chan res, 1)
	go func() {
		id, err := srv.Accept(ctx, hostSig)
		accepted <- res{id, err}
	}()
	c, err := Dial(ctx, cfg, clientSig)
	r := <-accepted
	if err != nil || r.err != nil {
		if c != nil {
			c.Close()
		}
		hostSig.Close()
		if err == nil {
			err = r.err
		}
		return nil, 0, err
	}
	if c.ID() != r.id {
		c.Close()
		return nil, 0, errMismatch
	}
	return c, r.id, nil
}

var errMismatch = ErrProtocol

// recorder collects what Step saw, for assertions from the test goroutine.
type recorder struct {
	mu       sync.Mutex
	joined   []ClientID
	left     []Departure
	commands map[ClientID][]int
	inputs   map[ClientID][]uint32
	changed  chan struct{}
}

func newRecorder() *recorder {
	return &recorder{commands: map[ClientID][]int{}, inputs: map[ClientID][]uint32{}, changed: make(chan struct{}, 1)}
}

func (r *recorder) poke() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// waitFor waits, without sleeping, until cond (called with r.mu held) holds.
func (r *recorder) waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitClient waits until cond holds for the client's newest world.
func waitWorld(t testing.TB, c *Client, d time.Duration, what string, cond func(w *snapshot.World) bool) {
	t.Helper()
	w := snapshot.NewWorld(c.cfg.Registry)
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		if _, ok := c.Latest(w); ok && cond(w) {
			return
		}
		select {
		case <-c.Updates():
		case <-c.Done():
			t.Fatalf("client closed waiting for %s: %v", what, c.Err())
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// allocsPerRun is testing.AllocsPerRun, the least of three measurements: it counts
// every allocation in the process, and the goroutines that earlier tests in this
// package leave winding down (pion's, closing) allocate too; an allocation of f's
// own shows in every measurement.
func allocsPerRun(runs int, f func()) float64 {
	least := testing.AllocsPerRun(runs, f)
	for i := 0; i < 2 && least > 0; i++ {
		least = min(least, testing.AllocsPerRun(runs, f))
	}
	return least
}
