package server

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/volleynet/volley/lobby"
)

// Cross-instance relay.
//
// When several lobby instances share a Store, a connection's peer (its host, or a
// member of the room it hosts) may be held by another instance. A Store that can
// reach the other instances implements relayOpener (RedisStore does, over Redis
// pub/sub); the Server then opens one relay at start. Every instance has an ID, and
// the connection IDs it hands out embed it (connInstance); a connection resumed on
// another instance (handoff.go) keeps its ID and gets a route in the store naming its
// new holder. An event for a connection not held here (a signal, member_joined,
// member_left, room_closed) is published, in one store call that resolves the route,
// to its holder as an envelope; the receiving instance queues it only if that
// connection is still in the envelope's room, exactly as it checks its own
// connections.

// instanceIDLen is the length of an instance ID (hex) inside a connection ID.
const instanceIDLen = 8

// relayOpener is implemented by a Store shared between instances.
type relayOpener interface {
	// openRelay registers a new instance and starts delivering envelopes sent to it.
	openRelay(ctx context.Context, h relayHandler) (relay, error)
}

// relayHandler is what a relay calls back into; the Server implements it.
type relayHandler interface {
	deliver(data []byte) // one envelope for this instance, from one goroutine, in order
	// owned returns what this instance must keep in the store: the rooms its
	// connections host (oldest first), its connections' memberships and the routes
	// of the connections it took over from other instances.
	ownedRecords() records
	storeUp(up bool)               // the store answers (or stopped answering)
	restored(rooms, members int)   // records put back into a store that had lost them
	roomLost(id string)            // a hosted room the store lost and could not take back
	membershipLost(m membership)   // a membership whose room the store lost for good
	relayError(op string, e error) // a background failure to log and count
}

// relay is an open link to the other instances.
type relay interface {
	instance() string
	// publish sends data to instance inst; delivered is false when no such instance listens.
	publish(ctx context.Context, inst string, data []byte) (delivered bool, err error)
	// publishTo sends data to the instance holding connection id; here is true (and
	// nothing is sent) when that is this instance.
	publishTo(ctx context.Context, id string, data []byte) (delivered, here bool, err error)
	// moveRoute routes connection id, held here, to instance to, and publishes
	// marker to this instance in the same atomic step; false when id is not held here
	// according to the store.
	moveRoute(ctx context.Context, id, to string, marker []byte) (bool, error)
	// close unregisters the instance; nothing is delivered after it returns.
	close(ctx context.Context) error
}

// envelope is a hub event sent to the instance holding connection To, or a step of a
// resumption across instances (Kind, see handoff.go). It is JSON between instances of
// the same version.
type envelope struct {
	To   string          `json:"to"`             // connection ID held by the receiving instance
	Room string          `json:"room,omitempty"` // queued only if To is still in this room
	Msg  json.RawMessage `json:"msg,omitempty"`  // signal, member_joined, member_left or room_closed, as sent to To

	Kind  string        `json:"kind,omitempty"`  // "" (an event), or a handoff step
	From  string        `json:"from,omitempty"`  // the instance taking To over
	Req   string        `json:"req,omitempty"`   // that takeover's ID
	Hash  string        `json:"hash,omitempty"`  // takeover: hex SHA-256 of the token's secret
	State *handoffState `json:"state,omitempty"` // handoff: the connection
	Err   string        `json:"err,omitempty"`   // handoff: why it was refused
}

// Relay outcomes counted by lobby_relay_messages_total{result}.
const (
	relayPublished = "published" // sent to the instance holding the target
	relayUnrouted  = "unrouted"  // the target's instance is gone (no subscriber)
	relayReceived  = "received"  // arrived and queued to a connection held here
	relayDropped   = "dropped"   // arrived for a connection gone or no longer in that room
	relayFailed    = "error"     // Redis or encoding failure
)

// relayState is the Server's side of the relay. r is set once before ready closes.
type relayState struct {
	opener relayOpener
	r      relay
	ready  chan struct{} // closed when r is open
	stop   chan struct{} // closed by Server.Close
	cancel func()        // cancels an opening in progress; called with stop
	done   chan struct{} // closed when the opening goroutine has ended
	count  *prometheus.CounterVec
	up     atomic.Bool // the store answers (see storeUp)
}

