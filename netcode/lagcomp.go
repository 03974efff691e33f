package netcode

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/volleynet/volley/snapshot"
)

// LagCompensation configures the host's history of the world (ServerConfig.LagCompensation),
// with which a game judges an action against what the acting client saw: a client
// renders the world InterpolationDelay behind the host, and its inputs reach the host
// about RTT/2 later still, so a player who aims exactly at a moving target on screen
// misses it by (RTT/2 + input margin + interpolation delay) × its speed when the host
// judges the shot against its present. With a history the host rewinds the target to
// the tick the shooter's screen showed (the client stamps it into its input: AppendView,
// ReadView) and judges there.
type LagCompensation struct {
	// Enabled keeps the history and sets Tick.History. Default false: no history.
	Enabled bool
	// MaxRewind caps how far before the current tick a rewind reaches (History.Clamp),
	// so that a laggy or lying client cannot act in the distant past; a rewind beyond
	// it is clamped and counted (HostTotals.RewindsClamped). It also sets how many
	// ticks the history keeps. Default 500 ms. A rewind spans the client's input lead
	// (RTT/2, the input margin and twice the jitter) and its interpolation delay
	// (two send intervals and twice the jitter): `go run ./bench lagcomp` measured
	// about 90 ms on a perfect network, 240 ms at 150 ms RTT with 20 ms jitter and
	// 500 ms at 250 ms RTT with 30 ms jitter, where a third of the rewinds were
	// clamped and those shots missed a moving target.
	MaxRewind time.Duration
	// Types, if set, limits the history to entities of these types (e.g. only the
	// players that shots can hit), which saves memory and copying. Default: all.
	Types []snapshot.TypeID
}

// DefaultMaxRewind is LagCompensation.MaxRewind's default.
const DefaultMaxRewind = 500 * time.Millisecond

// History is a bounded record of the world at the most recent ticks, for lag
// compensation: where was entity E at the (fractional) tick client C saw? It keeps
// MaxRewind worth of ticks plus two, each a copy of the world (or of the entities of
// LagCompensation.Types) as the tick left it, and samples between ticks exactly as
// Client.Interpolate blends snapshots. A host with LagCompensation.Enabled records
// every tick after Step and hands its History to Step as Tick.History; a game may
// also keep its own (NewHistory, Record).
//
// One goroutine owns a History (the tick goroutine, for Tick.History); only
// RewindsClamped may be read from others. Recording allocates nothing once the
// history has filled with worlds of the usual size.
type History struct {
	reg     *snapshot.Registry
	ring    []histTick // ring storage; ring[head] is the newest tick
	head    int
	n       int // ticks recorded (up to len(ring))
	back    float64
	keep    func(snapshot.EntityID, snapshot.TypeID) bool
	types   [256]bool
	scratch []uint32
	clamped atomic.Uint64
}

type histTick struct {
	tick  uint32
	world *snapshot.World
}

// NewHistory returns an empty history for a game ticking tickRate times per second.
// cfg.Enabled is ignored: a History made this way is always on.
func NewHistory(reg *snapshot.Registry, tickRate int, cfg LagCompensation) *History {
	if cfg.MaxRewind <= 0 {
		cfg.MaxRewind = DefaultMaxRewind
	}
	tickRate = max(tickRate, 1)
	back := cfg.MaxRewind.Seconds() * float64(tickRate)
	h := &History{reg: reg, ring: make([]histTick, int(math.Ceil(back))+2), back: back}
	for i := range h.ring {
		h.ring[i].world = snapshot.NewWorld(reg)
	}
	if len(cfg.Types) > 0 {
		for _, t := range cfg.Types {
			h.types[t] = true
		}
		h.keep = func(_ snapshot.EntityID, t snapshot.TypeID) bool { return h.types[t] }
	}
	return h
}

// Record stores w as the state after tick n. Ticks should be recorded in increasing
// order (a host that skips ticks may leave gaps); a tick not after the newest one
// replaces nothing and is ignored.
func (h *History) Record(n uint32, w *snapshot.World) {
	if h.n > 0 && serialDiff(n, h.ring[h.head].tick) <= 0 {
		return
	}
	h.head = (h.head + 1) % len(h.ring)
	h.n = min(h.n+1, len(h.ring))
	e := &h.ring[h.head]
	e.tick = n
	e.world.CopyFromFunc(w, h.keep)
}

// Ticks returns the oldest and newest recorded ticks; ok is false before the first
// Record.
func (h *History) Ticks() (oldest, newest uint32, ok bool) {
	if h.n == 0 {
		return 0, 0, false
	}
	return h.at(h.n - 1).tick, h.ring[h.head].tick, true
}

// at returns the k-th newest entry (0 = newest).
func (h *History) at(k int) *histTick {
	return &h.ring[(h.head-k+len(h.ring))%len(h.ring)]
}

// Clamp returns the tick to rewind to for an action taken during tick now by a client
// whose screen showed view (a fractional tick, e.g. from ReadView): view itself, or
// now-MaxRewind if view is older than that (clamped reports it, and it is counted), or
// now if view lies in the future.
func (h *History) Clamp(now uint32, view float64) (at float64, clamped bool) {
	lo := float64(now) - h.back
	switch {
	case view < lo || math.IsNaN(view):
		h.clamped.Add(1)
		return lo, true
	case view > float64(now):
		return float64(now), false
	}
	return view, false
}

// RewindsClamped returns how many Clamp calls have clamped a rewind. Safe for
// concurrent use.
func (h *History) RewindsClamped() uint64 { return h.clamped.Load() }

