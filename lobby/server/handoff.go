package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/gorilla/websocket"

	"github.com/volleynet/volley/lobby"
)

// Resumption across instances.
//
// With instances sharing a store, a client whose WebSocket dropped usually reconnects,
// through the load balancer, to another instance (B) than the one holding its detached
// connection (A). B takes the connection over from A through the relay:
//
//  1. B sends a takeover (the token's connection ID and secret hash, a request ID) to
//     the connection's holder, as any event is sent. A checks the hash, as for a local
//     resumption, and marks the connection moving (a live one is detached and its old
//     WebSocket closed): what arrives for it keeps waiting with it, and its grace no
//     longer ends it.
//  2. A routes the connection to B in the store and, in the same atomic step,
//     publishes a marker to itself: every event published for the connection before
//     the route changed reaches A before the marker, every one after goes to B, which
//     keeps them for the connection being taken over (up to SendQueue).
//  3. On the marker, A lets the connection go: its room, seat (and, for a host, its
//     members and the room's record) and the messages that waited for it go to B in a
//     handoff; A keeps nothing of it.
//  4. B gives the new connection that state, as a local resumption does ("resumed"
//     with a new token, the messages that waited on A, then those that waited on B),
//     and keeps the room records and the route alive in the store from then on.
//
// A refusal (a token that is unknown, used or past its grace, a takeover already under
// way) comes back as a handoff with Err, and B answers resume_failed. B waits
// 2×StoreTimeout for the handoff. One that comes later, or that A could not send, is
// not adopted: the connection leaves its room there and then, as at the end of a grace
// (its client was told that the resumption failed and starts afresh).

// Envelope kinds of a handoff.
const (
	kindTakeover = "takeover" // → the holder of To: hand it over to From
	kindMoved    = "moved"    // holder → itself, with the route change: nothing more for To comes here
	kindHandoff  = "handoff"  // holder → From: To's state, or Err
)

// handoffState is a connection's state as it moves between instances.
type handoffState struct {
	Room    string    `json:"room,omitempty"`
	Host    bool      `json:"host,omitempty"`
	HostID  string    `json:"hostId,omitempty"`
	Members []string  `json:"members,omitempty"` // a host's members
	Record  *Room     `json:"record,omitempty"`  // a host's room, as its instance keeps it in the store
	Waiting []heldMsg `json:"waiting,omitempty"` // messages that waited for the connection, in order
}

// heldMsg is a held message in a handoff.
type heldMsg struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// takeover is a resumption of a connection held by another instance, waiting for its
// handoff. Guarded by Server.mu.
type takeover struct {
	req    string
	reply  chan envelope  // the handoff (one, buffered)
	events []pendingEvent // events for the connection that reached this instance meanwhile
}

// pendingEvent is an event for a connection being taken over.
type pendingEvent struct {
	room string
	m    lobby.Message
	msg  []byte
}

