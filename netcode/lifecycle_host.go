package netcode

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/volleynet/volley/signaling"
)

// hostLife is the host's side of one session's ICE restarts. The host answers the
// client's restart offers. It offers a restart itself, when ICE stays down for twice
// Restart.After, only to a client that does not restart ICE itself (its first ack says
// whether it does): two offers that cross would leave both sides stuck, since pion
// cannot roll a local offer back.
//
// Ownership: pion's ICE callback writes the state under mu and starts watch, a
// goroutine that lives only while ICE is down; negMu serializes the offer/answer steps
// of watch and of the session's signal reader.
type hostLife struct {
	sess *session
	cfg  RestartConfig
	wake chan struct{}

	negMu sync.Mutex

	mu       sync.Mutex
	ice      webrtc.ICEConnectionState
	iceSince time.Time
	watching bool // watch is running

	clientRestarts atomic.Bool // the client restarts ICE itself: never offer it one
	welcomed       atomic.Bool // the welcome went out: the session is established

	// Resumption (lifecycle_resume_host.go). ident is the game identity once the
	// handshake has welcomed the client; resumeOf the identity a resumption
	// handshake claimed, until it takes it over; hello the resuming client's
	// first message. sig is the session's signaling path.
	ident     *identity
	resumeOf  *identity
	fromToken bool
	hello     chan ackMsg
	sig       signaling.Signaler
	dead      atomic.Bool // the connection was torn down, the identity lives on
}

// identity returns the session's game identity (nil before its welcome, or when the
// host keeps no sessions).
func (l *hostLife) identity() *identity {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.ident
}

// setIdent gives the session its identity (after its welcome or takeover).
func (l *hostLife) setIdent(ident *identity) {
	l.mu.Lock()
	l.ident, l.resumeOf = ident, nil
	l.mu.Unlock()
}

// unsetIdent undoes setIdent for a takeover that failed: the session is again a
// resumption waiting on ident, which abandon gives back.
func (l *hostLife) unsetIdent(ident *identity) {
	l.mu.Lock()
	l.ident, l.resumeOf = nil, ident
	l.mu.Unlock()
}

// abandon gives back an identity claimed by a resumption that did not complete.
func (l *hostLife) abandon() {
	l.mu.Lock()
	ident := l.resumeOf
	l.resumeOf = nil
	l.mu.Unlock()
	if ident != nil {
		ident.release()
	}
}

// send sends an event: through the identity, which numbers and keeps it for a
// resumption, or straight to the channel when the host keeps no sessions.
func (l *hostLife) send(msg []byte) error {
	ident := l.identity()
	if ident == nil {
		return l.sess.sendEventNumbered(msg)
	}
	return l.sess.srv.life.sendEvent(ident, msg)
}

// resumed reports whether the session resumed an identity by token.
func (l *hostLife) resumed() bool { return l.fromToken }

func (l *hostLife) isDead() bool { return l.dead.Load() }
func (l *hostLife) markDead()    { l.dead.Store(true) }

// claim reserves the identity a resumption offer names (see serverLife.claim).
func (l *hostLife) claim(sig signaling.Signaler, offer signaling.Signal) error {
	l.sig = sig
	if offer.Resume == "" {
		return nil
	}
	ident, err := l.sess.srv.life.claim(offer.Resume)
	if err != nil {
		return err
	}
	l.sess.id = ident.id
	l.fromToken = true
	l.mu.Lock()
	l.resumeOf = ident
	l.mu.Unlock()
	return nil
}

func newHostLife(sess *session) *hostLife {
	cfg := sess.srv.cfg.Restart.withDefaults()
	cfg.After *= 2
	return &hostLife{sess: sess, cfg: cfg, wake: make(chan struct{}, 1), ice: webrtc.ICEConnectionStateNew, hello: make(chan ackMsg, 1)}
}

