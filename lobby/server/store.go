package server

import (
	"context"
	"encoding/json"
	"slices"
	"sort"
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
	// PasswordHash is nil when the room is open; otherwise a SHA-256 of the room ID
	// and its password, computed by the Server: a Store compares hashes, never
	// passwords.
	PasswordHash []byte
	Members      []string // connection IDs in join order
	Game         string   // the game the host announced, "" for none
	GameVersion  string   // its version, "" for none
	// Seq orders rooms by creation (oldest first) and positions list cursors. The Store
	// sets it in CreateRoom (the caller's value is ignored); it is unique per store.
	Seq uint64
}

// Info returns the public description of r.
func (r Room) Info() lobby.RoomInfo {
	return lobby.RoomInfo{ID: r.ID, Name: r.Name, Host: r.Host, Capacity: r.Capacity,
		Members: len(r.Members), Locked: r.PasswordHash != nil, Metadata: r.Metadata,
		Game: r.Game, GameVersion: r.GameVersion}
}

func (r Room) hasMember(id string) bool { return slices.Contains(r.Members, id) }

// matches reports whether r is a room f selects.
func (r *Room) matches(f lobby.RoomFilter) bool {
	return (f.Game == "" || f.Game == r.Game) && (f.GameVersion == "" || f.GameVersion == r.GameVersion)
}

// ListQuery selects rooms for Store.ListRooms.
type ListQuery struct {
	lobby.RoomFilter
	After uint64 // only rooms with a larger Seq (0: from the oldest)
	Limit int    // at most this many rooms
}

// Store holds room state. Each method is atomic on its own: a shared implementation
// (Redis with one Lua script per method, say) lets several lobby instances serve the
// same rooms. The Server calls it without holding any lock that other connections
// need, with a deadline (Config.StoreTimeout). Returned Rooms are copies the caller
// may keep.
//
// Relaying between instances also needs a message bus: a Store that is shared between
// instances brings one (RedisStore relays over Redis pub/sub); with any other Store a
// Server delivers only to connections it holds.
type Store interface {
	// CreateRoom adds r (with no members), setting its Seq. ErrRoomExists if the ID is taken.
	CreateRoom(ctx context.Context, r Room) error
	// Room returns the room with that ID, or ErrRoomNotFound.
	Room(ctx context.Context, id string) (Room, error)
	// ListRooms returns up to q.Limit rooms matching q's filter with Seq > q.After,
	// oldest first.
	ListRooms(ctx context.Context, q ListQuery) ([]Room, error)
	// CountRooms returns the number of rooms.
	CountRooms(ctx context.Context) (int, error)
	// AddMember adds peer to the room if it has space: ErrRoomNotFound, ErrRoomFull.
	AddMember(ctx context.Context, roomID, peer string) (Room, error)
	// QuickJoin adds peer to the oldest open (unlocked) room with space that matches f,
	// or returns ErrNoRoomAvailable.
	QuickJoin(ctx context.Context, peer string, f lobby.RoomFilter) (Room, error)
	// RemoveMember removes peer from the room and returns the room after the removal.
	RemoveMember(ctx context.Context, roomID, peer string) (Room, error)
	// DeleteRoom removes the room and returns its last state.
	DeleteRoom(ctx context.Context, roomID string) (Room, error)
}

// MemoryStore is the default Store: rooms in a map behind a mutex.
type MemoryStore struct {
	mu    sync.Mutex
	rooms map[string]*Room // guarded by mu
	order []*Room          // oldest first (ascending Seq); guarded by mu
	seq   uint64           // last Seq handed out; guarded by mu
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
	s.seq++
	c.Seq = s.seq
	s.rooms[r.ID] = &c
	s.order = append(s.order, &c)
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
func (s *MemoryStore) ListRooms(_ context.Context, q ListQuery) ([]Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.order), func(i int) bool { return s.order[i].Seq > q.After })
	var out []Room
	for _, r := range s.order[i:] {
		if len(out) >= q.Limit {
			break
		}
		if r.matches(q.RoomFilter) {
			out = append(out, r.clone())
		}
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
func (s *MemoryStore) QuickJoin(_ context.Context, peer string, f lobby.RoomFilter) (Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.order {
		if r.PasswordHash == nil && len(r.Members) < r.Capacity && r.Host != peer && r.matches(f) {
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
	i := sort.Search(len(s.order), func(i int) bool { return s.order[i].Seq >= r.Seq })
	s.order = slices.Delete(s.order, i, i+1)
	return r.clone(), nil
}
