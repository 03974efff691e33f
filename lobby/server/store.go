package server

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	"github.com/volleynet/volley/lobby"
)

// Room is a room's state as the Store keeps it.
type Room struct {
	ID       string          // unique among the rooms of every instance sharing the store
	Name     string          // as the host gave it
	Host     string          // connection ID of the host
	Capacity int             // maximum number of members, not counting the host
	Metadata json.RawMessage // the host's JSON value, if any
	// PasswordHash is nil when the room is open, else the SHA-256 of the room ID,
	// a zero byte and the password: a Store compares hashes, never passwords.
	PasswordHash []byte
	Members      []string // connection IDs in join order
}

// Info returns the public description of r.
func (r Room) Info() lobby.RoomInfo {
	return lobby.RoomInfo{ID: r.ID, Name: r.Name, Host: r.Host, Capacity: r.Capacity,
		Members: len(r.Members), Locked: r.PasswordHash != nil, Metadata: r.Metadata}
}

func (r Room) hasMember(id string) bool { return slices.Contains(r.Members, id) }

// Store holds room state. Each method is atomic on its own: a shared implementation
// (Redis with one Lua script per method, say) lets several lobby instances serve the
// same rooms; the server never holds a lock across calls that the store must honour.
// Returned Rooms are copies the caller may keep.
//
// Relaying between instances also needs a message bus: a Store that is shared between
// instances brings one (RedisStore relays over Redis pub/sub); with any other Store a
// Server delivers only to connections it holds.
type Store interface {
	// CreateRoom adds r (with no members). ErrRoomExists if the ID is taken.
	CreateRoom(ctx context.Context, r Room) error
	// Room returns the room with that ID, or ErrRoomNotFound.
	Room(ctx context.Context, id string) (Room, error)
	// ListRooms returns up to limit rooms, oldest first.
	ListRooms(ctx context.Context, limit int) ([]Room, error)
	// CountRooms returns the number of rooms.
	CountRooms(ctx context.Context) (int, error)
	// AddMember adds peer to the room if it has space: ErrRoomNotFound, ErrRoomFull.
	AddMember(ctx context.Context, roomID, peer string) (Room, error)
	// QuickJoin adds peer to the oldest open (unlocked) room with space, or returns ErrNoRoomAvailable.
	QuickJoin(ctx context.Context, peer string) (Room, error)
	// RemoveMember removes peer from the room and returns the room after the removal.
	RemoveMember(ctx context.Context, roomID, peer string) (Room, error)
	// DeleteRoom removes the room and returns its last state.
	DeleteRoom(ctx context.Context, roomID string) (Room, error)
}

// MemoryStore is the default Store: rooms in a map behind a mutex.
type MemoryStore struct {
	mu    sync.Mutex
	rooms map[string]*Room // guarded by mu
	order []string         // room IDs, oldest first; guarded by mu
}

// NewMemoryStore returns an empty in-memory Store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{rooms: make(map[string]*Room)} }

func (r *Room) clone() Room {
	c := *r
	c.Members = slices.Clone(r.Members)
	return c
}

// CreateRoom implements Store.
func (s *MemoryStore) CreateRoom(_ context.Context, r Room) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rooms[r.ID]; ok {
		return ErrRoomExists
	}
	c := r.clone()
	c.Members = nil
	s.rooms[r.ID] = &c
	s.order = append(s.order, r.ID)
	return nil
}

// Room implements Store.
func (s *MemoryStore) Room(_ context.Context, id string) (Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[id]
	if !ok {
		return Room{}, lobby.ErrRoomNotFound
	}
	return r.clone(), nil
}

// ListRooms implements Store.
func (s *MemoryStore) ListRooms(_ context.Context, limit int) ([]Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Room, 0, min(limit, len(s.order)))
	for _, id := range s.order {
		if len(out) >= limit {
			break
		}
		out = append(out, s.rooms[id].clone())
	}
	return out, nil
}

// CountRooms implements Store.
func (s *MemoryStore) CountRooms(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rooms), nil
}

// AddMember implements Store.
func (s *MemoryStore) AddMember(_ context.Context, roomID, peer string) (Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[roomID]
	if !ok {
		return Room{}, lobby.ErrRoomNotFound
	}
	if len(r.Members) >= r.Capacity {
		return Room{}, lobby.ErrRoomFull
	}
	if !r.hasMember(peer) {
		r.Members = append(r.Members, peer)
	}
	return r.clone(), nil
}

// QuickJoin implements Store.
func (s *MemoryStore) QuickJoin(_ context.Context, peer string) (Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.order {
		r := s.rooms[id]
		if r.PasswordHash == nil && len(r.Members) < r.Capacity && r.Host != peer {
			r.Members = append(r.Members, peer)
			return r.clone(), nil
		}
	}
	return Room{}, lobby.ErrNoRoomAvailable
}

// RemoveMember implements Store.
func (s *MemoryStore) RemoveMember(_ context.Context, roomID, peer string) (Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[roomID]
	if !ok {
		return Room{}, lobby.ErrRoomNotFound
	}
	r.Members = slices.DeleteFunc(r.Members, func(m string) bool { return m == peer })
	return r.clone(), nil
}

// DeleteRoom implements Store.
func (s *MemoryStore) DeleteRoom(_ context.Context, roomID string) (Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rooms[roomID]
	if !ok {
		return Room{}, lobby.ErrRoomNotFound
	}
	delete(s.rooms, roomID)
	s.order = slices.DeleteFunc(s.order, func(id string) bool { return id == roomID })
	return r.clone(), nil
}
