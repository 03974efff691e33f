// Package game is the arena's game logic: a top-down arena where players move, aim and
// shoot projectiles around a few rectangular obstacles. It is pure and deterministic (no
// clocks, no I/O, no goroutines): the host calls [Step] once per tick with the inputs
// that arrived, and a client calls the same movement code ([Map.Move]) to predict its
// own player ahead of the host (with a netcode.Predictor, which replays the inputs the
// host has not applied yet on top of each snapshot's state).
//
// Coordinates are in arena units with the origin at the top-left corner, x to the right
// and y down (like a canvas). The classic arena ([DefaultMap]) is [Width] x [Height]
// units; [NewMap] tiles it into larger maps for many players.
//
// Shots are lag-compensated: a client stamps its inputs with the tick its screen
// showed, the host turns that into [Input.Lag], and the projectiles fired with it meet
// the other players where the shooter saw them ([State.PlayerAt]).
//
// Positions stay on a grid of [PosPrecision], the precision the snapshot carries them
// at (each tick's step is rounded to it, so a player moves 0.17 units per tick at 60 Hz),
// so a client that replays its inputs from a host position lands on exactly the
// position the host computes.
package game

import "math"

// The arena's identity in a lobby: its rooms carry this game name and version
// (lobby.RoomOptions.Game and GameVersion), and its clients quick-join only rooms that
// carry both, so that they never land in another game's room nor in an arena of an
// incompatible version.
const (
	LobbyGame    = "volley-arena"
	LobbyVersion = "1" // bump with any change to the inputs, events or snapshot schema
)

// LobbyVersionFor is the GameVersion of a room on map m: LobbyVersion on the classic
// arena, and LobbyVersion plus "-large" and the tiles on a large map, whose snapshot
// schema differs ("1-large4"), so that clients quick-joining the classic arena (the
// JavaScript page among them) never land there.
func LobbyVersionFor(m *Map) string {
	if t := m.orDefault().Tiles; t > 1 {
		return LobbyVersion + "-large" + itoa(uint64(t))
	}
	return LobbyVersion
}

// Arena dimensions and gameplay tuning.
const (
	Width  = 64.0 // arena width in units
	Height = 36.0 // arena height in units

	PlayerRadius     = 0.7  // player hit circle radius; also the half-size of its wall box
	PlayerSpeed      = 10.0 // units per second
	ProjectileSpeed  = 30.0 // units per second
	ProjectileLife   = 1.5  // seconds before a projectile expires
	ProjectileRadius = 0.2  // projectile radius, for hits against players
	FireCooldown     = 0.25 // seconds between two shots of one player
	MaxHealth        = 100
	HitDamage        = 25
	RespawnDelay     = 2.0 // seconds a dead player waits before respawning

	// PosPrecision is the grid positions are rounded to after each step; it matches
	// the snapshot's "prec=0.01" for positions.
	PosPrecision = 0.01

	// MaxPlayers bounds the players a State on the classic arena holds; AddPlayer
	// refuses more (Map.MaxPlayers on other maps).
	MaxPlayers = 64
	// MaxProjectiles bounds live projectiles on the classic arena; a shot beyond it
	// is not fired (Map.MaxProjectiles on other maps).
	MaxProjectiles = 512
	// MaxNameLen bounds a player's name in bytes; longer names are cut.
	MaxNameLen = 16
)

// PlayerID identifies a player for the whole match.
type PlayerID uint32

// Vec is a 2D vector in arena units.
type Vec struct{ X, Y float64 }

// Add returns v+w.
func (v Vec) Add(w Vec) Vec { return Vec{v.X + w.X, v.Y + w.Y} }

// Sub returns v-w.
func (v Vec) Sub(w Vec) Vec { return Vec{v.X - w.X, v.Y - w.Y} }

// Scale returns v*k.
func (v Vec) Scale(k float64) Vec { return Vec{v.X * k, v.Y * k} }

// Len returns the length of v.
func (v Vec) Len() float64 { return math.Hypot(v.X, v.Y) }

// Dot returns the dot product of v and w.
func (v Vec) Dot(w Vec) float64 { return float64(v.X*w.X) + float64(v.Y*w.Y) }

// Rect is an axis-aligned rectangle: X, Y is its top-left corner.
type Rect struct{ X, Y, W, H float64 }

// Contains reports whether p lies inside r (edges included).
func (r Rect) Contains(p Vec) bool {
	return p.X >= r.X && p.X <= r.X+r.W && p.Y >= r.Y && p.Y <= r.Y+r.H
}

// Obstacles are the arena's walls and pillars. Players and projectiles collide with them.
var Obstacles = []Rect{
	{X: 28, Y: 15, W: 8, H: 6},  // center block
	{X: 12, Y: 8, W: 4, H: 4},   // pillars
	{X: 48, Y: 8, W: 4, H: 4},   //
	{X: 12, Y: 24, W: 4, H: 4},  //
	{X: 48, Y: 24, W: 4, H: 4},  //
	{X: 22, Y: 0, W: 2, H: 9},   // walls reaching in from the edges
	{X: 40, Y: 27, W: 2, H: 9},  //
	{X: 0, Y: 17, W: 6, H: 2},   //
	{X: 58, Y: 17, W: 6, H: 2},  //
	{X: 30, Y: 6, W: 4, H: 1.5}, // bars above and below the center
	{X: 30, Y: 28.5, W: 4, H: 1.5},
}

// SpawnPoints are where players appear; a respawning player takes the one farthest
// from the living players.
var SpawnPoints = []Vec{
	{4, 4}, {60, 4}, {4, 32}, {60, 32}, {32, 3}, {32, 33}, {4, 13}, {60, 23},
}

