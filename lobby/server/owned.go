package server

import (
	"cmp"
	"slices"
	"sync"
)

// ownedState is what this instance must keep alive in a shared store: the rooms its
// connections host, the memberships of its connections, and the routes of the
// connections it took over from other instances (handoff.go). The heartbeat refreshes
// them and puts back what the store lost (a Redis restarted empty, or an outage
// longer than the TTL). It has its own lock; the hub lock may be held while taking it,
// never the other way round.
type ownedState struct {
	mu      sync.Mutex
	seq     uint64               // creation order of hosted rooms
	hosted  map[string]ownedRoom // by room ID
	members map[string]string    // connection ID → room ID
	routes  map[string]bool      // connections held here whose ID names another instance
}

type ownedRoom struct {
	Room
	order uint64
}

// membership is one connection's membership in a room.
type membership struct{ room, peer string }

func (o *ownedState) init() {
	o.hosted = make(map[string]ownedRoom)
	o.members = make(map[string]string)
	o.routes = make(map[string]bool)
}

// hosting records a room created by a connection of this instance.
func (o *ownedState) hosting(r Room) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seq++
	r.Members = nil
	o.hosted[r.ID] = ownedRoom{r, o.seq}
}

// unhost forgets a hosted room; it reports the room and whether it was hosted here.
func (o *ownedState) unhost(id string) (Room, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	r, ok := o.hosted[id]
	delete(o.hosted, id)
	return r.Room, ok
}

// joined records that connection peer is a member of room.
func (o *ownedState) joined(peer, room string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.members[peer] = room
}

// left forgets peer's membership of room.
func (o *ownedState) left(peer, room string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.members[peer] == room {
		delete(o.members, peer)
	}
}

// routed records that connection id, which moved here from another instance, is
// held here (true) or no longer (false).
func (o *ownedState) routed(id string, here bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if here {
		o.routes[id] = true
	} else {
		delete(o.routes, id)
	}
}

// records is what an instance keeps in the store: see ownedState.
type records struct {
	rooms   []Room // hosted, oldest first
	members []membership
	routes  []string
}

// snapshot returns the hosted rooms, oldest first, the memberships and the routes.
func (o *ownedState) snapshot() records {
	o.mu.Lock()
	hosted := make([]ownedRoom, 0, len(o.hosted))
	for _, r := range o.hosted {
		hosted = append(hosted, r)
	}
	ms := make([]membership, 0, len(o.members))
	for peer, room := range o.members {
		ms = append(ms, membership{room, peer})
	}
	routes := make([]string, 0, len(o.routes))
	for id := range o.routes {
		routes = append(routes, id)
	}
	o.mu.Unlock()
	slices.SortFunc(hosted, func(a, b ownedRoom) int { return cmp.Compare(a.order, b.order) })
	rooms := make([]Room, len(hosted))
	for i, r := range hosted {
		rooms[i] = r.Room
	}
	return records{rooms, ms, routes}
}
