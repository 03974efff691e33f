package netcode

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/volleynet/volley/snapshot"
)

// Interest decides which entities each client receives, and how urgently (interest
// management): set ServerConfig.Interest to a Grid (the ready-made "things near me"
// rule), to InterestFunc(f) (a per-client callback), or to your own implementation.
//
// A client receives an entity only while the rule says so. An entity that stops being
// relevant to a client is removed on that client like an entity gone from the world
// (the removal is repeated until acknowledged); one that becomes relevant arrives
// whole. Weights above 1 make an entity win more often when a send cannot carry
// everything (MaxPacketsPerSend, BytesPerSecond); see snapshot.Interest.
//
// The host calls Prepare once per send tick on its sending goroutine, with the copy of
// the world that tick's snapshots are encoded from, then Relevance once per client
// due, from the goroutines that encode (several at once, each for other clients).
// Both run beside the simulation: they must read only the world they are given and
// their own state, never the game's, unless they synchronize with it.
type Interest interface {
	// Prepare is called once per send tick, before any of its snapshots is
	// encoded, with the world they are encoded from (read-only; valid until
	// the tick's snapshots are encoded).
	Prepare(w *snapshot.World, tick uint32)
	// Relevance returns client c's rule for its snapshot of the prepared tick.
	// The returned value is used by the calling goroutine only, until that
	// snapshot is encoded; it may be reused by the next call for c.
	Relevance(c ClientID) snapshot.Interest
}

// RelevanceFunc is a per-client relevance callback: it returns 0 if client c must not
// receive entity id, otherwise the entity's priority weight (1 is normal; see
// snapshot.Interest.Weight for known and the weights). w is the world being encoded
// (read-only). It is called for every entity for every client due, concurrently for
// different clients: keep it cheap.
type RelevanceFunc func(c ClientID, w *snapshot.World, id snapshot.EntityID, typ snapshot.TypeID, q []uint32, known bool) uint32

// InterestFunc returns an Interest that asks f about every entity for every client.
func InterestFunc(f RelevanceFunc) Interest { return &funcInterest{f: f} }

type funcInterest struct {
	f       RelevanceFunc
	w       *snapshot.World
	clients perClient[funcClient]
}

type funcClient struct {
	f RelevanceFunc
	c ClientID
	w *snapshot.World
}

func (fc *funcClient) Weight(id snapshot.EntityID, typ snapshot.TypeID, q []uint32, known bool) uint32 {
	return fc.f(fc.c, fc.w, id, typ, q, known)
}

func (fi *funcInterest) Prepare(w *snapshot.World, tick uint32) {
	fi.w = w
	fi.clients.prepare(tick)
}

func (fi *funcInterest) Relevance(c ClientID) snapshot.Interest {
	fc := fi.clients.get(c)
	fc.f, fc.c, fc.w = fi.f, c, fi.w
	return fc
}

// perClient keeps one value per client for an Interest: values of clients not seen for
// perClientIdle ticks are dropped (their clients have left), so it stays bounded by
// the clients of the last few seconds. get is safe for concurrent use; prepare is
// called by the sending goroutine between sends.
type perClient[T any] struct {
	mu   sync.Mutex
	m    map[ClientID]*clientSlot[T]
	tick uint32
}

type clientSlot[T any] struct {
	v    T
	used uint32 // the last tick the value was handed out
}

// perClientIdle is how many ticks an Interest keeps a silent client's scratch state.
const perClientIdle = 600

func (p *perClient[T]) prepare(tick uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tick = tick
	if tick%64 != 0 {
		return
	}
	for c, s := range p.m {
		if serialDiff(tick, s.used) > perClientIdle {
			delete(p.m, c)
		}
	}
}

func (p *perClient[T]) get(c ClientID) *T {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.m[c]
	if s == nil {
		if p.m == nil {
			p.m = map[ClientID]*clientSlot[T]{}
		}
		s = new(clientSlot[T])
		p.m[c] = s
	}
	s.used = p.tick
	return &s.v
}

// GridConfig configures a Grid. Radius is required.
type GridConfig struct {
	// Radius: an entity whose position lies within Radius of a client's focus is
	// relevant to that client. Required.
	Radius float64
	// Leave is the distance beyond which an entity the client already holds
	// stops being relevant (at least Radius), so that an entity wandering along
	// the edge does not flicker in and out. Default 1.25 × Radius.
	Leave float64
	// CellSize is the side of the grid's square cells. Default Radius. A world
	// spanning more than 65,536 cells gets larger cells.
	CellSize float64
	// X and Y name the fields that hold an entity's position (float or int fields).
	// Entities of types without both are relevant to every client (a match clock,
	// a scoreboard). Defaults "X" and "Y".
	X, Y string
	// Focus returns the point client c sees from, reading the world being encoded.
	// Default: the position of entity ID c (the common layout where a client's
	// player entity has its client ID). A client without a focus receives only the
	// entities that have no position.
	Focus func(c ClientID, w *snapshot.World) (x, y float64, ok bool)
	// NearWeight is the priority weight of an entity at the focus; it falls
	// linearly to 1 at Radius (and is 1 beyond, up to Leave), so that when a send
	// cannot carry everything the nearest entities are updated most often.
	// Default 4; 1 weighs everything alike.
	NearWeight uint32
}

