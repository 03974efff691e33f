package netcode

import (
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// restartPoll is how often a running restart attempt checks whether the host is heard
// again (the ICE state alone can report a stale "connected").
const restartPoll = 100 * time.Millisecond

// clientLife is the client's side of the connection lifecycle: it watches the ICE
// state and renegotiates with an ICE restart, through the signaling path, when ICE
// stays disconnected or fails, when the host goes quiet (RestartConfig.Quiet), or when
// the application asks (Client.RestartICE). The data channels and their SCTP
// association live on across a restart, so nothing is replayed: what was queued is
// delivered once the new path works.
//
// Ownership: pion's ICE callback and RestartICE write the fields under mu and wake
// run, the lifecycle goroutine, which alone starts and judges attempts and owns the
// quiet watch (quiet*). negMu serializes the offer/answer steps of run and of
// readSignals.
type clientLife struct {
	c    *Client
	cfg  RestartConfig
	wake chan struct{}

	negMu sync.Mutex

	mu        sync.Mutex
	ice       webrtc.ICEConnectionState
	iceSince  time.Time // when ice last changed
	requested bool      // RestartICE was called, or the host went silent
	cause     error     // why this episode started, wrapped by the end of a failed one
	attempts  int       // attempts of the current episode (0: none)
	running   bool      // an attempt is under way
	startedAt time.Time // when the running attempt started
	nextAt    time.Time // the next attempt starts no sooner
	closed    bool

	// The quiet watch, run's own: the arrival count seen at its last look, and
	// how many of its looks in a row, one send interval apart, saw none arrive.
	quietSeen  uint64
	quietLooks int
}

func newClientLife(c *Client) *clientLife {
	return &clientLife{
		c:        c,
		cfg:      c.cfg.Restart.withDefaults(),
		wake:     make(chan struct{}, 1),
		ice:      webrtc.ICEConnectionStateNew,
		iceSince: c.clk.Now(),
	}
}

func (l *clientLife) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// onICEState is pion's ICE connection state callback.
func (l *clientLife) onICEState(st webrtc.ICEConnectionState) {
	l.mu.Lock()
	l.ice, l.iceSince = st, l.c.clk.Now()
	l.mu.Unlock()
	l.poke()
}

// request asks for a restart now (Client.RestartICE).
func (l *clientLife) request() {
	l.mu.Lock()
	l.requested = true
	l.mu.Unlock()
	l.poke()
}

// silent is the client's timeout: nothing heard from the host for Timeout. With
// restarts on it asks for one (ICE may take longer than Timeout to notice a dead path,
// on a loaded machine); if that episode fails the client ends with cause. It reports
// whether it took the timeout over.
func (l *clientLife) silent(cause error) bool {
	if !l.cfg.enabled() {
		return false
	}
	l.mu.Lock()
	if l.attempts == 0 && !l.running {
		l.requested = true
		l.cause = cause
	}
	l.mu.Unlock()
	l.poke()
	return true
}

// busy reports whether ICE is down and a restart is under way or coming, so that the
// client's silence timeout waits for it.
func (l *clientLife) busy() bool {
	if !l.cfg.enabled() {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running {
		return true
	}
	if l.c.sigw.closed() {
		return false // no restart can come (see step)
	}
	return l.attempts > 0 || !iceUp(l.ice) && l.ice != webrtc.ICEConnectionStateNew
}

// state is the client's LinkState, short of closed.
func (l *clientLife) state() LinkState {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.attempts > 0 || l.ice == webrtc.ICEConnectionStateDisconnected || l.ice == webrtc.ICEConnectionStateFailed {
		return LinkRestarting
	}
	return LinkConnected
}

func iceUp(s webrtc.ICEConnectionState) bool {
	return s == webrtc.ICEConnectionStateConnected || s == webrtc.ICEConnectionStateCompleted
}

// run is the lifecycle goroutine.
func (l *clientLife) run() {
	defer l.c.wg.Done()
	t := l.c.clk.NewTimer(time.Hour)
	defer t.Stop()
	for {
		wait := l.step(l.c.clk.Now())
		t.Stop()
		select {
		case <-t.C():
		default:
		}
		if wait > 0 {
			t.Reset(wait)
		}
		select {
		case <-l.c.ending:
			return
		case <-l.wake:
		case <-t.C():
		}
	}
}

// step judges the running attempt, starts the next one when it is due, and returns how
// long to wait before looking again (0: until woken).
func (l *clientLife) step(now time.Time) time.Duration {
	c := l.c
	l.mu.Lock()
	var wait time.Duration
	if l.running {
		heard := c.lastHeard.Load() > l.startedAt.UnixNano()
		switch {
		case iceUp(l.ice) && heard:
			l.running, l.attempts, l.cause = false, 0, nil
			c.log.Info("ICE restart succeeded", "client", c.id, "took", now.Sub(l.startedAt))
		case now.Sub(l.startedAt) >= l.cfg.Timeout:
			l.running = false
			c.stats.restartsFailed.Add(1)
			c.log.Info("ICE restart attempt failed", "client", c.id, "attempt", l.attempts)
			if l.attempts >= l.cfg.Attempts {
				n, cause := l.attempts, l.cause
				l.closed = true
				l.mu.Unlock()
				if cause == nil {
					cause = ErrConnectionLost
				}
				c.end(fmt.Errorf("%w: %d ICE restarts failed", cause, n))
				return 0
			}
			l.nextAt = now.Add(l.cfg.backoff(l.attempts + 1))
		default:
			wait = min(restartPoll, l.startedAt.Add(l.cfg.Timeout).Sub(now))
		}
	}
	start := false
	// A restart needs the signaling path: once it has closed (the player left the
	// lobby), an offer would reach nobody, and applying it would tear down an ICE
	// session that may still recover by itself. The liveness timeout judges then.
	if !l.running && !l.closed && l.cfg.enabled() && !c.sigw.closed() {
		if l.attempts == 0 && !l.requested && iceUp(l.ice) {
			quiet, d := l.quietLook(now)
			if quiet {
				l.requested = true
				c.stats.quietRestarts.Add(1)
				c.log.Info("host quiet: restarting ICE", "client", c.id, "intervals", l.cfg.Quiet)
			}
			wait = d
		} else {
			l.quietLooks = 0
		}
		want := l.requested || l.attempts > 0 && !iceUp(l.ice) ||
			l.ice == webrtc.ICEConnectionStateFailed
		if l.ice == webrtc.ICEConnectionStateDisconnected {
			if d := l.iceSince.Add(l.cfg.After).Sub(now); d > 0 {
				wait = d
			} else {
				want = true
			}
		}
		if want {
			if d := l.nextAt.Sub(now); d > 0 {
				wait = d
			} else {
				start = true
				l.requested = false
				l.running = true
				l.attempts++
				l.startedAt = now
				wait = restartPoll
			}
		}
	}
	attempt := l.attempts
	l.mu.Unlock()
	if start {
		c.stats.restarts.Add(1)
		c.log.Info("ICE restart", "client", c.id, "attempt", attempt)
		if err := l.offer(); err != nil {
			// The attempt fails at its timeout like one that got no answer.
			c.log.Warn("ICE restart offer failed", "client", c.id, "err", err)
		}
	}
	return wait
}

// quietConfirm is how many looks in a row, one send interval apart, must see nothing
// arrive before the quiet watch calls the host quiet (at most RestartConfig.Quiet):
// the silence is measured on the clock until then, but a client that was itself
// stalled would find it long without the host having missed a beat.
const quietConfirm = 3

// quietLook is the quiet watch (RestartConfig.Quiet), run while ICE is up and no
// restart is under way: it reports whether nothing has arrived from the host for
// Quiet send intervals, and when to look again (0: not watching). It sleeps until
// the silence could be Quiet-quietConfirm intervals long, then looks once per
// interval. Called with l.mu held.
func (l *clientLife) quietLook(now time.Time) (quiet bool, wait time.Duration) {
	c := l.c
	if l.cfg.Quiet <= 0 || c.sendRate <= 0 {
		return false, 0
	}
	interval := time.Second / time.Duration(c.sendRate)
	if c.stats.snaps.Load() == 0 {
		return false, time.Duration(l.cfg.Quiet) * interval // not streaming yet
	}
	if n := c.arrivals.Load(); n != l.quietSeen {
		l.quietSeen, l.quietLooks = n, 0
	} else if l.quietLooks > 0 {
		l.quietLooks++
	}
	confirm := min(quietConfirm, l.cfg.Quiet)
	silence := now.Sub(time.Unix(0, c.lastHeard.Load()))
	if early := time.Duration(l.cfg.Quiet-confirm) * interval; silence < early && l.quietLooks == 0 {
		return false, early - silence
	}
	if l.quietLooks == 0 {
		l.quietLooks = 1 // the first look of a row
		return false, interval
	}
	if l.quietLooks > confirm {
		l.quietLooks = 0
		return true, 0
	}
	return false, interval
}

// offer sends an ICE restart offer. An earlier offer that got no answer is sent again
// (pion cannot roll a local offer back): the host answers it, or answers it again.
func (l *clientLife) offer() error {
	c := l.c
	l.negMu.Lock()
	defer l.negMu.Unlock()
	switch c.pc.SignalingState() {
	case webrtc.SignalingStateHaveLocalOffer:
		if p := c.pc.PendingLocalDescription(); p != nil {
			c.sigw.description(*p)
		}
		return nil
	case webrtc.SignalingStateStable:
	default:
		return nil // answering the host's own restart offer
	}
	c.sigw.hold()
	offer, err := c.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		c.sigw.release()
		return fmt.Errorf("create offer: %w", err)
	}
	if err := c.pc.SetLocalDescription(offer); err != nil {
		c.sigw.release()
		return fmt.Errorf("set local description: %w", err)
	}
	c.sigw.description(offer)
	return nil
}

// onAnswer applies the host's answer to a restart offer; a late one, once the offer is
// answered, is ignored.
func (l *clientLife) onAnswer(sdp string) {
	c := l.c
	l.negMu.Lock()
	defer l.negMu.Unlock()
	if c.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return
	}
	if err := c.cands.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		c.log.Warn("restart answer rejected", "err", err)
	}
}

