package game

import "math"

// Buttons held in an Input.
const (
	ButtonUp uint8 = 1 << iota
	ButtonDown
	ButtonLeft
	ButtonRight
	ButtonFire
)

// MaxInputRepeat is how many ticks in a row a host plays a player's previous input
// again when the player's input for a tick is missing (lost or late); after that the
// player stands still until inputs arrive. Clients predict the same, so a short gap
// costs no misprediction and a backgrounded tab does not keep walking.
const MaxInputRepeat = 8

// Input is what one player does during one tick.
type Input struct {
	// Seq numbers the player's inputs, one per client tick, starting at 1.
	Seq uint32
	// Buttons are the buttons held (ButtonUp, ButtonFire, ...), ORed together.
	Buttons uint8
	// Aim is the aim angle in radians; it travels quantized to 16 bits (QuantizeAim).
	Aim float64
}

// Held reports whether button b is held.
func (in Input) Held(b uint8) bool { return in.Buttons&b != 0 }

// Direction returns the unit movement direction the buttons ask for (zero if none).
func (in Input) Direction() Vec {
	var d Vec
	if in.Held(ButtonLeft) {
		d.X--
	}
	if in.Held(ButtonRight) {
		d.X++
	}
	if in.Held(ButtonUp) {
		d.Y--
	}
	if in.Held(ButtonDown) {
		d.Y++
	}
	if d.X != 0 && d.Y != 0 {
		d = d.Scale(math.Sqrt2 / 2)
	}
	return d
}

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	EventHit     EventKind = iota + 1 // Victim lost HitDamage health to Attacker's shot
	EventKill                         // Attacker's shot killed Victim
	EventRespawn                      // Victim respawned
)

// Event is something that happened during a Step, for kill feeds and sounds.
type Event struct {
	Kind     EventKind // what happened
	Attacker PlayerID  // the shooter, for hits and kills
	Victim   PlayerID  // the player hit, killed or respawned
}

// RoundPos rounds v to the PosPrecision grid.
func RoundPos(v float64) float64 { return math.Round(v/PosPrecision) * PosPrecision }

// MovePlayer moves a living player for dt seconds as in asks, sliding along the arena
// edges and obstacles, and sets its aim. Host and client prediction share it, which
// is what makes prediction exact.
func MovePlayer(p *Player, in Input, dt float64) {
	if !p.Alive {
		return
	}
	p.Aim = in.Aim
	// The step itself is on the position grid, so positions stay on it and a player
	// moves the same distance every tick (PlayerSpeed rounded to the grid per tick).
	d := in.Direction().Scale(PlayerSpeed * dt)
	d = Vec{RoundPos(d.X), RoundPos(d.Y)}
	// Axis-separated moves: sliding along a wall keeps the other axis' motion.
	if d.X != 0 {
		p.Pos.X = RoundPos(collideX(p.Pos, p.Pos.X+d.X))
	}
	if d.Y != 0 {
		p.Pos.Y = RoundPos(collideY(p.Pos, p.Pos.Y+d.Y))
	}
}

// collideX returns the x a player box at from can reach moving horizontally to x.
func collideX(from Vec, x float64) float64 {
	const r = PlayerRadius
	x = clamp(x, r, Width-r)
	for _, o := range Obstacles {
		if from.Y+r <= o.Y+eps || from.Y-r >= o.Y+o.H-eps {
			continue // not in this obstacle's horizontal band
		}
		if x > from.X && from.X+r <= o.X+eps && x+r > o.X {
			x = o.X - r
		} else if x < from.X && from.X-r >= o.X+o.W-eps && x-r < o.X+o.W {
			x = o.X + o.W + r
		}
	}
	return x
}

// collideY returns the y a player box at from can reach moving vertically to y.
func collideY(from Vec, y float64) float64 {
	const r = PlayerRadius
	y = clamp(y, r, Height-r)
	for _, o := range Obstacles {
		if from.X+r <= o.X+eps || from.X-r >= o.X+o.W-eps {
			continue
		}
		if y > from.Y && from.Y+r <= o.Y+eps && y+r > o.Y {
			y = o.Y - r
		} else if y < from.Y && from.Y-r >= o.Y+o.H-eps && y-r < o.Y+o.H {
			y = o.Y + o.H + r
		}
	}
	return y
}

