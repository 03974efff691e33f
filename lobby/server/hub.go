package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/volleynet/volley/lobby"
)

// The hub: room state shared by the connections of one instance.
//
// Server.mu (the hub lock) guards Server.conns and each connection's room fields. A
// handler runs on the connection's reader goroutine: it validates and encodes outside
// the lock, calls the Store with a deadline outside the lock, and takes the lock only
// to read or update room fields and queue messages already encoded (never blocking:
// a full queue drops its connection). Relay publishes to other instances also happen
// outside the lock, on the sender's goroutine, so one sender's messages stay in order.
//
// A room changes in the Store and in the hub in two steps, so each side records its
// intent first:
//   - create: the host's room fields are set (and its incoming messages held) before
//     CreateRoom, so a member joining at once finds its host, and "created" still
//     reaches the host before anything about its room;
//   - close: the host's fields are cleared before DeleteRoom, so no member_joined is
//     queued to a host that left; the members DeleteRoom returns are then closed;
//   - join: the connection is marked joining before AddMember/QuickJoin; a room_closed
//     arriving meanwhile is recorded, and if it names the room joined, "joined" is
//     followed at once by that "room_closed".

// storeCtx returns the context of one Store call.
func (s *Server) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.cfg.StoreTimeout)
}

// handle runs one decoded client message.
func (s *Server) handle(c *conn, m lobby.Message) {
	switch m.Type {
	case lobby.TypeCreate:
		s.create(c, m)
	case lobby.TypeList:
		s.list(c, m)
	case lobby.TypeJoin, lobby.TypeQuickJoin:
		s.join(c, m)
	case lobby.TypeLeave:
		s.mu.Lock()
		roomID := c.room
		s.mu.Unlock()
		if roomID == "" {
			c.sendError(m.Ref, lobby.CodeNotInRoom, "not in a room")
			return
		}
		s.leave(c)
		c.enqueue(lobby.Message{Type: lobby.TypeLeft, Ref: m.Ref, RoomID: roomID})
	case lobby.TypeSignal:
		s.signal(c, m)
	case lobby.TypeResume:
		s.resume(c, m)
	}
}

func (s *Server) authorizeHost(c *conn, m lobby.Message) (code, msg string) {
	if s.cfg.HostSecret != "" &&
		subtle.ConstantTimeCompare([]byte(m.Secret), []byte(s.cfg.HostSecret)) != 1 {
		return lobby.CodeForbidden, "a valid host secret is required to create rooms"
	}
	if s.cfg.AuthorizeHost != nil {
		if err := s.cfg.AuthorizeHost(c.req.Context(), c.req, c.id, m.Secret); err != nil {
			return lobby.CodeForbidden, err.Error()
		}
	}
	return "", ""
}

func hashPassword(roomID, password string) []byte {
	h := sha256.Sum256([]byte(roomID + "\x00" + password))
	return h[:]
}

func (s *Server) storeError(c *conn, ref string, err error) {
	switch {
	case errors.Is(err, lobby.ErrRoomNotFound):
		c.sendError(ref, lobby.CodeRoomNotFound, "no such room")
	case errors.Is(err, lobby.ErrRoomFull):
		c.sendError(ref, lobby.CodeRoomFull, "room is full")
	case errors.Is(err, lobby.ErrNoRoomAvailable):
		c.sendError(ref, lobby.CodeNoRoomAvailable, "no open room with space")
	default:
		s.log.Error("lobby: store", "err", err)
		c.sendError(ref, lobby.CodeInternal, "store error")
	}
}

// roomOf returns c's room (under the hub lock).
func (s *Server) roomOf(c *conn) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return c.room
}

func validText(s string, max int) bool { return len(s) <= max && utf8.ValidString(s) }

func retryIn(d time.Duration) string {
	return "retry in " + d.Round(100*time.Millisecond).String()
}