// resumeRemote resumes, for c, connection id held by another instance (or by none).
// It runs on c's reader, which reads nothing more until the handoff has come or
// 2×StoreTimeout has passed.
func (s *Server) resumeRemote(c *conn, ref, id string, sum [32]byte) {
	t := &takeover{req: newID("h"), reply: make(chan envelope, 1)}
	s.mu.Lock()
	if s.takeovers[id] != nil || s.conns[id] != nil {
		s.mu.Unlock()
		s.resumeFailed(c, ref, "a resumption of this connection is under way")
		return
	}
	s.takeovers[id] = t
	s.mu.Unlock()
	fail := func(msg string) {
		s.mu.Lock()
		if s.takeovers[id] == t {
			delete(s.takeovers, id)
		}
		s.mu.Unlock()
		s.resumeFailed(c, ref, msg)
	}
	data, err := json.Marshal(envelope{Kind: kindTakeover, To: id, From: s.relay.r.instance(), Req: t.req, Hash: hex.EncodeToString(sum[:])})
	if err != nil {
		fail("internal error")
		return
	}
	ctx, cancel := s.storeCtx()
	delivered, here, err := s.relay.r.publishTo(ctx, id, data)
	cancel()
	switch {
	case err != nil:
		s.relayError("publish", err)
		fail("store error: try again")
		return
	case here || !delivered:
		fail(errNoConnection)
		return
	}
	s.relay.count.WithLabelValues(relayPublished).Inc()

	wait := time.NewTimer(2 * s.cfg.StoreTimeout)
	defer wait.Stop()
	var e envelope
	select {
	case e = <-t.reply:
	case <-wait.C:
	case <-c.done:
	}
	s.mu.Lock()
	if e.Kind == "" {
		select {
		case e = <-t.reply: // came at the last moment
		default:
			delete(s.takeovers, id) // a later handoff is disposed of (handleHandoff)
		}
	}
	if e.Kind == "" || e.State == nil {
		if s.takeovers[id] == t {
			delete(s.takeovers, id)
		}
		s.mu.Unlock()
		switch {
		case e.Err != "":
			s.resumeFailed(c, ref, e.Err)
		default:
			s.resumeFailed(c, ref, "the instance holding the connection did not answer in time")
		}
		return
	}
	// Adopt the connection: c becomes it. Events that waited here are checked
	// against its state and held (c.holding) until "resumed" and the messages that
	// waited on the other instance are queued.
	st := e.State
	delete(s.takeovers, id)
	delete(s.conns, c.id)
	c.id, c.room, c.host, c.hostID, c.resumed = id, st.Room, st.Host, st.HostID, true
	if st.Host {
		members := make(map[string]bool, len(st.Members))
		for _, p := range st.Members {
			members[p] = true
		}
		c.setMembersLocked(members)
	}
	c.inRoom.Store(c.room != "")
	c.holding = true
	s.conns[id] = c
	token := s.newToken(c)
	for _, p := range t.events {
		c.eventLocked(p.room, p.m, p.msg)
	}
	s.mu.Unlock()
	if st.Host && st.Record == nil { // not kept by its old instance: read it
		ctx, cancel := s.storeCtx()
		if r, err := s.store.Room(ctx, st.Room); err == nil && r.Host == id {
			r.Members = nil
			st.Record = &r
		}
		cancel()
	}
	switch {
	case st.Host && st.Record != nil:
		s.owned.hosting(*st.Record)
		s.m.rooms.Inc()
	case st.Room != "" && !st.Host:
		s.owned.joined(id, st.Room)
	}
	s.owned.routed(id, true)
	waiting := make([]held, len(st.Waiting))
	for i, h := range st.Waiting {
		waiting[i] = held{[]byte(h.Data), h.Type}
	}
	s.resumed(c, ref, st.Room, token, waiting)
}

// handleTakeover answers another instance's takeover of a connection held here:
// refused, or started (steps 1 and 2 above). It runs on the relay's delivering
// goroutine, as do the other steps: a handoff is rare, and its few store calls may
// hold up the relay that long.
func (s *Server) handleTakeover(e envelope) {
	refuse := func(why string) {
		s.sendHandoff(e, envelope{Kind: kindHandoff, To: e.To, Req: e.Req, Err: why}, nil)
	}
	hash, err := hex.DecodeString(e.Hash)
	if err != nil || len(hash) != sha256.Size || e.From == "" || e.Req == "" {
		s.relayError("decode", errBadTakeover)
		return
	}
	s.mu.Lock()
	g := s.conns[e.To]
	switch {
	case g == nil || subtle.ConstantTimeCompare(hash, g.tokenHash[:]) != 1:
		s.mu.Unlock()
		refuse(errNoConnection)
		return
	case g.moving != "":
		s.mu.Unlock()
		refuse("a resumption of this connection is under way")
		return
	case g.joining || g.holding:
		s.mu.Unlock()
		refuse("the connection is busy: try again")
		return
	}
	g.moving, g.moveReq = e.From, e.Req
	live := !g.detached.Load()
	if live {
		// As on one instance: the client knows its old WebSocket is dead before
		// the server does. What is queued on it is lost with it.
		s.detachLocked(g)
	}
	s.mu.Unlock()
	if live {
		g.shutdown(websocket.CloseGoingAway, "resumed")
	}
	s.moveRoute(g, e)
}

// errBadTakeover is logged for a malformed takeover envelope.
var errBadTakeover = errors.New("lobby: malformed takeover envelope")