// connInstance returns the instance that holds connection id, if id has the shape of a
// connection ID from a relaying instance.
func connInstance(id string) (string, bool) {
	if len(id) != 1+instanceIDLen+16 || id[0] != 'c' {
		return "", false
	}
	return id[1 : 1+instanceIDLen], true
}

// startRelay opens the relay in the background, retrying until the store answers:
// connections wait for it (see waitRelay).
func (s *Server) startRelay(o relayOpener) {
	rs := &relayState{
		opener: o,
		ready:  make(chan struct{}),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		count: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lobby_relay_messages_total",
			Help: "Events relayed between lobby instances, by result.",
		}, []string{"result"}),
	}
	s.m.reg.MustRegister(rs.count)
	base, cancelBase := context.WithCancel(context.Background())
	rs.cancel = cancelBase
	s.relay = rs
	go func() {
		defer close(rs.done)
		backoff := 100 * time.Millisecond
		for {
			ctx, cancel := context.WithTimeout(base, 10*time.Second)
			r, err := o.openRelay(ctx, s)
			cancel()
			if err == nil {
				select {
				case <-rs.stop: // closed while opening
					_ = r.close(context.Background())
					return
				default:
				}
				rs.r = r
				rs.up.Store(true)
				close(rs.ready)
				s.log.Info("lobby: relay open", "instance", r.instance())
				return
			}
			if base.Err() != nil {
				return // Server.Close
			}
			s.relayError("open", err)
			t := time.NewTimer(backoff)
			select {
			case <-rs.stop:
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}()
}

// relayReady reports whether connections can be served (true without a relay).
func (s *Server) relayReady() bool {
	if s.relay == nil {
		return true
	}
	select {
	case <-s.relay.ready:
		return true
	default:
		return false
	}
}

// waitRelay waits until the relay is open (connection IDs need the instance ID).
func (s *Server) waitRelay(ctx context.Context) bool {
	if s.relay == nil {
		return true
	}
	t := time.NewTimer(s.cfg.HandshakeTimeout)
	defer t.Stop()
	select {
	case <-s.relay.ready:
		return true
	case <-s.relay.stop:
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// stopRelay stops opening the relay and releases connections waiting for it; the
// relay itself stays open until closeRelay. Called when Server.Close starts.
func (s *Server) stopRelay() {
	if rs := s.relay; rs != nil {
		select {
		case <-rs.stop:
		default:
			close(rs.stop)
			rs.cancel()
		}
	}
}

// closeRelay unregisters this instance, once every connection has left (their rooms
// are closed and the events for other instances published).
func (s *Server) closeRelay() {
	rs := s.relay
	if rs == nil {
		return
	}
	<-rs.done
	select {
	case <-rs.ready:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := rs.r.close(ctx); err != nil {
			s.relayError("close", err)
		}
	default:
	}
}

// newConnID returns a fresh connection ID; with a relay it embeds the instance ID.
func (s *Server) newConnID() string {
	if s.relay == nil {
		return newID("c")
	}
	return newID("c" + s.relay.r.instance())
}

// relayTo sends msg (an encoded message) to connection id, which is not held here or
// no longer, to be queued by its holder if id is still in room. It reports whether the
// holder is alive to take it. Called on the sender's goroutine without the hub lock
// (so one sender's events are published in order).
func (s *Server) relayTo(id, room string, msg []byte) bool {
	if s.relay == nil || msg == nil {
		return false
	}
	e := envelope{To: id, Room: room, Msg: msg}
	data, err := json.Marshal(e)
	if err != nil {
		s.relayError("encode", err)
		return false
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	delivered, here, err := s.relay.r.publishTo(ctx, id, data)
	switch {
	case err != nil:
		s.relayError("publish", err)
		return false
	case here:
		// Routed here: it moved in since the caller looked, or is moving in
		// (handoff.go), or is gone.
		return s.deliverEvent(e)
	case !delivered:
		s.relay.count.WithLabelValues(relayUnrouted).Inc()
		return false
	}
	s.relay.count.WithLabelValues(relayPublished).Inc()
	return true
}

// deliver implements relayHandler: an envelope from another instance (or, for a
// handoff's marker, from this one).
func (s *Server) deliver(data []byte) {
	var e envelope
	if err := json.Unmarshal(data, &e); err != nil {
		s.relayError("decode", err)
		return
	}
	switch e.Kind {
	case "":
		s.deliverEvent(e)
	case kindTakeover:
		s.handleTakeover(e)
	case kindMoved:
		s.handleMoved(e)
	case kindHandoff:
		s.handleHandoff(e)
	default:
		s.relayError("decode", fmt.Errorf("unknown envelope kind %q", e.Kind))
	}
}

// deliverEvent queues a hub event for a connection held here, checked as the hub
// checks its own connections' events; an event for a connection being taken over
// from another instance waits for the takeover (at most SendQueue; more are dropped).
// It reports whether it was queued.
func (s *Server) deliverEvent(e envelope) bool {
	var m lobby.Message
	if err := json.Unmarshal(e.Msg, &m); err != nil {
		s.relayError("decode", err)
		return false
	}
	s.mu.Lock()
	ok := false
	if c := s.conns[e.To]; c != nil {
		ok = c.eventLocked(e.Room, m, e.Msg)
	} else if t := s.takeovers[e.To]; t != nil && len(t.events) < s.cfg.SendQueue {
		t.events = append(t.events, pendingEvent{e.Room, m, e.Msg})
		ok = true
	}
	s.mu.Unlock()
	if !ok {
		s.relay.count.WithLabelValues(relayDropped).Inc()
		return false
	}
	s.relay.count.WithLabelValues(relayReceived).Inc()
	return true
}

// eventLocked queues an event from another connection (msg, decoded as m) if c is
// still in room and takes it from that peer. Called with Server.mu held.
func (c *conn) eventLocked(room string, m lobby.Message, msg []byte) bool {
	switch m.Type {
	case lobby.TypeRoomClosed:
		return c.roomClosedLocked(room, m.Reason, msg) // queues it itself
	case lobby.TypeMemberJoined, lobby.TypeMemberLeft:
		if c.host && c.room == room {
			c.setMemberLocked(m.Peer, m.Type == lobby.TypeMemberJoined)
			c.queueLocked(msg, m.Type)
			return true
		}
	case lobby.TypeSignal:
		if c.acceptsSignal(m.From, room) {
			c.queueLocked(msg, m.Type)
			return true
		}
	}
	return false
}

// ownedRecords implements relayHandler.
func (s *Server) ownedRecords() records { return s.owned.snapshot() }

// storeUp implements relayHandler.
func (s *Server) storeUp(up bool) {
	if s.relay.up.Swap(up) != up {
		if up {
			s.m.storeUp.Set(1)
			s.feed.resyncSoon() // changes made meanwhile were not all announced
			s.log.Info("lobby: store answers again")
		} else {
			s.m.storeUp.Set(0)
			s.log.Error("lobby: store unavailable")
		}
	}
}

// storeHealthy reports whether the store answers (always true without a relay).
func (s *Server) storeHealthy() bool { return s.relay == nil || s.relay.up.Load() }

// restored implements relayHandler.
func (s *Server) restored(rooms, members int) {
	s.m.restored.WithLabelValues("rooms").Add(float64(rooms))
	s.m.restored.WithLabelValues("members").Add(float64(members))
	s.feed.resyncSoon()
	s.log.Warn("lobby: restored records the store had lost", "rooms", rooms, "members", members)
}

// roomLost implements relayHandler.
func (s *Server) roomLost(id string) {
	s.m.restored.WithLabelValues("lost").Inc()
	s.closeHostedRoom(id, lobby.RoomClosedStoreLost)
}

// membershipLost implements relayHandler: the room of one of this instance's members
// vanished from the store and did not come back within its TTL (its host's instance
// crashed, say). The member is told.
func (s *Server) membershipLost(m membership) {
	s.m.restored.WithLabelValues("lost").Inc()
	closed := s.encode(lobby.Message{Type: lobby.TypeRoomClosed, RoomID: m.room, Reason: lobby.RoomClosedStoreLost})
	s.mu.Lock()
	if c := s.conns[m.peer]; c != nil {
		c.roomClosedLocked(m.room, lobby.RoomClosedStoreLost, closed)
	}
	s.mu.Unlock()
	s.owned.left(m.peer, m.room)
}

// relayError implements relayHandler.
func (s *Server) relayError(op string, err error) {
	s.relay.count.WithLabelValues(relayFailed).Inc()
	s.log.Error("lobby: relay", "op", op, "err", err)
}
