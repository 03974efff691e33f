// Package bot is the arena's computer player: a Brain that wanders, aims at the nearest
// visible enemy and shoots; Play, which plays one as a real netcode client over its own
// WebRTC connection; and Swarm, a group of them that join a lobby room and reconnect.
package bot

import (
	"math"
	"math/rand/v2"

	"github.com/volleynet/volley/examples/arena/game"
)

// Brain decides a bot's input from what it sees. It is deterministic for a given
// seed. One goroutine owns it.
type Brain struct {
	// Map is the map the bot plays on. Default (nil): game.DefaultMap.
	Map       *game.Map
	rng       *rand.Rand
	target    game.Vec
	hasTarget bool
	// untilNew counts down to picking a new wander target, in seconds.
	untilNew float64
	lastPos  game.Vec
	stuck    float64
	aimNoise float64
	noiseFor float64
}

// NewBrain returns a Brain whose choices follow seed.
func NewBrain(seed uint64) *Brain {
	return &Brain{rng: rand.New(rand.NewPCG(seed, seed^0x5bd1e995))}
}

// Sight is how far a bot notices enemies; Range is how far it shoots.
const (
	Sight = 28.0
	Range = 20.0
)

// Think returns the buttons and aim for the next dt seconds, given the bot's own
// player and everyone it sees (itself included is fine).
func (b *Brain) Think(self game.Player, players []game.Player, dt float64) (buttons uint8, aim float64) {
	if !self.Alive {
		b.hasTarget = false
		return 0, self.Aim
	}
	// Wander: a random free point, replaced when reached, after a while, or when stuck.
	b.untilNew -= dt
	if self.Pos.Sub(b.lastPos).Len() < stuckSpeed*dt {
		b.stuck += dt
	} else {
		b.stuck = 0
	}
	b.lastPos = self.Pos
	if !b.hasTarget || b.untilNew <= 0 || b.stuck > 0.4 || self.Pos.Sub(b.target).Len() < 1.5 {
		b.pickTarget()
	}
	d := b.target.Sub(self.Pos)
	if d.X > 0.3 {
		buttons |= game.ButtonRight
	} else if d.X < -0.3 {
		buttons |= game.ButtonLeft
	}
	if d.Y > 0.3 {
		buttons |= game.ButtonDown
	} else if d.Y < -0.3 {
		buttons |= game.ButtonUp
	}

	// Aim at the nearest enemy in sight, with some wobble; shoot when in range.
	b.noiseFor -= dt
	if b.noiseFor <= 0 {
		b.aimNoise = (b.rng.Float64() - 0.5) * 0.25
		b.noiseFor = 0.3 + b.rng.Float64()*0.4
	}
	aim = self.Aim
	best := math.Inf(1)
	for _, p := range players {
		if p.ID == self.ID || !p.Alive {
			continue
		}
		dist := p.Pos.Sub(self.Pos).Len()
		if dist < best && dist < Sight && b.mapOrDefault().LineOfSight(self.Pos, p.Pos) {
			best = dist
			v := p.Pos.Sub(self.Pos)
			aim = math.Atan2(v.Y, v.X) + b.aimNoise
		}
	}
	if best < Range {
		buttons |= game.ButtonFire
	}
	return buttons, aim
}

// stuckSpeed is the speed below which a wandering bot counts as stuck.
const stuckSpeed = game.PlayerSpeed * 0.2

func (b *Brain) mapOrDefault() *game.Map {
	if b.Map == nil {
		return game.DefaultMap
	}
	return b.Map
}

func (b *Brain) pickTarget() {
	m := b.mapOrDefault()
	for range 32 {
		p := game.Vec{X: 2 + b.rng.Float64()*(game.Width-4), Y: 2 + b.rng.Float64()*(game.Height-4)}
		if m.Tiles > 1 {
			// Wander within a classic arena's reach of where it is, so that a
			// bot on a large map roams a neighbourhood.
			p = p.Add(b.lastPos).Sub(game.Vec{X: game.Width / 2, Y: game.Height / 2})
		}
		if !m.Blocked(p) {
			b.target = p
			break
		}
	}
	b.hasTarget = true
	b.untilNew = 3 + b.rng.Float64()*3
	b.stuck = 0
}
