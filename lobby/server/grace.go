package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/volleynet/volley/lobby"
)

// Connection resumption.
//
// A connection in a room whose WebSocket ends without a normal close (1000) from the
// client, and not because the server closed it (rate limit, slow consumer...), is
// detached rather than removed: for MemberGrace it keeps its ID, its room and its seat
// (a host's room stays open), and the messages for it wait in a queue of at most
// SendQueue (one more ends the grace at once). A new connection that sends "resume"
// with the connection's token takes it over: it answers "resumed" with the ID, the
// room and a new token, then the waiting messages. When the grace passes, the detached
// connection leaves its room as a disconnect would. With instances sharing a store,
// the new connection may be on another instance: see handoff.go.
//
// Tokens are "<connection ID>.<32 hex digits>"; the server keeps only a hash of the
// secret part, on the connection. A token is single-use: "resumed" brings the next.

// maxTokenBytes bounds a resume token.
const maxTokenBytes = 128

// Resume outcomes counted by lobby_resumes_total{result}.
const (
	resumeOK      = "ok"      // a detached connection was taken over (held here, or by another instance)
	resumeFailed  = "failed"  // unknown, used or malformed token, or in a room already
	resumeExpired = "expired" // the grace passed: the connection left its room
	resumeMoved   = "moved"   // a connection held here was handed to another instance
)

// errNoConnection is the message of a resumption whose token names no connection to
// take over.
const errNoConnection = "no connection to resume: the token is unknown or used, or its grace passed"

// graceMetrics are the resumption's collectors.
type graceMetrics struct {
	detached prometheus.Gauge
	resumes  *prometheus.CounterVec
}

func newGraceMetrics(reg *prometheus.Registry) graceMetrics {
	g := graceMetrics{
		detached: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lobby_detached_connections", Help: "Connections whose WebSocket dropped, kept for their client to resume.",
		}),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobby_resumes_total", Help: "Detached connections resumed, refused resumptions and graces expired, by result.",
		}, []string{"result"}),
	}
	reg.MustRegister(g.detached, g.resumes)
	return g
}

// newToken gives c a fresh resume token and returns it ("" when resumption is off).
// c is new or held under s.mu.
func (s *Server) newToken(c *conn) string {
	if s.cfg.MemberGrace <= 0 {
		return ""
	}
	var secret [16]byte
	_, _ = rand.Read(secret[:])
	c.tokenHash = sha256.Sum256(secret[:])
	return c.id + "." + hex.EncodeToString(secret[:])
}

// graceMillis is the grace announced in the welcome.
func (s *Server) graceMillis() int {
	if s.cfg.MemberGrace <= 0 {
		return 0
	}
	return int(s.cfg.MemberGrace.Milliseconds())
}

// leaveOrDetach runs when c's reader has ended: c leaves its room, or is detached for
// its client to resume it. readErr is why reading ended; serverClosed whether the
// server had closed the connection (then it leaves).
func (s *Server) leaveOrDetach(c *conn, readErr error, serverClosed bool) {
	var ce *websocket.CloseError
	normal := errors.As(readErr, &ce) && ce.Code == websocket.CloseNormalClosure
	s.mu.Lock()
	if c.moving != "" || c.detached.Load() {
		// Handed to another instance, or detached already by a takeover that
		// closed its WebSocket (handoff.go).
		s.mu.Unlock()
		return
	}
	if serverClosed || normal || s.closed || s.cfg.MemberGrace <= 0 || c.room == "" {
		s.mu.Unlock()
		s.disconnect(c)
		return
	}
	s.detachLocked(c)
	s.mu.Unlock()
	s.log.Debug("lobby: detached", "peer", c.id, "err", readErr)
}

// detachLocked starts c's grace: messages for it wait in c.waiting. Called with s.mu held.
func (s *Server) detachLocked(c *conn) {
	c.detached.Store(true)
	c.waiting = nil
	c.graceEnds = time.Now().Add(s.cfg.MemberGrace)
	c.grace = time.AfterFunc(s.cfg.MemberGrace, func() { s.expireDetached(c) })
	s.grace.detached.Inc()
}

// hold queues data for a detached connection; past SendQueue messages the grace ends.
// Called with Server.mu held.
func (c *conn) hold(data []byte, typ string) {
	if len(c.waiting) >= c.s.cfg.SendQueue {
		c.grace.Reset(0)
		return
	}
	c.waiting = append(c.waiting, held{data, typ})
}