// Grid is the ready-made Interest for "things near me": a spatial hash over the
// entities' positions, rebuilt once per send tick, and per client the entities within
// Radius of its focus (Leave for those it already holds), weighted by distance.
// Preparing costs O(entities); a client's relevance O(entities near it) plus a sort.
type Grid struct {
	cfg GridConfig

	// Built by Prepare (sending goroutine), read-only while clients are encoded.
	w          *snapshot.World
	axes       [256]gridAxes
	minX, minY float64
	cell       float64
	nx, ny     int
	start      []int32    // items of cell k are items[start[k]:start[k+1]]
	items      []gridItem // by cell, then ID
	loose      []gridItem // positioned entities, in world order (scratch)
	global     []relItem  // entities without a position, by ID
	clients    perClient[gridClient]
}

type gridAxes struct {
	seen, ok bool
	x, y     snapshot.Field
	xi, yi   int
}

type gridItem struct {
	id   snapshot.EntityID
	x, y float64
	cell int32
}

type relItem struct {
	id        snapshot.EntityID
	weight    uint32
	knownOnly bool // between Radius and Leave: relevant only if the client holds it
}

type gridClient struct {
	list []relItem // by ID
	cur  int
}

func (gc *gridClient) Weight(id snapshot.EntityID, _ snapshot.TypeID, _ []uint32, known bool) uint32 {
	for gc.cur < len(gc.list) && gc.list[gc.cur].id < id {
		gc.cur++
	}
	if gc.cur == len(gc.list) || gc.list[gc.cur].id != id {
		return 0
	}
	it := gc.list[gc.cur]
	if it.knownOnly && !known {
		return 0
	}
	return it.weight
}

// maxGridCells bounds a Grid's cells.
const maxGridCells = 1 << 16

// NewGrid returns a Grid. It returns an error wrapping ErrConfig if Radius is not
// positive.
func NewGrid(cfg GridConfig) (*Grid, error) {
	if !(cfg.Radius > 0) || math.IsInf(cfg.Radius, 0) {
		return nil, fmt.Errorf("%w: GridConfig.Radius %v", ErrConfig, cfg.Radius)
	}
	if cfg.Leave < cfg.Radius {
		cfg.Leave = 1.25 * cfg.Radius
	}
	if !(cfg.CellSize > 0) {
		cfg.CellSize = cfg.Radius
	}
	if cfg.X == "" {
		cfg.X = "X"
	}
	if cfg.Y == "" {
		cfg.Y = "Y"
	}
	if cfg.NearWeight == 0 {
		cfg.NearWeight = 4
	}
	return &Grid{cfg: cfg}, nil
}

// axesOf returns how to read a position from entities of type typ, caching it. Only
// Prepare calls it: it fills the table for every type in the world before clients
// read it.
func (g *Grid) axesOf(reg *snapshot.Registry, typ snapshot.TypeID) *gridAxes {
	a := &g.axes[typ]
	if !a.seen {
		*a = readAxes(reg, typ, g.cfg.X, g.cfg.Y)
	}
	return a
}

// readAxes finds the position fields of type typ.
func readAxes(reg *snapshot.Registry, typ snapshot.TypeID, xname, yname string) gridAxes {
	a := gridAxes{seen: true, xi: -1, yi: -1}
	t := reg.Type(typ)
	if t == nil {
		return a
	}
	for i, f := range t.Fields() {
		if f.Kind != snapshot.KindFloat && f.Kind != snapshot.KindInt {
			continue
		}
		switch f.Name {
		case xname:
			a.xi, a.x = i, f
		case yname:
			a.yi, a.y = i, f
		}
	}
	a.ok = a.xi >= 0 && a.yi >= 0
	return a
}

func fieldValue(f *snapshot.Field, q uint32) float64 {
	if f.Kind == snapshot.KindFloat {
		return f.Min + float64(q)*f.Prec
	}
	return f.Min + float64(q)
}

