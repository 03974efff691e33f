package netcode

import (
	"context"
	"fmt"
)

// errDrainingRefusal refuses a peer that offers while the host drains.
var errDrainingRefusal = fmt.Errorf("%w: the host is shutting down and admits nobody new", ErrDraining)

// Drain shuts the host down gracefully, for a deploy or a scale-down:
//
//  1. It stops admitting players: a peer that offers from now on, or whose handshake
//     is still in progress, is refused with the code "draining" (its Dial returns a
//     [RejectError] matching [ErrDraining]).
//  2. It sends final, unless nil, to every client as a last event (reliable, so it
//     arrives before the bye): the game's "round over" or scores.
//  3. It ends every session with a bye whose code is "draining": a client's
//     [Client.Err] then wraps both [ErrDraining] and [ErrServerClosed], and
//     Tick.Left reports [ErrDraining] to Step, which keeps running meanwhile.
//  4. It waits until every client has closed its connection (a client closes as soon
//     as it reads the bye; the host waits at most a second for each) or ctx ends,
//     and then closes the Server as [Server.Close] does.
//
// It returns ctx's error when ctx cut the goodbyes short, and nil otherwise; either
// way the Server is closed and every goroutine it started has ended. A second call,
// or a call after Close, only closes.
func (s *Server) Drain(ctx context.Context, final any) error {
	var last []byte
	if final != nil {
		msg, err := marshalMessage(kindEvent, final)
		if err != nil {
			return fmt.Errorf("netcode: drain: final event: %w", err)
		}
		last = msg
	}
	s.mu.Lock()
	if s.closed || s.draining {
		s.mu.Unlock()
		return s.Close()
	}
	s.draining = true
	list := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		list = append(list, sess)
	}
	s.mu.Unlock()
	s.log.Info("draining", "clients", len(list))
	if s.cfg.observeDrain != nil {
		s.cfg.observeDrain()
	}

	reason := fmt.Errorf("%w: the host is shutting down", ErrDraining)
	for _, sess := range list {
		if last != nil {
			_ = sess.sendReliable(last) // a client that cannot take it is ending anyway
		}
		sess.end(reason)
	}
	var err error
wait:
	for _, sess := range list {
		select {
		case <-sess.done:
		case <-ctx.Done():
			err = ctx.Err()
			break wait
		}
	}
	s.Close()
	return err
}

// Draining reports whether Drain has started (or the Server is closed): a readiness
// probe answers "not ready" from then on.
func (s *Server) Draining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining || s.closed
}
