package game

import "math"

// Map is an arena's layout: its size, walls and spawn points. DefaultMap is the classic
// Width × Height arena; NewMap(n) tiles it n × n times into a large map for many
// players, where each client receives only what is near it (the host's interest
// management) and the browser client's camera follows the player.
type Map struct {
	// Tiles is how many times the classic arena repeats along each side.
	Tiles int
	// Width and Height are the map's size in units.
	Width, Height float64
	// Obstacles are the walls and pillars of every tile.
	Obstacles []Rect
	// SpawnPoints are where players appear, those of every tile.
	SpawnPoints []Vec
	// MaxPlayers and MaxProjectiles bound a State on this map.
	MaxPlayers, MaxProjectiles int

	near [][]Rect // per tile: the obstacles of the tile and its neighbours
}

// MaxTiles bounds NewMap: the wide snapshot schema (RegistryFor) holds positions of
// maps up to 16 × 16 tiles.
const MaxTiles = 16

// MaxMapPlayers bounds the players of any map: netcode's default MaxClients and the
// largest lobby room by default.
const MaxMapPlayers = 256

// DefaultMap is the classic arena: one tile.
var DefaultMap = NewMap(1)

// NewMap returns the classic arena repeated tiles × tiles times (clamped to
// 1..MaxTiles), with MaxPlayers players per tile up to MaxMapPlayers in all.
func NewMap(tiles int) *Map {
	tiles = min(max(tiles, 1), MaxTiles)
	m := &Map{
		Tiles:          tiles,
		Width:          Width * float64(tiles),
		Height:         Height * float64(tiles),
		MaxPlayers:     min(MaxPlayers*tiles*tiles, MaxMapPlayers),
		MaxProjectiles: MaxProjectiles * tiles * tiles,
	}
	at := func(tx, ty int) Vec { return Vec{X: Width * float64(tx), Y: Height * float64(ty)} }
	for ty := range tiles {
		for tx := range tiles {
			o := at(tx, ty)
			for _, r := range Obstacles {
				m.Obstacles = append(m.Obstacles, Rect{X: r.X + o.X, Y: r.Y + o.Y, W: r.W, H: r.H})
			}
			for _, s := range SpawnPoints {
				m.SpawnPoints = append(m.SpawnPoints, s.Add(o))
			}
		}
	}
	m.near = make([][]Rect, tiles*tiles)
	per := len(Obstacles)
	for ty := range tiles {
		for tx := range tiles {
			var list []Rect
			for ny := max(ty-1, 0); ny <= min(ty+1, tiles-1); ny++ {
				for nx := max(tx-1, 0); nx <= min(tx+1, tiles-1); nx++ {
					k := (ny*tiles + nx) * per
					list = append(list, m.Obstacles[k:k+per]...)
				}
			}
			m.near[ty*tiles+tx] = list
		}
	}
	return m
}

// orDefault returns m, or DefaultMap for a nil Map.
func (m *Map) orDefault() *Map {
	if m == nil {
		return DefaultMap
	}
	return m
}

// nearby returns the obstacles that a player, or a segment shorter than a tile's
// height, at p can touch: those of p's tile and its neighbours.
func (m *Map) nearby(p Vec) []Rect {
	if m.Tiles == 1 {
		return m.Obstacles
	}
	tx := min(max(int(p.X/Width), 0), m.Tiles-1)
	ty := min(max(int(p.Y/Height), 0), m.Tiles-1)
	return m.near[ty*m.Tiles+tx]
}

// Move moves a living player for dt seconds as in asks, sliding along the map's edges
// and obstacles, and sets its aim. Host and client prediction share it, which is what
// makes prediction exact.
func (m *Map) Move(p *Player, in Input, dt float64) {
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
		p.Pos.X = RoundPos(m.collideX(p.Pos, p.Pos.X+d.X))
	}
	if d.Y != 0 {
		p.Pos.Y = RoundPos(m.collideY(p.Pos, p.Pos.Y+d.Y))
	}
}

// collideX returns the x a player box at from can reach moving horizontally to x.
func (m *Map) collideX(from Vec, x float64) float64 {
	const r = PlayerRadius
	x = clamp(x, r, m.Width-r)
	for _, o := range m.nearby(from) {
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
func (m *Map) collideY(from Vec, y float64) float64 {
	const r = PlayerRadius
	y = clamp(y, r, m.Height-r)
	for _, o := range m.nearby(from) {
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

// LineOfSight reports whether the segment from a to b crosses no obstacle.
func (m *Map) LineOfSight(a, b Vec) bool {
	list := m.Obstacles
	if b.Sub(a).Len() < Height {
		list = m.nearby(a)
	}
	for _, o := range list {
		if _, ok := segmentRect(a, b, o); ok {
			return false
		}
	}
	return true
}

// Blocked reports whether a player standing at p would overlap an obstacle or leave
// the map.
func (m *Map) Blocked(p Vec) bool {
	const r = PlayerRadius
	if p.X < r || p.X > m.Width-r || p.Y < r || p.Y > m.Height-r {
		return true
	}
	for _, o := range m.nearby(p) {
		if p.X+r > o.X && p.X-r < o.X+o.W && p.Y+r > o.Y && p.Y-r < o.Y+o.H {
			return true
		}
	}
	return false
}

// Outside reports whether p lies off the map.
func (m *Map) Outside(p Vec) bool {
	return p.X < 0 || p.X > m.Width || p.Y < 0 || p.Y > m.Height
}

// Diagonal is the length of the map's diagonal.
func (m *Map) Diagonal() float64 { return math.Hypot(m.Width, m.Height) }
