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

// PlayerEntityWide is PlayerEntity on a large map (NewMap with more than one tile):
// the same fields, with positions up to MaxTiles tiles.
type PlayerEntityWide struct {
	X       float64 `snap:"float,min=-1,max=1025,prec=0.01"` // Player.Pos
	Y       float64 `snap:"float,min=-1,max=577,prec=0.01"`  // Player.Pos
	Aim     float64 `snap:"angle,bits=10"`                   // Player.Aim
	Health  int     `snap:"int,min=0,max=100"`               // Player.Health
	Kills   int     `snap:"int,min=0,max=65535"`             // Player.Kills
	Deaths  int     `snap:"int,min=0,max=65535"`             // Player.Deaths
	Alive   bool    `snap:"bool"`                            // Player.Alive
	Spawn   int     `snap:"int,min=0,max=255,teleport"`      // as PlayerEntity.Spawn
	Respawn int     `snap:"int,min=0,max=31"`                // as PlayerEntity.Respawn
}

// ProjectileEntityWide is ProjectileEntity on a large map.
type ProjectileEntityWide struct {
	X     float64 `snap:"float,min=-1,max=1025,prec=0.01"` // Projectile.Pos
	Y     float64 `snap:"float,min=-1,max=577,prec=0.01"`  // Projectile.Pos
	Owner uint32  `snap:"int,min=0,max=1048575"`           // Projectile.Owner
}

// NewRegistry returns the snapshot registry of the classic arena's entity types;
// host and clients must use the same one (RegistryFor for other maps).
func NewRegistry() *snapshot.Registry { return register(PlayerEntity{}, ProjectileEntity{}) }

// RegistryFor returns the registry of a map: NewRegistry's for the classic arena, the
// wide entity types (PlayerEntityWide, ProjectileEntityWide, same type IDs) for a
// larger map. The schemas differ, so a client must know the map before it connects
// (the arena's lobby room says, in its metadata).
func RegistryFor(m *Map) *snapshot.Registry {
	if m.orDefault().Tiles == 1 {
		return NewRegistry()
	}
	return register(PlayerEntityWide{}, ProjectileEntityWide{})
}

func register(player, projectile any) *snapshot.Registry {
	r := snapshot.NewRegistry()
	if _, err := r.Register(TypePlayer, player); err != nil {
		panic(fmt.Sprintf("game: player schema: %v", err)) // a bug in the tags above
	}
	if _, err := r.Register(TypeProjectile, projectile); err != nil {
		panic(fmt.Sprintf("game: projectile schema: %v", err))
	}
	return r
}

// isWide reports whether r is RegistryFor a large map.
func isWide(r *snapshot.Registry) bool {
	t := r.Type(TypePlayer)
	return t != nil && t.Name() == "PlayerEntityWide"
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
	wide := isWide(w.Registry())
	for _, p := range s.Players {
		id := PlayerEntityID(p.ID)
		e := p.Entity()
		var err error
		if wide {
			ew := PlayerEntityWide(e)
			err = w.Set(id, TypePlayer, &ew)
		} else {
			err = w.Set(id, TypePlayer, &e)
		}
		if err != nil {
			return fmt.Errorf("player %d: %w", p.ID, err)
		}
		ww.seen[id] = true
	}
	for _, pr := range s.Projectiles {
		id := ProjectileEntityID(pr.ID)
		e := ProjectileEntity{X: pr.Pos.X, Y: pr.Pos.Y, Owner: uint32(pr.Owner)}
		var err error
		if wide {
			ew := ProjectileEntityWide(e)
			err = w.Set(id, TypeProjectile, &ew)
		} else {
			err = w.Set(id, TypeProjectile, &e)
		}
		if err != nil {
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
	wide := isWide(reg)
	w.Range(func(id snapshot.EntityID, typ snapshot.TypeID, q []uint32) bool {
		switch typ {
		case TypePlayer:
			if e, ok := playerEntity(reg, wide, q); ok {
				v.Players = append(v.Players, PlayerFromEntity(PlayerID(id), e))
			}
		case TypeProjectile:
			var e ProjectileEntity
			var err error
			if wide {
				var ew ProjectileEntityWide
				err = reg.Type(TypeProjectile).Dequantize(q, &ew)
				e = ProjectileEntity(ew)
			} else {
				err = reg.Type(TypeProjectile).Dequantize(q, &e)
			}
			if err == nil {
				v.Projectiles = append(v.Projectiles, Projectile{
					ID: uint32(id) &^ projectileBase, Owner: PlayerID(e.Owner), Pos: Vec{e.X, e.Y},
				})
			}
		}
		return true
	})
}

// playerEntity dequantizes a player entity of either registry.
func playerEntity(reg *snapshot.Registry, wide bool, q []uint32) (PlayerEntity, bool) {
	t := reg.Type(TypePlayer)
	if wide {
		var ew PlayerEntityWide
		err := t.Dequantize(q, &ew)
		return PlayerEntity(ew), err == nil
	}
	var e PlayerEntity
	err := t.Dequantize(q, &e)
	return e, err == nil
}

// PlayerFromWorld returns player id as world w holds it, on either registry.
func PlayerFromWorld(w *snapshot.World, id PlayerID) (Player, bool) {
	typ, q, ok := w.Quantized(PlayerEntityID(id))
	if !ok || typ != TypePlayer {
		return Player{}, false
	}
	return PlayerFromQuantized(w.Registry(), id, q)
}

// PlayerPosFromQuantized reads a player entity's position, whether it is alive and its
// spawn counter (modulo 256) from its quantized values, on either registry, without
// the cost of dequantizing every field (the host's lag compensation asks often).
func PlayerPosFromQuantized(reg *snapshot.Registry, q []uint32) (pos Vec, alive bool, spawn int, ok bool) {
	t := reg.Type(TypePlayer)
	if t == nil || len(q) != t.NumFields() {
		return Vec{}, false, 0, false
	}
	f := t.Fields()
	// Field order of PlayerEntity: X, Y, Aim, Health, Kills, Deaths, Alive, Spawn, Respawn.
	x := f[0].Min + float64(q[0])*f[0].Prec
	y := f[1].Min + float64(q[1])*f[1].Prec
	return Vec{RoundPos(x), RoundPos(y)}, q[6] != 0, int(q[7]), true
}

// PlayerFromQuantized returns the player a player entity's quantized values describe,
// on either registry (e.g. from netcode.History.Quantized).
func PlayerFromQuantized(reg *snapshot.Registry, id PlayerID, q []uint32) (Player, bool) {
	e, ok := playerEntity(reg, isWide(reg), q)
	if !ok {
		return Player{}, false
	}
	return PlayerFromEntity(id, e), true
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