// onICEState is pion's ICE connection state callback.
func (l *hostLife) onICEState(st webrtc.ICEConnectionState) {
	sess := l.sess
	l.mu.Lock()
	l.ice, l.iceSince = st, sess.srv.clk.Now()
	start := !l.watching && l.cfg.enabled() && !l.clientRestarts.Load() &&
		(st == webrtc.ICEConnectionStateDisconnected || st == webrtc.ICEConnectionStateFailed)
	if start {
		select {
		case <-sess.ctx.Done():
			start = false
		default:
			l.watching = true
			sess.sigWG.Add(1)
		}
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	if start {
		go l.watch()
	}
}

// watch offers ICE restarts while ICE stays down and the client does not restart it,
// up to Restart.Attempts, and ends once ICE is up again.
func (l *hostLife) watch() {
	sess := l.sess
	clk := sess.srv.clk
	defer sess.sigWG.Done()
	t := clk.NewTimer(time.Hour)
	defer t.Stop()
	attempts := 0
	var startedAt, nextAt time.Time
	running := false
	for {
		now := clk.Now()
		l.mu.Lock()
		ice, since := l.ice, l.iceSince
		if iceUp(ice) && !running {
			l.watching = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		wait := time.Duration(0)
		switch {
		case running && iceUp(ice):
			running = false
			attempts = 0
			sess.srv.log.Info("ICE restart succeeded", "client", sess.id, "took", now.Sub(startedAt))
			continue
		case running && now.Sub(startedAt) >= l.cfg.Timeout:
			running = false
			sess.stats.restartsFailed.Add(1)
			nextAt = now.Add(l.cfg.backoff(attempts + 1))
			continue
		case running:
			wait = startedAt.Add(l.cfg.Timeout).Sub(now)
		case attempts >= l.cfg.Attempts || l.clientRestarts.Load() || !l.welcomed.Load() || sess.sigw.closed():
			// The client restarts ICE itself (its first ack, which may come
			// after ICE first flickers, says so), or it has not been welcomed
			// yet, or the attempts are spent, or the signaling path has closed
			// (an offer would reach nobody, and applying it would tear down an
			// ICE session that may recover by itself): the timeout or the
			// client decides.
			wait = l.cfg.Timeout
		case ice == webrtc.ICEConnectionStateDisconnected && now.Sub(since) < l.cfg.After:
			wait = since.Add(l.cfg.After).Sub(now)
		case nextAt.After(now):
			wait = nextAt.Sub(now)
		case ice == webrtc.ICEConnectionStateChecking:
			// The client's restart is under way: give it its time.
			wait = l.cfg.Timeout
			nextAt = now.Add(l.cfg.Timeout)
		default:
			attempts++
			running, startedAt = true, now
			sess.stats.restarts.Add(1)
			sess.srv.log.Info("host ICE restart", "client", sess.id, "attempt", attempts)
			if err := l.offer(); err != nil {
				sess.srv.log.Warn("host ICE restart offer failed", "client", sess.id, "err", err)
			}
			continue
		}
		t.Stop()
		select {
		case <-t.C():
		default:
		}
		t.Reset(wait)
		select {
		case <-sess.ctx.Done():
			return
		case <-l.wake:
		case <-t.C():
		}
	}
}

// offer sends the host's ICE restart offer, unless a negotiation is under way.
func (l *hostLife) offer() error {
	sess := l.sess
	l.negMu.Lock()
	defer l.negMu.Unlock()
	if sess.pc.SignalingState() != webrtc.SignalingStateStable {
		return nil
	}
	sess.sigw.hold()
	offer, err := sess.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err == nil {
		err = sess.pc.SetLocalDescription(offer)
	}
	if err != nil {
		sess.sigw.release()
		return fmt.Errorf("restart offer: %w", err)
	}
	sess.sigw.description(offer)
	return nil
}

// onOffer answers a client's ICE restart offer. An offer for a new connection is
// handed to Accept instead; onOffer reports whether the session's signal reader
// should stop (the new session owns the path).
func (l *hostLife) onOffer(sig signaling.Signaler, sg signaling.Signal) (handedOff bool) {
	if l.foreignOffer(sg) {
		return l.handOff(sig, sg)
	}
	sdp := sg.SDP
	sess := l.sess
	sess.srv.life.restartsAnswered.Add(1)
	l.negMu.Lock()
	defer l.negMu.Unlock()
	if st := sess.pc.SignalingState(); st != webrtc.SignalingStateStable {
		// Our own offer is out (to a client that said it does not restart): it
		// cannot take this one until it is answered.
		sess.srv.log.Warn("restart offer ignored: a negotiation is under way", "client", sess.id, "state", st)
		return false
	}
	sess.sigw.hold()
	if err := sess.cands.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		sess.sigw.release()
		sess.srv.log.Warn("restart offer rejected", "client", sess.id, "err", err)
		return false
	}
	answer, err := sess.pc.CreateAnswer(nil)
	if err == nil {
		err = sess.pc.SetLocalDescription(answer)
	}
	if err != nil {
		sess.sigw.release()
		sess.srv.log.Warn("restart answer failed", "client", sess.id, "err", err)
		return
	}
	sess.sigw.description(answer)
	return false
}

// onAnswer applies the client's answer to the host's restart offer.
func (l *hostLife) onAnswer(sdp string) {
	sess := l.sess
	l.negMu.Lock()
	defer l.negMu.Unlock()
	if sess.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		return
	}
	if err := sess.cands.setRemote(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		sess.srv.log.Warn("restart answer rejected", "client", sess.id, "err", err)
	}
}