// expireDetached ends the grace of c: it leaves its room, unless it was resumed or is
// moving to another instance (if that fails, abandonMove ends it).
func (s *Server) expireDetached(c *conn) {
	s.mu.Lock()
	if !c.detached.Load() || s.conns[c.id] != c || c.moving != "" {
		s.mu.Unlock()
		return
	}
	s.dropDetachedLocked(c)
	s.mu.Unlock()
	s.disconnect(c)
	s.grace.resumes.WithLabelValues(resumeExpired).Inc()
	s.log.Debug("lobby: grace expired", "peer", c.id)
}

// dropDetachedLocked ends c's detached state. Called with s.mu held.
func (s *Server) dropDetachedLocked(c *conn) {
	c.detached.Store(false)
	c.grace.Stop()
	c.waiting = nil
	s.grace.detached.Dec()
}

// closeDetachedLocked forgets every detached connection (Server.Close).
func (s *Server) closeDetachedLocked() {
	for id, c := range s.conns {
		if c.detached.Load() {
			s.dropDetachedLocked(c)
			delete(s.conns, id)
		}
	}
}

// resume lets c take over the connection its token names: a detached one, or one
// whose WebSocket the server still thinks is open, held here or (with a shared store)
// by another instance. It runs on c's reader.
func (s *Server) resume(c *conn, m lobby.Message) {
	id, secretHex, ok := strings.Cut(m.Token, ".")
	secret, err := hex.DecodeString(secretHex)
	if len(m.Token) > maxTokenBytes || !ok || err != nil || len(secret) != 16 {
		s.resumeFailed(c, m.Ref, "malformed token")
		return
	}
	sum := sha256.Sum256(secret)
	s.mu.Lock()
	if c.room != "" || c.resumed || c.joining || c.holding {
		s.mu.Unlock()
		s.resumeFailed(c, m.Ref, "resume is the first request of a connection")
		return
	}
	g := s.conns[id]
	if g == nil && s.relay != nil {
		s.mu.Unlock()
		s.resumeRemote(c, m.Ref, id, sum)
		return
	}
	if g == nil || g == c || g.moving != "" || subtle.ConstantTimeCompare(sum[:], g.tokenHash[:]) != 1 {
		s.mu.Unlock()
		s.resumeFailed(c, m.Ref, errNoConnection)
		return
	}
	var waiting []held
	if g.detached.Load() {
		waiting = g.waiting
		s.dropDetachedLocked(g)
	} else {
		// The client knows its old WebSocket is dead before the server does (a
		// network switch can leave it open here for minutes): take it over and
		// close it; what was queued on it is lost with it.
		defer g.shutdown(websocket.CloseGoingAway, "resumed")
	}
	delete(s.conns, c.id)
	c.id, c.room, c.host, c.hostID, c.resumed = g.id, g.room, g.host, g.hostID, true
	c.setMembersLocked(g.members)
	c.inRoom.Store(c.room != "")
	c.holding = true // what others send it waits until "resumed" and waiting are queued
	g.room, g.host, g.hostID, g.tokenHash = "", false, "", [32]byte{}
	g.setMembersLocked(nil)
	g.inRoom.Store(false)
	s.conns[c.id] = c
	token := s.newToken(c)
	roomID := c.room
	s.mu.Unlock()
	s.resumed(c, m.Ref, roomID, token, waiting)
}

// resumeFailed answers a refused resumption.
func (s *Server) resumeFailed(c *conn, ref, msg string) {
	s.grace.resumes.WithLabelValues(resumeFailed).Inc()
	c.sendError(ref, lobby.CodeResumeFailed, msg)
}

// resumed answers a resumption c has completed, with c.holding set: "resumed", then
// the messages that waited for the connection, then those sent to it since (c.held).
func (s *Server) resumed(c *conn, ref, roomID, token string, waiting []held) {
	reply := lobby.Message{Type: lobby.TypeResumed, Ref: ref, ID: c.id, Token: token}
	if roomID != "" {
		ctx, cancel := s.storeCtx()
		r, err := s.store.Room(ctx, roomID)
		cancel()
		if err == nil {
			info := r.Info()
			reply.Room = &info
		}
	}
	s.grace.resumes.WithLabelValues(resumeOK).Inc()
	c.enqueue(reply)
	for _, h := range waiting {
		c.queue(h.data, h.typ)
	}
	s.mu.Lock()
	later := c.held
	c.holding, c.held = false, nil
	for _, h := range later {
		c.queue(h.data, h.typ)
	}
	s.mu.Unlock()
	s.log.Debug("lobby: resumed", "peer", c.id, "room", roomID, "queued", len(waiting)+len(later))
}
