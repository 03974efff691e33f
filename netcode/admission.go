package netcode

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/volleynet/volley/signaling"
)

// rejectWait bounds the sending of a reject signal: a refused peer is told if its
// signaling path takes the message within this long.
const rejectWait = time.Second

// errPeerLeft ends a pending handshake whose signaling path closed: the peer left
// (e.g. its lobby room) before the connection opened, so nobody will complete it.
var errPeerLeft = fmt.Errorf("%w: signaling closed before the connection opened", ErrSignaling)

// errReoffer ends a pending handshake whose peer sent a new offer on the same path;
// Accept starts again with that offer.
var errReoffer = fmt.Errorf("%w: a new offer", ErrReplaced)

// Accept runs the host side of one client's connection: it reads the offer from sig,
// answers, trickles candidates both ways, and returns once both data channels are open
// and the client has been welcomed. It keeps handling late candidates from sig until
// the session ends. The client joins the game at the next tick (Tick.Joined).
//
// Accept refuses a peer when the host is full (ErrHostFull), already has
// MaxPendingHandshakes handshakes in progress (ErrBusy) or is closed (ErrClosed),
// and fails when the handshake does (wrong channels: ErrBadChannel; over
// HandshakeTimeout: ErrTimeout; a signaling path that closes first: ErrSignaling).
// The refused peer is told why: with a reject signal on sig, or with a bye on the
// reliable channel once that is open, so its Dial returns a RejectError at once.
//
// If sig has a Peer() string method (lobby.PeerSignaler does), the host keeps one
// pending handshake per peer: an Accept for a peer whose handshake is still pending
// ends the older one (which returns ErrReplaced), and a new offer on sig before the
// channels open restarts the handshake with it.
func (s *Server) Accept(ctx context.Context, sig signaling.Signaler) (ClientID, error) {
	var peer string
	if p, ok := sig.(interface{ Peer() string }); ok {
		peer = p.Peer()
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HandshakeTimeout)
	defer cancel()

	s.mu.Lock()
	old := s.byPeer[peer]
	var err error
	switch {
	case s.closed:
		err = fmt.Errorf("%w: the host is shutting down", ErrClosed)
	case s.draining:
		err = errDrainingRefusal
	case len(s.sessions)+s.admitting >= s.cfg.MaxClients:
		err = fmt.Errorf("%w: %d clients", ErrHostFull, s.cfg.MaxClients)
	case old == nil && s.pending >= s.cfg.MaxPendingHandshakes:
		err = fmt.Errorf("%w: %d handshakes in progress", ErrBusy, s.cfg.MaxPendingHandshakes)
	}
	if err != nil {
		s.mu.Unlock()
		s.refuse(nil, sig, err)
		return 0, err
	}
	id := s.nextID
	s.nextID++
	s.pending++
	s.wg.Add(1)
	sess := s.newPending(ctx, id, peer)
	s.mu.Unlock()
	if old != nil {
		old.end(fmt.Errorf("%w: peer %s offered again", ErrReplaced, peer))
	}
	defer context.AfterFunc(s.closing, cancel)()

	var offer *signaling.Signal
	for {
		err = sess.handshake(sig, offer)
		if !errors.Is(err, errReoffer) {
			break
		}
		// The peer offered again on the same path: start over with that offer,
		// unless a newer Accept for the same peer has taken over.
		sess.teardown() // after this, its reader has stopped reading sig
		offer = sess.reoffer
		s.mu.Lock()
		superseded := peer != "" && s.byPeer[peer] != sess
		if !superseded {
			sess = s.newPending(ctx, id, peer)
		}
		s.mu.Unlock()
		if superseded {
			err = fmt.Errorf("%w: peer %s offered again", ErrReplaced, peer)
			break
		}
	}
	if err != nil {
		err = s.handshakeErr(ctx, err)
	}

	s.mu.Lock()
	s.pending--
	if s.byPeer[peer] == sess {
		delete(s.byPeer, peer)
	}
	if err == nil {
		switch {
		case s.closed:
			err = fmt.Errorf("%w: the host is shutting down", ErrClosed)
		case s.draining:
			err = errDrainingRefusal
		case len(s.sessions)+s.admitting >= s.cfg.MaxClients:
			err = fmt.Errorf("%w: %d clients", ErrHostFull, s.cfg.MaxClients)
		default:
			s.admitting++
		}
		if err != nil {
			s.mu.Unlock()
			s.refuse(sess, sig, err)
			s.wg.Done()
			return 0, err
		}
		s.mu.Unlock()
		err = sess.sendWelcome()
		s.mu.Lock()
		s.admitting--
		if err == nil && s.closed {
			err = fmt.Errorf("%w: the host is shutting down", ErrClosed)
		}
	}
	if err != nil {
		s.mu.Unlock()
		s.refuse(sess, sig, err)
		s.wg.Done()
		return 0, err
	}
	s.life.register(sess)
	s.mu.Unlock()
	go sess.run()
	s.log.Info("client connected", "client", sess.id, "resumed", sess.life.resumed())
	return sess.id, nil
}

// newPending creates the session of a pending handshake, whose ending cancels the
// handshake's context, and files it under its peer. Called with s.mu held.
func (s *Server) newPending(ctx context.Context, id ClientID, peer string) *session {
	sess := newSession(s, id)
	sess.hctx, sess.hcancel = context.WithCancel(ctx)
	if peer != "" {
		s.byPeer[peer] = sess
	}
	return sess
}

// handshakeErr says why a handshake failed: the host closing, the handshake's
// deadline, or what the handshake reported.
func (s *Server) handshakeErr(ctx context.Context, err error) error {
	switch {
	case s.closing.Err() != nil:
		return fmt.Errorf("%w: the host is shutting down", ErrClosed)
	case errors.Is(err, ErrReplaced) || errors.Is(err, ErrBadChannel) || errors.Is(err, errPeerLeft):
		return err
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%w: no connection within %v: %w", ErrTimeout, s.cfg.HandshakeTimeout, err)
	case ctx.Err() != nil:
		return fmt.Errorf("%w: handshake canceled: %w", ErrClosed, err)
	}
	return err
}

// refuse tells a peer that was not admitted why, when it can still be told, counts the
// refusal by code and releases the pending session (nil: refused before it had one):
// a bye on the reliable channel when both channels are open, otherwise a reject
// signal on sig, sent before the peer connection closes. A peer replaced by a newer
// offer, or whose signaling path closed, is not told.
func (s *Server) refuse(sess *session, sig signaling.Signaler, err error) {
	code := codeOf(err)
	s.mu.Lock()
	if s.totals.refusals == nil {
		s.totals.refusals = map[string]uint64{}
	}
	s.totals.refusals[code]++
	s.mu.Unlock()
	s.log.Debug("connection refused", "code", code, "err", err)
	if sess != nil && sess.isReady() {
		sess.sayBye(err)
		sess.teardown()
		return
	}
	if sess != nil {
		sess.stopSignaling() // this goroutine sends on sig now
	}
	if sig != nil && !errors.Is(err, ErrReplaced) && !errors.Is(err, errPeerLeft) {
		rctx, cancel := context.WithTimeout(context.Background(), rejectWait)
		_ = sig.SendSignal(rctx, signaling.Reject(code, err.Error()))
		cancel()
	}
	if sess != nil {
		sess.teardown()
	}
}