// Player is one player's full state on the host (and, for the local player, in the
// client's prediction).
type Player struct {
	ID     PlayerID // unique in the match
	Name   string   // display name, at most MaxNameLen bytes
	Pos    Vec      // center, in arena units
	Aim    float64  // radians, 0 = +x, pi/2 = +y (down)
	Health int      // 0 to MaxHealth; 0 while dead
	Kills  int      // players this one killed
	Deaths int      // times this one died
	Alive  bool     // false between death and respawn
	// Spawn counts the player's (re)spawns; a change tells clients not to interpolate
	// across the teleport.
	Spawn int
	// RespawnIn is the time left before a dead player respawns, in seconds.
	RespawnIn float64
	// Cooldown is the time left before the player may fire again, in seconds.
	Cooldown float64
	// LastInput is the sequence number of the last input applied to this player; the
	// client reconciles its prediction from it.
	LastInput uint32
}

// Projectile is a shot in flight.
type Projectile struct {
	ID    uint32   // unique in the match, never 0
	Owner PlayerID // the shooter, who cannot hit itself
	Pos   Vec      // position, in arena units
	Vel   Vec      // velocity, in arena units per second
	Life  float64  // seconds left
	// Lag is the shooter's Input.Lag when it fired: the projectile meets the other
	// players where they were Lag ticks earlier (State.PlayerAt).
	Lag float64
}

// State is the whole match state. The zero value is an empty arena; use AddPlayer to
// add players. Players are kept sorted by ID so every iteration is deterministic.
type State struct {
	Tick uint64 // steps run so far
	// Map is the arena's layout. Default (nil): DefaultMap.
	Map *Map
	// PlayerAt, if set, says where player id was ticksAgo ticks before the tick
	// being stepped, and whether it was alive then in its current life: lag
	// compensation for projectiles fired with Input.Lag. The host answers from its
	// netcode.History. Default nil: shots meet players where they are.
	PlayerAt    func(id PlayerID, ticksAgo float64) (Vec, bool)
	Players     []*Player    // sorted by ID
	Projectiles []Projectile // in flight, in firing order
	// NextProjectileID numbers projectiles; 0 is never used.
	NextProjectileID uint32
	// Seed drives the (deterministic) tie-breaking of spawn points.
	Seed uint64
}

// Player returns the player with the given id, or nil.
func (s *State) Player(id PlayerID) *Player {
	i, ok := s.find(id)
	if !ok {
		return nil
	}
	return s.Players[i]
}

func (s *State) find(id PlayerID) (int, bool) {
	lo, hi := 0, len(s.Players)
	for lo < hi {
		m := (lo + hi) / 2
		if s.Players[m].ID < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo, lo < len(s.Players) && s.Players[lo].ID == id
}

// AddPlayer adds a player and spawns it. It returns nil if the id is taken or the
// arena is full.
func (s *State) AddPlayer(id PlayerID, name string) *Player {
	i, ok := s.find(id)
	if ok || len(s.Players) >= s.Map.orDefault().MaxPlayers {
		return nil
	}
	p := &Player{ID: id, Name: CleanName(name, id)}
	s.Players = append(s.Players, nil)
	copy(s.Players[i+1:], s.Players[i:])
	s.Players[i] = p
	s.spawn(p)
	return p
}

// RemovePlayer removes a player and its projectiles. It reports whether it existed.
func (s *State) RemovePlayer(id PlayerID) bool {
	i, ok := s.find(id)
	if !ok {
		return false
	}
	s.Players = append(s.Players[:i], s.Players[i+1:]...)
	kept := s.Projectiles[:0]
	for _, pr := range s.Projectiles {
		if pr.Owner != id {
			kept = append(kept, pr)
		}
	}
	s.Projectiles = kept
	return true
}

// CleanName trims a player name to printable runes and MaxNameLen bytes; an empty
// result becomes "player<id>".
func CleanName(name string, id PlayerID) string {
	out := make([]rune, 0, len(name))
	n := 0
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			continue
		}
		l := len(string(r))
		if n+l > MaxNameLen {
			break
		}
		n += l
		out = append(out, r)
	}
	if len(out) == 0 {
		return "player" + itoa(uint64(id))
	}
	return string(out)
}

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return string(b[i:])
}

// rand returns the next value of the state's xorshift generator.
func (s *State) rand() uint64 {
	if s.Seed == 0 {
		s.Seed = 0x9e3779b97f4a7c15
	}
	x := s.Seed
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	s.Seed = x
	return x
}

// spawn places p at the spawn point farthest from the other living players.
func (s *State) spawn(p *Player) {
	points := s.Map.orDefault().SpawnPoints
	best, bestD := 0, -1.0
	start := int(s.rand() % uint64(len(points)))
	for k := range points {
		i := (start + k) % len(points)
		d := math.Inf(1)
		for _, o := range s.Players {
			if o == p || !o.Alive {
				continue
			}
			d = math.Min(d, o.Pos.Sub(points[i]).Len())
		}
		if d > bestD {
			best, bestD = i, d
		}
	}
	p.Pos = points[best]
	p.Health = MaxHealth
	p.Alive = true
	p.RespawnIn = 0
	p.Cooldown = 0
	p.Spawn++
}

// Clone returns a deep copy of s.
func (s *State) Clone() *State {
	c := *s
	c.Players = make([]*Player, len(s.Players))
	for i, p := range s.Players {
		cp := *p
		c.Players[i] = &cp
	}
	c.Projectiles = append([]Projectile(nil), s.Projectiles...)
	return &c
}
