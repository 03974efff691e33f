// Package arenatrace generates a deterministic arena-like game trace for benchmarks: players
// steering around a square arena, firing projectiles that fly, hit and expire, players
// dying and respawning elsewhere. The same Config always yields the same trace.
//
// The state structs carry `snap` tags for the snapshot codec and `msgpack` tags for the
// full-state baseline, but this package imports only the standard library.
package arenatrace

import (
	"math"
	"math/rand/v2"
)

// Rates of the simulated game.
const (
	TickRate = 60 // simulation steps per second
	SendRate = 30 // snapshots per second
)

// Entity type IDs for the snapshot registry.
const (
	PlayerType     = 1
	ProjectileType = 2
)

// Player is a replicated player. ID is not replicated as a field (it is the entity ID).
type Player struct {
	ID     uint32  `snap:"-" msgpack:"id"`                            // 1 to Config.Players
	X      float32 `snap:"float,min=0,max=200,prec=0.01" msgpack:"x"` // position
	Y      float32 `snap:"float,min=0,max=200,prec=0.01" msgpack:"y"` // position
	Angle  float32 `snap:"angle,bits=10" msgpack:"angle"`             // heading, radians
	Health int     `snap:"int,min=0,max=100" msgpack:"health"`        // 0 to 100
	Score  int     `snap:"int,min=0,max=1023" msgpack:"score"`        // kills
	Alive  bool    `snap:"bool,teleport" msgpack:"alive"`             // a change is a teleport (death, respawn)
}

// Projectile is a replicated projectile.
type Projectile struct {
	ID    uint32  `snap:"-" msgpack:"id"`                            // unique, never reused
	X     float32 `snap:"float,min=0,max=200,prec=0.01" msgpack:"x"` // position
	Y     float32 `snap:"float,min=0,max=200,prec=0.01" msgpack:"y"` // position
	Angle float32 `snap:"angle,bits=8" msgpack:"angle"`              // direction of flight, radians
	Owner int     `snap:"int,min=0,max=255" msgpack:"owner"`         // the shooter's ID
}

// State is the whole replicated state (the msgpack baseline marshals this).
type State struct {
	Tick        uint32       `msgpack:"tick"`        // simulation steps so far
	Players     []Player     `msgpack:"players"`     // sorted by ID
	Projectiles []Projectile `msgpack:"projectiles"` // in flight
}

// Config configures a Sim. The zero value works.
type Config struct {
	Players int     // default 64, at most 1023 (the snap tags hold owners up to 255: more players need wider tags)
	Seed    uint64  // default 1
	Size    float64 // arena side in units, default 200 (the snap tags assume 200)
}

// Sim is the simulation. Not safe for concurrent use.
type Sim struct {
	cfg    Config
	rng    *rand.Rand
	tick   uint32
	nextID uint32
	st     State
	ps     []player
	prj    []projectile
}

type player struct {
	x, y, heading, turn float64
	dead                int // ticks until respawn
}

type projectile struct {
	x, y, vx, vy float64
	life         int
}

// Tuning.
const (
	playerSpeed  = 8.0 // units per second
	maxTurn      = 2.5 // rad per second
	shotChance   = 1.0 / 90
	shotSpeed    = 30.0 // units per second
	shotLife     = 72   // ticks
	hitRadius    = 1.5
	damage       = 25
	respawnTicks = 2 * TickRate
	firstShotID  = 1000
)

// New returns a simulation at tick 0 with every player alive at a random position.
func New(cfg Config) *Sim {
	if cfg.Players <= 0 {
		cfg.Players = 64
	}
	cfg.Players = min(cfg.Players, 1023)
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.Size <= 0 {
		cfg.Size = 200
	}
	s := &Sim{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), nextID: firstShotID}
	s.ps = make([]player, cfg.Players)
	s.st.Players = make([]Player, cfg.Players)
	for i := range s.ps {
		s.spawn(i)
		s.st.Players[i] = Player{ID: uint32(i + 1), Health: 100, Alive: true}
	}
	s.publish()
	return s
}