// Position returns the position of an entity as the grid reads it, and whether it has
// one. It is meant for Focus functions and tests.
func (g *Grid) Position(w *snapshot.World, id snapshot.EntityID) (x, y float64, ok bool) {
	typ, q, found := w.Quantized(id)
	if !found {
		return 0, 0, false
	}
	a := &g.axes[typ]
	if !a.seen || w != g.w {
		// A world the grid has not prepared: read without caching.
		fresh := readAxes(w.Registry(), typ, g.cfg.X, g.cfg.Y)
		a = &fresh
	}
	if !a.ok {
		return 0, 0, false
	}
	return fieldValue(&a.x, q[a.xi]), fieldValue(&a.y, q[a.yi]), true
}

// Prepare indexes the world's positions (see Interest).
func (g *Grid) Prepare(w *snapshot.World, tick uint32) {
	g.w = w
	g.clients.prepare(tick)
	reg := w.Registry()
	g.loose = g.loose[:0]
	g.global = g.global[:0]
	minX, minY := math.Inf(1), math.Inf(1)
	maxX, maxY := math.Inf(-1), math.Inf(-1)
	w.Range(func(id snapshot.EntityID, typ snapshot.TypeID, q []uint32) bool {
		a := g.axesOf(reg, typ)
		if !a.ok {
			g.global = append(g.global, relItem{id: id, weight: 1})
			return true
		}
		x, y := fieldValue(&a.x, q[a.xi]), fieldValue(&a.y, q[a.yi])
		minX, minY = math.Min(minX, x), math.Min(minY, y)
		maxX, maxY = math.Max(maxX, x), math.Max(maxY, y)
		g.loose = append(g.loose, gridItem{id: id, x: x, y: y})
		return true
	})
	if len(g.loose) == 0 {
		g.nx, g.ny = 0, 0
		g.items = g.items[:0]
		return
	}
	cell := g.cfg.CellSize
	w0, h0 := maxX-minX, maxY-minY
	for (math.Floor(w0/cell)+1)*(math.Floor(h0/cell)+1) > maxGridCells {
		cell *= 2
	}
	g.cell, g.minX, g.minY = cell, minX, minY
	g.nx, g.ny = int(w0/cell)+1, int(h0/cell)+1
	cells := g.nx * g.ny
	if cap(g.start) < cells+1 {
		g.start = make([]int32, cells+1)
	}
	g.start = g.start[:cells+1]
	clear(g.start)
	for i := range g.loose {
		it := &g.loose[i]
		cx := min(int((it.x-minX)/cell), g.nx-1)
		cy := min(int((it.y-minY)/cell), g.ny-1)
		it.cell = int32(cy*g.nx + cx)
		g.start[it.cell+1]++
	}
	for k := 1; k <= cells; k++ {
		g.start[k] += g.start[k-1]
	}
	// A stable counting sort: each cell's items stay in ascending ID order.
	if cap(g.items) < len(g.loose) {
		g.items = make([]gridItem, len(g.loose))
	}
	g.items = g.items[:len(g.loose)]
	for _, it := range g.loose {
		k := it.cell
		g.items[g.start[k]] = it
		g.start[k]++
	}
	copy(g.start[1:], g.start[:cells])
	g.start[0] = 0
}

// focus returns client c's point of view.
func (g *Grid) focus(c ClientID) (float64, float64, bool) {
	if g.cfg.Focus != nil {
		return g.cfg.Focus(c, g.w)
	}
	return g.Position(g.w, snapshot.EntityID(c))
}

// Relevance lists the entities near client c's focus (see Interest).
func (g *Grid) Relevance(c ClientID) snapshot.Interest {
	gc := g.clients.get(c)
	gc.list, gc.cur = gc.list[:0], 0
	fx, fy, ok := g.focus(c)
	if ok && g.nx > 0 {
		r, leave := g.cfg.Radius, g.cfg.Leave
		x0 := max(int(math.Floor((fx-leave-g.minX)/g.cell)), 0)
		x1 := min(int(math.Floor((fx+leave-g.minX)/g.cell)), g.nx-1)
		y0 := max(int(math.Floor((fy-leave-g.minY)/g.cell)), 0)
		y1 := min(int(math.Floor((fy+leave-g.minY)/g.cell)), g.ny-1)
		near := float64(g.cfg.NearWeight - 1)
		for cy := y0; cy <= y1; cy++ {
			for cx := x0; cx <= x1; cx++ {
				k := cy*g.nx + cx
				for _, it := range g.items[g.start[k]:g.start[k+1]] {
					d := math.Hypot(it.x-fx, it.y-fy)
					if d > leave {
						continue
					}
					ri := relItem{id: it.id, weight: 1, knownOnly: d > r}
					if !ri.knownOnly {
						ri.weight = 1 + uint32(math.Round(near*(1-d/r)))
					}
					gc.list = append(gc.list, ri)
				}
			}
		}
	}
	gc.list = append(gc.list, g.global...)
	slices.SortFunc(gc.list, func(a, b relItem) int { return cmp.Compare(a.id, b.id) })
	return gc
}