// moveRoute is step 2: it routes g to the instance taking it over and publishes the
// marker to this one.
func (s *Server) moveRoute(g *conn, e envelope) {
	marker, err := json.Marshal(envelope{Kind: kindMoved, To: e.To, From: e.From, Req: e.Req})
	if err == nil {
		ctx, cancel := s.storeCtx()
		var ok bool
		ok, err = s.relay.r.moveRoute(ctx, e.To, e.From, marker)
		cancel()
		if err == nil && ok {
			return
		}
	}
	if err != nil {
		s.relayError("move", err)
	}
	s.abandonMove(g, e)
	s.sendHandoff(e, envelope{Kind: kindHandoff, To: e.To, Req: e.Req, Err: "store error: try again"}, nil)
}

// abandonMove keeps g here after a move that could not start: detached, until its
// grace ends (at once if it has passed meanwhile).
func (s *Server) abandonMove(g *conn, e envelope) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.moving != e.From || g.moveReq != e.Req {
		return
	}
	g.moving, g.moveReq = "", ""
	if g.detached.Load() && !time.Now().Before(g.graceEnds) {
		g.grace.Reset(0)
	}
}

// handleMoved is step 3: the route has changed, so nothing more for the connection
// comes here; it goes to the instance taking it over with what waited for it.
func (s *Server) handleMoved(e envelope) {
	s.mu.Lock()
	g := s.conns[e.To]
	if g == nil || g.moving != e.From || g.moveReq != e.Req {
		// Gone meanwhile (Server.Close): the other instance's wait ends it.
		s.mu.Unlock()
		return
	}
	st := &handoffState{Room: g.room, Host: g.host, HostID: g.hostID}
	if g.host {
		for p := range g.members {
			st.Members = append(st.Members, p)
		}
		slices.Sort(st.Members)
	}
	for _, h := range g.waiting {
		st.Waiting = append(st.Waiting, heldMsg{h.typ, h.data})
	}
	delete(s.conns, e.To)
	if g.detached.Load() {
		s.dropDetachedLocked(g)
	}
	g.room, g.host, g.hostID, g.tokenHash = "", false, "", [32]byte{}
	g.setMembersLocked(nil)
	g.inRoom.Store(false)
	s.mu.Unlock()
	switch {
	case st.Host:
		if r, ok := s.owned.unhost(st.Room); ok {
			st.Record = &r
			s.m.rooms.Dec()
		}
	case st.Room != "":
		s.owned.left(e.To, st.Room)
	}
	s.owned.routed(e.To, false)
	s.grace.resumes.WithLabelValues(resumeMoved).Inc()
	s.log.Debug("lobby: handed over", "peer", e.To, "to", e.From, "room", st.Room, "queued", len(st.Waiting))
	s.sendHandoff(e, envelope{Kind: kindHandoff, To: e.To, Req: e.Req, State: st}, st)
}

// sendHandoff sends a handoff to the instance that asked for it (the takeover req).
// A connection's state that cannot be sent leaves its room here.
func (s *Server) sendHandoff(req, h envelope, st *handoffState) {
	data, err := json.Marshal(h)
	if err == nil {
		ctx, cancel := s.storeCtx()
		var delivered bool
		delivered, err = s.relay.r.publish(ctx, req.From, data)
		cancel()
		if err == nil && delivered {
			s.relay.count.WithLabelValues(relayPublished).Inc()
			return
		}
		if err == nil {
			s.relay.count.WithLabelValues(relayUnrouted).Inc()
		}
	}
	if err != nil {
		s.relayError("handoff", err)
	}
	if st != nil {
		s.dispose(req.To, st)
	}
}

// handleHandoff is step 4's start: the handoff goes to the takeover waiting for it, or
// is disposed of when none does any more.
func (s *Server) handleHandoff(e envelope) {
	s.mu.Lock()
	t := s.takeovers[e.To]
	if t != nil && t.req == e.Req {
		select {
		case t.reply <- e:
		default:
		}
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	if e.State != nil {
		s.relay.count.WithLabelValues(relayDropped).Inc()
		s.dispose(e.To, e.State)
	}
}

// dispose makes a connection whose handoff went nowhere leave its room, as at the end
// of its grace.
func (s *Server) dispose(id string, st *handoffState) {
	c := &conn{s: s, id: id, room: st.Room, host: st.Host, hostID: st.HostID}
	if st.Host {
		c.members = make(map[string]bool, len(st.Members))
		for _, p := range st.Members {
			c.members[p] = true
		}
	}
	s.leave(c)
	s.grace.resumes.WithLabelValues(resumeExpired).Inc()
	s.log.Info("lobby: a connection's handoff went nowhere: it left its room", "peer", id, "room", st.Room)
}
