package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/volleynet/volley/lobby"
)

// handle runs one decoded client message. Everything but the host authorization runs
// under the hub lock.
func (s *Server) handle(c *conn, m lobby.Message) {
	ctx := context.Background()
	if m.Type == lobby.TypeCreate {
		if code, msg := s.authorizeHost(c, m); code != "" {
			c.sendError(m.Ref, code, msg)
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch m.Type {
	case lobby.TypeCreate:
		s.create(ctx, c, m)
	case lobby.TypeList:
		s.list(ctx, c, m)
	case lobby.TypeJoin, lobby.TypeQuickJoin:
		s.join(ctx, c, m)
	case lobby.TypeLeave:
		if c.room == "" {
			c.sendError(m.Ref, lobby.CodeNotInRoom, "not in a room")
			return
		}
		roomID := c.room
		s.leaveLocked(ctx, c)
		c.enqueue(lobby.Message{Type: lobby.TypeLeft, Ref: m.Ref, RoomID: roomID})
	case lobby.TypeSignal:
		s.signal(ctx, c, m)
	case lobby.TypeResume:
		s.resume(ctx, c, m)
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

func (s *Server) create(ctx context.Context, c *conn, m lobby.Message) {
	cfg := &s.cfg
	switch {
	case c.room != "":
		c.sendError(m.Ref, lobby.CodeAlreadyInRoom, "already in room "+c.room)
		return
	case len(m.Name) > cfg.MaxNameBytes || !utf8.ValidString(m.Name):
		c.sendError(m.Ref, lobby.CodeBadRequest, fmt.Sprintf("name must be valid UTF-8 of at most %d bytes", cfg.MaxNameBytes))
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
	n, err := s.store.CountRooms(ctx)
	if err != nil {
		s.storeError(c, m.Ref, err)
		return
	}
	if n >= cfg.MaxRooms {
		c.sendError(m.Ref, lobby.CodeTooManyRooms, "room limit reached")
		return
	}
	r := Room{ID: newID("r"), Name: m.Name, Host: c.id, Capacity: m.Capacity, Metadata: m.Metadata}
	if r.Capacity == 0 {
		r.Capacity = cfg.DefaultCapacity
	}
	if string(r.Metadata) == "null" {
		r.Metadata = nil
	}
	if m.Password != "" {
		r.PasswordHash = hashPassword(r.ID, m.Password)
	}
	if err := s.store.CreateRoom(ctx, r); err != nil {
		s.storeError(c, m.Ref, err)
		return
	}
	c.room, c.host = r.ID, true
	c.inRoom.Store(true)
	s.m.rooms.Inc()
	info := r.Info()
	c.enqueue(lobby.Message{Type: lobby.TypeCreated, Ref: m.Ref, Room: &info})
	s.log.Debug("lobby: room created", "room", r.ID, "host", c.id)
}

func (s *Server) list(ctx context.Context, c *conn, m lobby.Message) {
	rooms, err := s.store.ListRooms(ctx, s.cfg.MaxListRooms)
	if err != nil {
		s.storeError(c, m.Ref, err)
		return
	}
	infos := make([]lobby.RoomInfo, len(rooms))
	for i, r := range rooms {
		infos[i] = r.Info()
	}
	// "rooms" is omitted from the JSON when empty; clients treat absence as [].
	c.enqueue(lobby.Message{Type: lobby.TypeRooms, Ref: m.Ref, Rooms: infos})
}

func (s *Server) join(ctx context.Context, c *conn, m lobby.Message) {
	if c.room != "" {
		c.sendError(m.Ref, lobby.CodeAlreadyInRoom, "already in room "+c.room)
		return
	}
	var r Room
	var err error
	if m.Type == lobby.TypeQuickJoin {
		r, err = s.store.QuickJoin(ctx, c.id)
	} else {
		if m.RoomID == "" {
			c.sendError(m.Ref, lobby.CodeBadRequest, "roomId is required")
			return
		}
		r, err = s.store.Room(ctx, m.RoomID)
		if err == nil && r.PasswordHash != nil &&
			subtle.ConstantTimeCompare(hashPassword(r.ID, m.Password), r.PasswordHash) != 1 {
			c.sendError(m.Ref, lobby.CodeWrongPassword, "wrong password")
			return
		}
		if err == nil {
			r, err = s.store.AddMember(ctx, r.ID, c.id)
		}
	}
	if err != nil {
		s.storeError(c, m.Ref, err)
		return
	}
	c.room, c.host = r.ID, false
	c.inRoom.Store(true)
	info := r.Info()
	c.enqueue(lobby.Message{Type: lobby.TypeJoined, Ref: m.Ref, Room: &info})
	joined := lobby.Message{Type: lobby.TypeMemberJoined, RoomID: r.ID, Peer: c.id}
	if h := s.conns[r.Host]; h != nil {
		h.enqueue(joined)
	} else {
		s.relayTo(ctx, r.Host, r.ID, joined)
	}
}

// leaveLocked takes c out of its room: a host closes the room and tells its members,
// a member tells the host. Called with s.mu held.
func (s *Server) leaveLocked(ctx context.Context, c *conn) {
	roomID, wasHost := c.room, c.host
	c.room, c.host = "", false
	c.inRoom.Store(false)
	if wasHost {
		r, err := s.store.DeleteRoom(ctx, roomID)
		if err != nil {
			s.log.Error("lobby: delete room", "room", roomID, "err", err)
			return
		}
		s.m.rooms.Dec()
		closed := lobby.Message{Type: lobby.TypeRoomClosed, RoomID: roomID, Reason: lobby.RoomClosedHostLeft}
		for _, id := range r.Members {
			if mc := s.conns[id]; mc != nil {
				if mc.room == roomID {
					mc.room = ""
					mc.inRoom.Store(false)
					mc.enqueue(closed)
				}
			} else {
				s.relayTo(ctx, id, roomID, closed)
			}
		}
		s.log.Debug("lobby: room closed", "room", roomID)
		return
	}
	r, err := s.store.RemoveMember(ctx, roomID, c.id)
	if err != nil {
		return // the room is already gone
	}
	left := lobby.Message{Type: lobby.TypeMemberLeft, RoomID: roomID, Peer: c.id}
	if h := s.conns[r.Host]; h != nil {
		h.enqueue(left)
	} else {
		s.relayTo(ctx, r.Host, roomID, left)
	}
}

func (s *Server) signal(ctx context.Context, c *conn, m lobby.Message) {
	if c.room == "" {
		c.sendError(m.Ref, lobby.CodeNotInRoom, "join or create a room before signaling")
		return
	}
	if m.Signal == nil {
		c.sendError(m.Ref, lobby.CodeInvalidSignal, "signal is required")
		return
	}
	if err := m.Signal.Validate(); err != nil {
		c.sendError(m.Ref, lobby.CodeInvalidSignal, err.Error())
		return
	}
	r, err := s.store.Room(ctx, c.room)
	if err != nil {
		c.sendError(m.Ref, lobby.CodeNotInRoom, "room is gone")
		return
	}
	to := m.To
	if c.host {
		if to == "" || to == c.id || !r.hasMember(to) {
			c.sendError(m.Ref, lobby.CodePeerNotFound, "not a member of your room")
			return
		}
	} else {
		if to != "" && to != r.Host {
			c.sendError(m.Ref, lobby.CodePeerNotFound, "players may only signal their room's host")
			return
		}
		to = r.Host
	}
	out := lobby.Message{Type: lobby.TypeSignal, From: c.id, Signal: m.Signal}
	t := s.conns[to]
	if t == nil {
		// Held by another instance sharing the store (which checks the room on arrival),
		// or gone.
		if !s.relayTo(ctx, to, c.room, out) {
			c.sendError(m.Ref, lobby.CodePeerNotFound, "peer is not connected")
		}
		return
	}
	if t.room != c.room {
		c.sendError(m.Ref, lobby.CodePeerNotFound, "peer is not connected here")
		return
	}
	t.enqueue(out)
}