// onOffer answers the host's own ICE restart offer. The host offers only to clients
// that do not restart ICE themselves (see ackMsg.Restarts), so offers do not cross;
// while its own offer is out the client ignores the host's.
func (l *clientLife) onOffer(sdp string) {
	c := l.c
	l.negMu.Lock()
	defer l.negMu.Unlock()
	if c.pc.SignalingState() != webrtc.SignalingStateStable {
		return
	}
	c.sigw.hold()
	if err := c.cands.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		c.sigw.release()
		c.log.Warn("host restart offer rejected", "err", err)
		return
	}
	answer, err := c.pc.CreateAnswer(nil)
	if err == nil {
		err = c.pc.SetLocalDescription(answer)
	}
	if err != nil {
		c.sigw.release()
		c.log.Warn("answering the host's restart failed", "err", err)
		return
	}
	c.sigw.description(answer)
}

// RestartICE starts an ICE restart now, without waiting for ICE to notice trouble:
// call it when the application learns that the network changed (a browser's "online"
// or connection change event, a new interface). The data channels and everything
// queued on them survive the restart. It does nothing if restarts are disabled
// (ClientConfig.Restart) or the client is closed.
func (c *Client) RestartICE() { c.life.request() }

// State returns where the connection stands: connected, restarting ICE, or closed.
func (c *Client) State() LinkState {
	select {
	case <-c.ending:
		return LinkClosed
	default:
	}
	return c.life.state()
}