// bracket finds the recorded ticks around t: a, the newest at or before t (or the
// oldest if t is older than everything), and c, the one after a when t lies between
// them (else nil), with t's fraction of the way from a to c.
func (h *History) bracket(t float64) (a, c *histTick, frac float64) {
	newest := h.at(0)
	if t >= float64(newest.tick) {
		return newest, nil, 0
	}
	// Ticks are mostly consecutive: start from where t would be.
	k := min(max(int(float64(newest.tick)-math.Floor(t)), 0), h.n-1)
	for k < h.n-1 && float64(h.at(k).tick) > t {
		k++
	}
	for k > 0 && float64(h.at(k-1).tick) <= t {
		k--
	}
	a = h.at(k)
	if k == 0 || float64(a.tick) > t { // t is at the newest tick, or older than the oldest
		return a, nil, 0
	}
	c = h.at(k - 1)
	return a, c, (t - float64(a.tick)) / float64(c.tick-a.tick)
}

// Quantized returns entity id's type and quantized values at the fractional tick t,
// clamped to the recorded ticks, blended between the two recorded ticks around t as
// Client.Interpolate blends snapshots (floats linearly, angles the short way round,
// integers and booleans and teleported entities not at all). Blended values are
// written into buf's storage; either way the values are valid until the next call or
// Record. ok is false if the entity is not in the history at t.
func (h *History) Quantized(id snapshot.EntityID, t float64, buf []uint32) (typ snapshot.TypeID, q []uint32, ok bool) {
	return h.sample(id, t, &buf)
}

// sample is Quantized; blended values go to *buf, which grows as needed.
func (h *History) sample(id snapshot.EntityID, t float64, buf *[]uint32) (snapshot.TypeID, []uint32, bool) {
	if h.n == 0 {
		return 0, nil, false
	}
	a, c, frac := h.bracket(t)
	ta, qa, okA := a.world.Quantized(id)
	if c == nil || frac == 0 {
		return ta, qa, okA
	}
	tc, qc, okC := c.world.Quantized(id)
	if !okC {
		return ta, qa, okA // gone at c: the client held a's version until then
	}
	tp := h.reg.Type(tc)
	if !okA || ta != tc || tp == nil || tp.Teleported(qa, qc) {
		return tc, qc, true
	}
	*buf = lerpFields((*buf)[:0], tp.Fields(), qa, qc, frac)
	return tc, *buf, true
}

// Get dequantizes entity id at the fractional tick t (see Quantized) into dst, a
// pointer to its registered struct. It reports false if the entity is not in the
// history at t.
func (h *History) Get(id snapshot.EntityID, t float64, dst any) (bool, error) {
	typ, q, ok := h.sample(id, t, &h.scratch)
	if !ok {
		return false, nil
	}
	tp := h.reg.Type(typ)
	if tp == nil {
		return true, fmt.Errorf("%w: %d", snapshot.ErrUnknownType, typ)
	}
	return true, tp.Dequantize(q, dst)
}

// World writes into dst the whole recorded world at the fractional tick t (see
// Quantized); it reports false before the first Record.
func (h *History) World(dst *snapshot.World, t float64) bool {
	if h.n == 0 {
		return false
	}
	a, c, frac := h.bracket(t)
	if c == nil || frac == 0 {
		dst.CopyFrom(a.world)
		return true
	}
	dst.Clear()
	// Entities of c (blended where a has them too), and those gone at c that a still
	// had: the client held a's version of those until c.
	c.world.Range(func(id snapshot.EntityID, _ snapshot.TypeID, _ []uint32) bool {
		if tt, q, ok := h.sample(id, t, &h.scratch); ok {
			_ = dst.SetQuantized(id, tt, q)
		}
		return true
	})
	a.world.Range(func(id snapshot.EntityID, typ snapshot.TypeID, q []uint32) bool {
		if _, _, ok := c.world.Quantized(id); !ok {
			_ = dst.SetQuantized(id, typ, q)
		}
		return true
	})
	return true
}

// ViewBytes is the size of a view stamp (AppendView).
const ViewBytes = 4

// viewSteps is the resolution of a view stamp: 1/16 tick (1 ms at 60 Hz).
const viewSteps = 16

// AppendView appends a 4-byte stamp of the tick a client's screen shows (the render
// tick Client.Interpolate returned) to dst, for the game to carry in its input: the
// host reads it back with ReadView and rewinds to it (History.Clamp). The stamp is the
// tick in 1/16 steps modulo 2^32 (uint32 little-endian), so it names the tick exactly
// within 2^27 ticks (25 days at 60 Hz) of the input's own tick.
func AppendView(dst []byte, renderTick float64) []byte {
	v := uint32(0)
	if renderTick > 0 && !math.IsInf(renderTick, 0) {
		v = uint32(uint64(math.Round(renderTick*viewSteps)) & math.MaxUint32)
	}
	return binary.LittleEndian.AppendUint32(dst, v)
}

// ReadView reads a view stamp (AppendView) from the start of src and returns the tick
// it names, taking the one nearest now (the tick the input is for).
func ReadView(src []byte, now uint32) (float64, error) {
	if len(src) < ViewBytes {
		return 0, fmt.Errorf("%w: view stamp of %d bytes", ErrMalformed, len(src))
	}
	v := binary.LittleEndian.Uint32(src)
	ref := uint32(uint64(now) * viewSteps) // now in stamp units, modulo 2^32
	d := int32(v - ref)                    // signed distance from now, in 1/16 ticks
	return float64(now) + float64(d)/viewSteps, nil
}

// shownTick is the tick sample(dst, rt) shows: rt clamped to the buffered snapshots.
func (b *interpBuffer) shownTick(rt float64) float64 {
	if b.n == 0 {
		return rt
	}
	return math.Min(math.Max(rt, float64(b.at(0).tick)), float64(b.at(b.n-1).tick))
}