func (s *Server) create(c *conn, m lobby.Message) {
	cfg := &s.cfg
	switch {
	case !validText(m.Name, cfg.MaxNameBytes):
		c.sendError(m.Ref, lobby.CodeBadRequest, fmt.Sprintf("name must be valid UTF-8 of at most %d bytes", cfg.MaxNameBytes))
		return
	case !validText(m.Game, cfg.MaxNameBytes) || !validText(m.GameVersion, cfg.MaxNameBytes):
		c.sendError(m.Ref, lobby.CodeBadRequest, fmt.Sprintf("game and gameVersion must be valid UTF-8 of at most %d bytes", cfg.MaxNameBytes))
		return
	case m.Capacity < 0 || m.Capacity > cfg.MaxCapacity:
		c.sendError(m.Ref, lobby.CodeBadRequest, fmt.Sprintf("capacity must be between 1 and %d", cfg.MaxCapacity))
		return
	case len(m.Metadata) > cfg.MaxMetadataBytes:
		c.sendError(m.Ref, lobby.CodeBadRequest, fmt.Sprintf("metadata exceeds %d bytes", cfg.MaxMetadataBytes))
		return
	case len(m.Password) > cfg.MaxPasswordBytes:
		c.sendError(m.Ref, lobby.CodeBadRequest, fmt.Sprintf("password exceeds %d bytes", cfg.MaxPasswordBytes))
		return
	}
	if room := s.roomOf(c); room != "" {
		c.sendError(m.Ref, lobby.CodeAlreadyInRoom, "already in room "+room)
		return
	}
	if code, msg := s.authorizeHost(c, m); code != "" {
		c.sendError(m.Ref, code, msg)
		return
	}
	if lim := c.limits.creates; lim != nil {
		if r := lim.Reserve(); r.Delay() > 0 {
			r.Cancel()
			c.limited(m.Ref, lobby.ReasonIPCreates, "too many rooms created from your address; "+retryIn(r.Delay()))
			return
		}
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	n, err := s.store.CountRooms(ctx)
	if err != nil {
		s.storeError(c, m.Ref, err)
		return
	}
	if n >= cfg.MaxRooms {
		c.sendError(m.Ref, lobby.CodeTooManyRooms, "room limit reached")
		return
	}
	r := Room{ID: newID("r"), Name: m.Name, Host: c.id, Capacity: m.Capacity, Metadata: m.Metadata,
		Game: m.Game, GameVersion: m.GameVersion}
	if r.Capacity == 0 {
		r.Capacity = cfg.DefaultCapacity
	}
	if string(r.Metadata) == "null" {
		r.Metadata = nil
	}
	if m.Password != "" {
		r.PasswordHash = hashPassword(r.ID, m.Password)
	}
	info := r.Info()
	created := s.encode(lobby.Message{Type: lobby.TypeCreated, Ref: m.Ref, Room: &info})

	s.mu.Lock()
	c.room, c.host, c.holding = r.ID, true, true
	c.setMembersLocked(make(map[string]bool))
	c.inRoom.Store(true)
	s.mu.Unlock()
	err = s.store.CreateRoom(ctx, r)
	s.mu.Lock()
	held := c.held
	c.holding, c.held = false, nil
	if err != nil {
		c.room, c.host = "", false
		c.setMembersLocked(nil)
		c.inRoom.Store(false)
	} else {
		c.queue(created, lobby.TypeCreated)
		for _, h := range held {
			c.queue(h.data, h.typ)
		}
	}
	s.mu.Unlock()
	if err != nil {
		s.storeError(c, m.Ref, err)
		return
	}
	s.owned.hosting(r)
	s.m.rooms.Inc()
	s.feed.changed(r.ID)
	s.log.Debug("lobby: room created", "room", r.ID, "host", c.id)
}

// list answers one page of rooms. It takes no hub lock: the page is read from the
// store, encoded and queued on the connection's own goroutine.
func (s *Server) list(c *conn, m lobby.Message) {
	cfg := &s.cfg
	limit := m.Limit
	if limit <= 0 || limit > cfg.MaxListRooms {
		limit = cfg.MaxListRooms
	}
	var after uint64
	if m.Cursor != "" {
		var err error
		if after, err = strconv.ParseUint(m.Cursor, 10, 64); err != nil {
			c.sendError(m.Ref, lobby.CodeBadRequest, "cursor must be the \"next\" of a previous page")
			return
		}
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	rooms, err := s.store.ListRooms(ctx, ListQuery{
		RoomFilter: lobby.RoomFilter{Game: m.Game, GameVersion: m.GameVersion},
		After:      after, Limit: limit + 1, // one more tells whether a next page exists
	})
	if err != nil {
		s.storeError(c, m.Ref, err)
		return
	}
	// {"type":"rooms","ref":...,"rooms":[...],"next":"..."}, assembled by hand so that
	// each room's metadata is copied, not validated again (json.Marshal would).
	estimate := 64 + len(m.Ref)
	for _, r := range rooms {
		estimate += 192 + len(r.Name) + len(r.Game) + len(r.GameVersion) + len(r.Metadata)
	}
	out := append(make([]byte, 0, min(estimate, cfg.MaxListBytes+256)), `{"type":"rooms"`...)
	if m.Ref != "" {
		out = append(out, `,"ref":`...)
		out = appendJSON(out, m.Ref)
	}
	var next string
	n := 0
	for i, r := range rooms {
		if i == limit {
			next = strconv.FormatUint(rooms[i-1].Seq, 10)
			break
		}
		mark := len(out)
		if i == 0 {
			out = append(out, `,"rooms":[`...)
		} else {
			out = append(out, ',')
		}
		out = appendRoomInfo(out, r.Info())
		if len(out)+32 > cfg.MaxListBytes && i > 0 { // 32: the closing bytes and "next"
			out = out[:mark]
			next = strconv.FormatUint(rooms[i-1].Seq, 10)
			break
		}
		n++
	}
	if n > 0 {
		out = append(out, ']')
	}
	if next != "" {
		out = append(out, `,"next":"`...)
		out = append(out, next...)
		out = append(out, '"')
	}
	out = append(out, '}')
	c.queue(out, lobby.TypeRooms)
}

// appendJSON appends v encoded as JSON.
func appendJSON(dst []byte, v any) []byte {
	data, _ := json.Marshal(v) // strings and RoomInfo without metadata cannot fail
	return append(dst, data...)
}

// appendRoomInfo appends info as JSON with its metadata copied as it is: the server
// validated it when the room was created.
func appendRoomInfo(dst []byte, info lobby.RoomInfo) []byte {
	meta := info.Metadata
	info.Metadata = nil
	dst = appendJSON(dst, info)
	if len(meta) == 0 {
		return dst
	}
	dst = append(dst[:len(dst)-1], `,"metadata":`...) // drop the closing brace
	dst = append(dst, meta...)
	return append(dst, '}')
}

func (s *Server) join(c *conn, m lobby.Message) {
	quick := m.Type == lobby.TypeQuickJoin
	if !quick && m.RoomID == "" {
		c.sendError(m.Ref, lobby.CodeBadRequest, "roomId is required")
		return
	}
	s.mu.Lock()
	room := c.room
	if room == "" {
		c.joining, c.closedWhileJoining = true, nil
	}
	s.mu.Unlock()
	if room != "" {
		c.sendError(m.Ref, lobby.CodeAlreadyInRoom, "already in room "+room)
		return
	}
	r, ok := s.joinStore(c, m, quick)
	var reply, joined []byte
	if ok {
		info := r.Info()
		reply = s.encode(lobby.Message{Type: lobby.TypeJoined, Ref: m.Ref, Room: &info})
		joined = s.encode(lobby.Message{Type: lobby.TypeMemberJoined, RoomID: r.ID, Peer: c.id})
	}
	var closed *closedRoom
	var h *conn
	s.mu.Lock()
	c.joining = false
	for i := range c.closedWhileJoining {
		if ok && c.closedWhileJoining[i].id == r.ID {
			closed = &c.closedWhileJoining[i]
		}
	}
	c.closedWhileJoining = nil
	if ok {
		c.queue(reply, lobby.TypeJoined)
	}
	if ok && closed == nil {
		c.room, c.host, c.hostID = r.ID, false, r.Host
		c.inRoom.Store(true)
		s.owned.joined(c.id, r.ID)
		if h = s.conns[r.Host]; h != nil && h.room == r.ID && h.host {
			h.setMemberLocked(c.id, true)
			h.queueLocked(joined, lobby.TypeMemberJoined)
		}
	}
	s.mu.Unlock()
	if ok {
		s.feed.changed(r.ID)
	}
	switch {
	case !ok:
	case closed != nil: // the room closed while we joined it
		c.enqueue(lobby.Message{Type: lobby.TypeRoomClosed, RoomID: r.ID, Reason: closed.reason})
	case h == nil:
		s.relayTo(r.Host, r.ID, joined)
	}
}

// joinStore runs the checks and Store calls of a join; it answers the error itself
// and reports false when the join failed.
func (s *Server) joinStore(c *conn, m lobby.Message, quick bool) (Room, bool) {
	if lim := c.limits.joins; lim != nil {
		if r := lim.Reserve(); r.Delay() > 0 {
			r.Cancel()
			c.limited(m.Ref, lobby.ReasonIPJoins, "too many joins from your address; "+retryIn(r.Delay()))
			return Room{}, false
		}
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	if quick {
		r, err := s.store.QuickJoin(ctx, c.id, lobby.RoomFilter{Game: m.Game, GameVersion: m.GameVersion})
		if err != nil {
			s.storeError(c, m.Ref, err)
			return Room{}, false
		}
		return r, true
	}
	r, err := s.store.Room(ctx, m.RoomID)
	if err != nil {
		s.storeError(c, m.Ref, err)
		return Room{}, false
	}
	if r.PasswordHash != nil {
		now := time.Now()
		if d := s.addrs.passwordWait(c.limits, r.ID, now); d > 0 {
			c.limited(m.Ref, lobby.ReasonPasswordBackoff, "too many wrong passwords; "+retryIn(d))
			return Room{}, false
		}
		if subtle.ConstantTimeCompare(hashPassword(r.ID, m.Password), r.PasswordHash) != 1 {
			s.addrs.passwordFailed(c.limits, r.ID, now)
			c.sendError(m.Ref, lobby.CodeWrongPassword, "wrong password")
			return Room{}, false
		}
	}
	r, err = s.store.AddMember(ctx, r.ID, c.id)
	if err != nil {
		s.storeError(c, m.Ref, err)
		return Room{}, false
	}
	return r, true
}

// leave takes c out of its room: a host closes the room and tells its members, a
// member tells the host.
func (s *Server) leave(c *conn) {
	s.mu.Lock()
	roomID, wasHost, hostID, members := c.room, c.host, c.hostID, c.members
	c.room, c.host, c.hostID = "", false, ""
	c.setMembersLocked(nil)
	c.inRoom.Store(false)
	s.mu.Unlock()
	if roomID == "" {
		return
	}
	ctx, cancel := s.storeCtx()
	defer cancel()
	if wasHost {
		if _, ok := s.owned.unhost(roomID); ok {
			s.m.rooms.Dec()
		}
		r, err := s.store.DeleteRoom(ctx, roomID)
		if err != nil && !errors.Is(err, lobby.ErrRoomNotFound) {
			// A shared store lets the room expire (no one refreshes it anymore).
			s.log.Error("lobby: delete room", "room", roomID, "err", err)
		}
		// The store's members, and those the host was told about (the store may have
		// lost some).
		for id := range members {
			if !r.hasMember(id) {
				r.Members = append(r.Members, id)
			}
		}
		s.feed.changed(roomID)
		s.closeMembers(roomID, r.Members, lobby.RoomClosedHostLeft)
		s.log.Debug("lobby: room closed", "room", roomID)
		return
	}
	s.owned.left(c.id, roomID)
	if _, err := s.store.RemoveMember(ctx, roomID, c.id); errors.Is(err, lobby.ErrRoomNotFound) {
		return // the room is already gone
	} else if err != nil {
		s.log.Error("lobby: remove member", "room", roomID, "peer", c.id, "err", err)
	}
	s.feed.changed(roomID)
	left := s.encode(lobby.Message{Type: lobby.TypeMemberLeft, RoomID: roomID, Peer: c.id})
	s.mu.Lock()
	h := s.conns[hostID]
	if h != nil && h.room == roomID && h.host {
		h.setMemberLocked(c.id, false)
		h.queueLocked(left, lobby.TypeMemberLeft)
	}
	s.mu.Unlock()
	if h == nil {
		s.relayTo(hostID, roomID, left)
	}
}

// closeMembers tells the members of a closed room, here and on other instances.
func (s *Server) closeMembers(roomID string, members []string, reason string) {
	closed := s.encode(lobby.Message{Type: lobby.TypeRoomClosed, RoomID: roomID, Reason: reason})
	var remote []string
	s.mu.Lock()
	for _, id := range members {
		if mc := s.conns[id]; mc != nil {
			mc.roomClosedLocked(roomID, reason, closed)
		} else {
			remote = append(remote, id)
		}
	}
	s.mu.Unlock()
	for _, id := range remote {
		s.relayTo(id, roomID, closed)
	}
}

// roomClosedLocked handles the close of room for c (a member, or one joining it).
// Called with Server.mu held; reports whether c was in (or joining) that room.
func (c *conn) roomClosedLocked(room, reason string, data []byte) bool {
	switch {
	case c.room == room && !c.host:
		c.room, c.hostID = "", ""
		c.inRoom.Store(false)
		c.s.owned.left(c.id, room)
		c.queueLocked(data, lobby.TypeRoomClosed)
		return true
	case c.joining:
		if len(c.closedWhileJoining) == maxClosedWhileJoining {
			c.closedWhileJoining = c.closedWhileJoining[1:]
		}
		c.closedWhileJoining = append(c.closedWhileJoining, closedRoom{room, reason})
		return true
	}
	return false
}

func (s *Server) signal(c *conn, m lobby.Message) {
	if m.Signal == nil {
		c.sendError(m.Ref, lobby.CodeInvalidSignal, "signal is required")
		return
	}
	if err := m.Signal.Validate(); err != nil {
		c.sendError(m.Ref, lobby.CodeInvalidSignal, err.Error())
		return
	}
	out := s.encode(lobby.Message{Type: lobby.TypeSignal, From: c.id, Signal: m.Signal})
	s.mu.Lock()
	room, to := c.room, m.To
	var code, msg string
	var t *conn
	switch {
	case room == "":
		code, msg = lobby.CodeNotInRoom, "join or create a room before signaling"
	case c.host && (to == "" || !c.members[to]):
		code, msg = lobby.CodePeerNotFound, "not a member of your room"
	case !c.host && to != "" && to != c.hostID:
		code, msg = lobby.CodePeerNotFound, "players may only signal their room's host"
	default:
		if !c.host {
			to = c.hostID
		}
		if t = s.conns[to]; t != nil {
			if t.acceptsSignal(c.id, room) {
				t.queueLocked(out, lobby.TypeSignal)
			} else {
				code, msg = lobby.CodePeerNotFound, "peer is not connected here"
			}
		}
	}
	s.mu.Unlock()
	if code == "" && t == nil {
		// Held by another instance sharing the store (which checks the room on
		// arrival), or gone.
		if !s.relayTo(to, room, out) {
			code, msg = lobby.CodePeerNotFound, "peer is not connected"
		}
	}
	if code != "" {
		c.sendError(m.Ref, code, msg)
	}
}

// acceptsSignal reports whether c takes a signal from peer in room: c is in room, and
// peer is its host or one of its members. Called with Server.mu held.
func (c *conn) acceptsSignal(from, room string) bool {
	if c.room != room {
		return false
	}
	if c.host {
		return c.members[from]
	}
	return c.hostID == from
}

// disconnect removes c after its reader ended.
func (s *Server) disconnect(c *conn) {
	s.leave(c)
	s.mu.Lock()
	if s.conns[c.id] == c { // not taken over by a resumption
		delete(s.conns, c.id)
	}
	s.mu.Unlock()
}

// closeHostedRoom closes a room hosted here that the store lost for good: its host
// and members are told with reason.
func (s *Server) closeHostedRoom(roomID, reason string) {
	r, ok := s.owned.unhost(roomID)
	if !ok {
		return
	}
	closed := s.encode(lobby.Message{Type: lobby.TypeRoomClosed, RoomID: roomID, Reason: reason})
	var members []string
	s.mu.Lock()
	host := s.conns[r.Host]
	if host != nil && host.host && host.room == roomID {
		for id := range host.members {
			members = append(members, id)
		}
		host.room, host.host = "", false
		host.setMembersLocked(nil)
		host.inRoom.Store(false)
		host.queueLocked(closed, lobby.TypeRoomClosed)
	}
	s.mu.Unlock()
	s.m.rooms.Dec()
	s.feed.changed(roomID)
	slices.Sort(members)
	s.closeMembers(roomID, members, reason)
	s.log.Warn("lobby: room lost by the store", "room", roomID, "host", r.Host)
}
