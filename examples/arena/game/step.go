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
	// Lag is how many ticks behind the host the player's screen was when it sent
	// this input (lag compensation, set by the host from the input's view stamp):
	// its shots meet the other players where it saw them. 0: where they are.
	Lag float64
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

// MovePlayer moves a living player on the classic arena (DefaultMap.Move).
func MovePlayer(p *Player, in Input, dt float64) { DefaultMap.Move(p, in, dt) }

// eps absorbs the rounding of positions to PosPrecision in the contact tests.
const eps = 1e-6

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// Step advances the match by dt seconds: it applies each player's input (a player
// without one stands still), fires, moves projectiles, applies hits and kills, and
// respawns the dead whose delay is over. It appends what happened to events and
// returns it.
func Step(s *State, inputs map[PlayerID]Input, dt float64, events []Event) []Event {
	s.Tick++
	m := s.Map.orDefault()
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
		m.Move(p, in, dt)
		p.Cooldown = math.Max(0, p.Cooldown-dt)
		if in.Held(ButtonFire) && p.Cooldown == 0 && len(s.Projectiles) < m.MaxProjectiles {
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
				Lag:   in.Lag,
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
	// A lag-compensated shot meets the players where its shooter saw them.
	m := s.Map.orDefault()
	bestT := 2.0
	var victim *Player
	// Players farther than reach cannot be touched this tick, not even where the
	// shooter saw them Lag ticks ago: skip them before anything costly.
	reach := pr.Vel.Len()*dt + PlayerRadius + ProjectileRadius + PlayerSpeed*dt*pr.Lag + eps
	for _, p := range s.Players {
		if !p.Alive || p.ID == pr.Owner {
			continue
		}
		if d := p.Pos.Sub(pr.Pos); math.Abs(d.X) > reach || math.Abs(d.Y) > reach {
			continue
		}
		at := p.Pos
		if pr.Lag > 0 && s.PlayerAt != nil {
			var seen bool
			if at, seen = s.PlayerAt(p.ID, pr.Lag); !seen {
				continue // the shooter did not see it alive (or saw an earlier life)
			}
		}
		if t, ok := segmentCircle(pr.Pos, to, at, PlayerRadius+ProjectileRadius); ok && t < bestT {
			bestT, victim = t, p
		}
	}
	for _, o := range m.nearby(pr.Pos) {
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
	return pr, pr.Life <= 0 || m.Outside(to), events
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

// LineOfSight reports whether the segment from a to b crosses no obstacle of the
// classic arena (DefaultMap.LineOfSight).
func LineOfSight(a, b Vec) bool { return DefaultMap.LineOfSight(a, b) }

// Blocked reports whether a player standing at p would overlap an obstacle of the
// classic arena or leave it (DefaultMap.Blocked).
func Blocked(p Vec) bool { return DefaultMap.Blocked(p) }

// Correction is how a client shows a correction of its predicted player (the
// Correction of a netcode.Predictor): the jump from before to after, glided over
// unless the player respawned, died, or jumped more than MaxGlide units.
func Correction(before, after *Player) (Vec, bool) {
	d := before.Pos.Sub(after.Pos)
	return d, before.Spawn == after.Spawn && after.Alive && d.Len() <= MaxGlide
}

// MaxGlide is the longest correction a client glides over rather than shows at once.
const MaxGlide = 3.0
