package game

import (
	"fmt"
	"math"

	"github.com/volleynet/volley/snapshot"
)

// Snapshot entity types.
const (
	TypePlayer     snapshot.TypeID = 1
	TypeProjectile snapshot.TypeID = 2
)

// projectileBase offsets projectile entity IDs past every player ID.
const projectileBase = 1 << 31

// PlayerEntity is a player as the snapshot carries it.
type PlayerEntity struct {
	X      float64 `snap:"float,min=-1,max=65,prec=0.01"` // Player.Pos
	Y      float64 `snap:"float,min=-1,max=37,prec=0.01"` // Player.Pos
	Aim    float64 `snap:"angle,bits=10"`                 // Player.Aim
	Health int     `snap:"int,min=0,max=100"`             // Player.Health
	Kills  int     `snap:"int,min=0,max=65535"`           // Player.Kills
	Deaths int     `snap:"int,min=0,max=65535"`           // Player.Deaths
	Alive  bool    `snap:"bool"`                          // Player.Alive
	// Spawn is the spawn counter modulo 256; a change is a teleport.
	Spawn int `snap:"int,min=0,max=255,teleport"`
	// Respawn is the time left before a dead player respawns, in tenths of a second.
	Respawn int `snap:"int,min=0,max=31"`
}

// ProjectileEntity is a projectile as the snapshot carries it.
type ProjectileEntity struct {
	X     float64 `snap:"float,min=-1,max=65,prec=0.01"` // Projectile.Pos
	Y     float64 `snap:"float,min=-1,max=37,prec=0.01"` // Projectile.Pos
	Owner uint32  `snap:"int,min=0,max=1048575"`         // Projectile.Owner
}

// NewRegistry returns the snapshot registry of the arena's entity types; host and
// clients must use the same one.
func NewRegistry() *snapshot.Registry {
	r := snapshot.NewRegistry()
	if _, err := r.Register(TypePlayer, PlayerEntity{}); err != nil {
		panic(fmt.Sprintf("game: player schema: %v", err)) // a bug in the tags above
	}
	if _, err := r.Register(TypeProjectile, ProjectileEntity{}); err != nil {
		panic(fmt.Sprintf("game: projectile schema: %v", err))
	}
	return r
}

// PlayerEntityID is the snapshot entity of a player.
func PlayerEntityID(id PlayerID) snapshot.EntityID { return snapshot.EntityID(id) }

// ProjectileEntityID is the snapshot entity of a projectile.
func ProjectileEntityID(id uint32) snapshot.EntityID {
	return snapshot.EntityID(projectileBase | id&(projectileBase-1))
}

// Entity returns the snapshot form of p.
func (p *Player) Entity() PlayerEntity {
	return PlayerEntity{
		X: p.Pos.X, Y: p.Pos.Y, Aim: p.Aim,
		Health: p.Health, Kills: p.Kills, Deaths: p.Deaths, Alive: p.Alive,
		Spawn:   p.Spawn & 0xff,
		Respawn: int(math.Ceil(math.Max(0, p.RespawnIn) * 10)),
	}
}

// PlayerFromEntity returns the player state a snapshot entity describes. Positions
// are put back on the PosPrecision grid, exactly where the host has them.
func PlayerFromEntity(id PlayerID, e PlayerEntity) Player {
	return Player{
		ID:  id,
		Pos: Vec{RoundPos(e.X), RoundPos(e.Y)}, Aim: e.Aim,
		Health: e.Health, Kills: e.Kills, Deaths: e.Deaths, Alive: e.Alive,
		Spawn: e.Spawn, RespawnIn: float64(e.Respawn) / 10,
	}
}

// WorldWriter copies a State into a snapshot.World each tick, removing the entities
// of players and projectiles that are gone. One goroutine (the host's tick) owns it.
type WorldWriter struct {
	written map[snapshot.EntityID]bool
	seen    map[snapshot.EntityID]bool
}

// Write makes w hold exactly the players and projectiles of s.
func (ww *WorldWriter) Write(s *State, w *snapshot.World) error {
	if ww.written == nil {
		ww.written = map[snapshot.EntityID]bool{}
		ww.seen = map[snapshot.EntityID]bool{}
	}
	clear(ww.seen)
	for _, p := range s.Players {
		id := PlayerEntityID(p.ID)
		e := p.Entity()
		if err := w.Set(id, TypePlayer, &e); err != nil {
			return fmt.Errorf("player %d: %w", p.ID, err)
		}
		ww.seen[id] = true
	}
	for _, pr := range s.Projectiles {
		id := ProjectileEntityID(pr.ID)
		e := ProjectileEntity{X: pr.Pos.X, Y: pr.Pos.Y, Owner: uint32(pr.Owner)}
		if err := w.Set(id, TypeProjectile, &e); err != nil {
			return fmt.Errorf("projectile %d: %w", pr.ID, err)
		}
		ww.seen[id] = true
	}
	for id := range ww.written {
		if !ww.seen[id] {
			w.Remove(id)
		}
	}
	ww.written, ww.seen = ww.seen, ww.written
	return nil
}

// View is the part of the world a client draws, read from a (usually interpolated)
// snapshot.World.
type View struct {
	Players     []Player     // sorted by ID; Name is empty (names come as events)
	Projectiles []Projectile // sorted by ID; Vel is zero
}

// ReadView fills v from w, reusing v's storage. Entities of unknown types are skipped.
func ReadView(w *snapshot.World, v *View) {
	v.Players = v.Players[:0]
	v.Projectiles = v.Projectiles[:0]
	reg := w.Registry()
	pt, jt := reg.Type(TypePlayer), reg.Type(TypeProjectile)
	w.Range(func(id snapshot.EntityID, typ snapshot.TypeID, q []uint32) bool {
		switch typ {
		case TypePlayer:
			var e PlayerEntity
			if pt.Dequantize(q, &e) == nil {
				v.Players = append(v.Players, PlayerFromEntity(PlayerID(id), e))
			}
		case TypeProjectile:
			var e ProjectileEntity
			if jt.Dequantize(q, &e) == nil {
				v.Projectiles = append(v.Projectiles, Projectile{
					ID: uint32(id) &^ projectileBase, Owner: PlayerID(e.Owner), Pos: Vec{e.X, e.Y},
				})
			}
		}
		return true
	})
}

// Reliable messages. Both directions use one envelope type each, so a receiver
// decodes every message into the same struct and looks at the fields that are set.

// Command is what a client sends the host on the reliable channel.
type Command struct {
	// Name sets the sender's display name.
	Name string `msgpack:"name,omitempty"`
}

// Notice is what the host sends clients on the reliable channel.
type Notice struct {
	// Names maps player IDs to display names; it is sent whole on every change.
	Names map[uint32]string `msgpack:"names,omitempty"`
	// Kill reports that Attacker killed Victim.
	Kill *KillNotice `msgpack:"kill,omitempty"`
}

// KillNotice is one line of the kill feed.
type KillNotice struct {
	Attacker uint32 `msgpack:"a"` // the killer's PlayerID
	Victim   uint32 `msgpack:"v"` // the killed player's PlayerID
}