func (s *Sim) spawn(i int) {
	p := &s.ps[i]
	m := 10.0
	p.x = m + s.rng.Float64()*(s.cfg.Size-2*m)
	p.y = m + s.rng.Float64()*(s.cfg.Size-2*m)
	p.heading = s.rng.Float64() * 2 * math.Pi
	p.turn = 0
	p.dead = 0
}

// Tick returns the current tick.
func (s *Sim) Tick() uint32 { return s.tick }

// State returns the current state. It is owned by the Sim and valid until the next Step.
func (s *Sim) State() *State { return &s.st }

// Step advances the simulation by one tick.
func (s *Sim) Step() {
	s.tick++
	dt := 1.0 / TickRate
	size := s.cfg.Size
	for i := range s.ps {
		p, pub := &s.ps[i], &s.st.Players[i]
		if p.dead > 0 {
			p.dead--
			if p.dead == 0 {
				s.spawn(i)
				pub.Alive, pub.Health = true, 100
			}
			continue
		}
		// Steering: a random walk of the turn rate, pulled toward the centre near walls.
		p.turn += (s.rng.Float64()*2 - 1) * 0.3
		if p.x < 15 || p.y < 15 || p.x > size-15 || p.y > size-15 {
			want := math.Atan2(size/2-p.y, size/2-p.x)
			diff := math.Remainder(want-p.heading, 2*math.Pi)
			p.turn = math.Copysign(maxTurn, diff)
		}
		p.turn = max(-maxTurn, min(maxTurn, p.turn))
		p.heading = math.Mod(p.heading+p.turn*dt+2*math.Pi, 2*math.Pi)
		p.x = max(0, min(size, p.x+math.Cos(p.heading)*playerSpeed*dt))
		p.y = max(0, min(size, p.y+math.Sin(p.heading)*playerSpeed*dt))
		if s.rng.Float64() < shotChance {
			s.prj = append(s.prj, projectile{
				x: p.x, y: p.y, life: shotLife,
				vx: math.Cos(p.heading) * shotSpeed, vy: math.Sin(p.heading) * shotSpeed,
			})
			s.st.Projectiles = append(s.st.Projectiles, Projectile{ID: s.nextID, Angle: float32(p.heading), Owner: i + 1})
			s.nextID++
		}
	}
	// Projectiles fly, expire, leave the arena or hit a player.
	j := 0
	for i := range s.prj {
		q := &s.prj[i]
		q.x += q.vx * dt
		q.y += q.vy * dt
		q.life--
		alive := q.life > 0 && q.x >= 0 && q.y >= 0 && q.x <= size && q.y <= size
		owner := s.st.Projectiles[i].Owner
		if alive {
			for k := range s.ps {
				t := &s.ps[k]
				if k+1 == owner || t.dead > 0 || math.Abs(t.x-q.x) > hitRadius || math.Abs(t.y-q.y) > hitRadius {
					continue
				}
				alive = false
				pub := &s.st.Players[k]
				pub.Health -= damage
				if pub.Health <= 0 {
					pub.Health, pub.Alive = 0, false
					t.dead = respawnTicks
					if sc := &s.st.Players[owner-1].Score; *sc < 1023 {
						*sc++
					}
				}
				break
			}
		}
		if alive {
			s.prj[j] = *q
			s.st.Projectiles[j] = s.st.Projectiles[i]
			j++
		}
	}
	s.prj = s.prj[:j]
	s.st.Projectiles = s.st.Projectiles[:j]
	s.publish()
}

// publish copies positions into the replicated state.
func (s *Sim) publish() {
	s.st.Tick = s.tick
	for i := range s.ps {
		p, pub := &s.ps[i], &s.st.Players[i]
		pub.X, pub.Y, pub.Angle = float32(p.x), float32(p.y), float32(p.heading)
	}
	for i := range s.prj {
		q, pub := &s.prj[i], &s.st.Projectiles[i]
		pub.X, pub.Y = float32(q.x), float32(q.y)
	}
}