// eps absorbs the rounding of positions to PosPrecision in the contact tests.
const eps = 1e-6

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// Step advances the match by dt seconds: it applies each player's input (a player
// without one stands still), fires, moves projectiles, applies hits and kills, and
// respawns the dead whose delay is over. It appends what happened to events and
// returns it.
func Step(s *State, inputs map[PlayerID]Input, dt float64, events []Event) []Event {
	s.Tick++
	for _, p := range s.Players {
		in, ok := inputs[p.ID]
		if ok && in.Seq > p.LastInput {
			p.LastInput = in.Seq
		}
		if !p.Alive {
			p.RespawnIn -= dt
			if p.RespawnIn <= 0 {
				s.spawn(p)
				events = append(events, Event{Kind: EventRespawn, Victim: p.ID})
			}
			continue
		}
		if !ok {
			p.Cooldown = math.Max(0, p.Cooldown-dt)
			continue
		}
		MovePlayer(p, in, dt)
		p.Cooldown = math.Max(0, p.Cooldown-dt)
		if in.Held(ButtonFire) && p.Cooldown == 0 && len(s.Projectiles) < MaxProjectiles {
			p.Cooldown = FireCooldown
			dir := Vec{math.Cos(p.Aim), math.Sin(p.Aim)}
			s.NextProjectileID++
			if s.NextProjectileID == 0 {
				s.NextProjectileID++
			}
			s.Projectiles = append(s.Projectiles, Projectile{
				ID:    s.NextProjectileID,
				Owner: p.ID,
				Pos:   p.Pos.Add(dir.Scale(PlayerRadius + ProjectileRadius)),
				Vel:   dir.Scale(ProjectileSpeed),
				Life:  ProjectileLife,
			})
		}
	}
	kept := s.Projectiles[:0]
	for _, pr := range s.Projectiles {
		var hit bool
		pr, hit, events = s.moveProjectile(pr, dt, events)
		if !hit {
			kept = append(kept, pr)
		}
	}
	s.Projectiles = kept
	return events
}

// moveProjectile moves pr by dt and reports whether it ended (hit something or expired).
func (s *State) moveProjectile(pr Projectile, dt float64, events []Event) (Projectile, bool, []Event) {
	pr.Life -= dt
	to := pr.Pos.Add(pr.Vel.Scale(dt))
	// The first thing the segment pr.Pos→to touches wins: a player or an obstacle.
	bestT := 2.0
	var victim *Player
	for _, p := range s.Players {
		if !p.Alive || p.ID == pr.Owner {
			continue
		}
		if t, ok := segmentCircle(pr.Pos, to, p.Pos, PlayerRadius+ProjectileRadius); ok && t < bestT {
			bestT, victim = t, p
		}
	}
	for _, o := range Obstacles {
		if t, ok := segmentRect(pr.Pos, to, o); ok && t < bestT {
			bestT, victim = t, nil
		}
	}
	if bestT <= 1 {
		if victim != nil {
			victim.Health -= HitDamage
			events = append(events, Event{Kind: EventHit, Attacker: pr.Owner, Victim: victim.ID})
			if victim.Health <= 0 {
				victim.Health = 0
				victim.Alive = false
				victim.Deaths++
				victim.RespawnIn = RespawnDelay
				if killer := s.Player(pr.Owner); killer != nil {
					killer.Kills++
				}
				events = append(events, Event{Kind: EventKill, Attacker: pr.Owner, Victim: victim.ID})
			}
		}
		return pr, true, events
	}
	pr.Pos = to
	out := to.X < 0 || to.X > Width || to.Y < 0 || to.Y > Height
	return pr, pr.Life <= 0 || out, events
}

// segmentCircle returns the first t in [0,1] at which a+t(b-a) is within r of c.
func segmentCircle(a, b, c Vec, r float64) (float64, bool) {
	d := b.Sub(a)
	f := a.Sub(c)
	A := d.Dot(d)
	C := f.Dot(f) - r*r
	if C <= 0 {
		return 0, true // starts inside
	}
	if A == 0 {
		return 0, false
	}
	B := 2 * f.Dot(d)
	disc := B*B - 4*A*C
	if disc < 0 {
		return 0, false
	}
	t := (-B - math.Sqrt(disc)) / (2 * A)
	return t, t >= 0 && t <= 1
}

// segmentRect returns the first t in [0,1] at which a+t(b-a) enters r (slab method).
func segmentRect(a, b Vec, r Rect) (float64, bool) {
	tmin, tmax := 0.0, 1.0
	d := b.Sub(a)
	for axis := 0; axis < 2; axis++ {
		p, v, lo, hi := a.X, d.X, r.X, r.X+r.W
		if axis == 1 {
			p, v, lo, hi = a.Y, d.Y, r.Y, r.Y+r.H
		}
		if v == 0 {
			if p < lo || p > hi {
				return 0, false
			}
			continue
		}
		t1, t2 := (lo-p)/v, (hi-p)/v
		if t1 > t2 {
			t1, t2 = t2, t1
		}
		tmin, tmax = math.Max(tmin, t1), math.Min(tmax, t2)
		if tmin > tmax {
			return 0, false
		}
	}
	return tmin, true
}

// LineOfSight reports whether the segment from a to b crosses no obstacle.
func LineOfSight(a, b Vec) bool {
	for _, o := range Obstacles {
		if _, ok := segmentRect(a, b, o); ok {
			return false
		}
	}
	return true
}

// Blocked reports whether a player standing at p would overlap an obstacle or leave
// the arena.
func Blocked(p Vec) bool {
	const r = PlayerRadius
	if p.X < r || p.X > Width-r || p.Y < r || p.Y > Height-r {
		return true
	}
	for _, o := range Obstacles {
		if p.X+r > o.X && p.X-r < o.X+o.W && p.Y+r > o.Y && p.Y-r < o.Y+o.H {
			return true
		}
	}
	return false
}
