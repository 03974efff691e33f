package netcode

import (
	"github.com/volleynet/volley/snapshot"
)

// interpBuffer keeps the decoded world at recent ticks, oldest first. Guarded by the
// client's interpMu.
type interpBuffer struct {
	entries []interpEntry // ring storage
	start   int
	n       int
	scratch []uint32
}

type interpEntry struct {
	tick  uint32
	world *snapshot.World
}

func newInterpBuffer(r *snapshot.Registry, size int) *interpBuffer {
	b := &interpBuffer{entries: make([]interpEntry, size)}
	for i := range b.entries {
		b.entries[i].world = snapshot.NewWorld(r)
	}
	return b
}

func (b *interpBuffer) at(i int) *interpEntry { return &b.entries[(b.start+i)%len(b.entries)] }

// store records w as the state at tick; it reports false if tick is older than the
// newest entry (an out-of-order packet; the newest entry already reflects it).
func (b *interpBuffer) store(tick uint32, w *snapshot.World) bool {
	if b.n > 0 {
		newest := b.at(b.n - 1)
		d := serialDiff(tick, newest.tick)
		if d < 0 {
			return false
		}
		if d == 0 {
			newest.world.CopyFrom(w)
			return true
		}
	}
	if b.n == len(b.entries) {
		b.start = (b.start + 1) % len(b.entries)
		b.n--
	}
	e := b.at(b.n)
	b.n++
	e.tick = tick
	e.world.CopyFrom(w)
	return true
}

// newest returns the latest entry, or nil.
func (b *interpBuffer) newest() *interpEntry {
	if b.n == 0 {
		return nil
	}
	return b.at(b.n - 1)
}

// sample writes into dst the world at the fractional tick rt: linear between the two
// entries around it (shortest path for angles; integers and booleans hold the older
// value; an entity whose teleport field changed is not blended), clamped to the oldest
// and newest entries. It reports false if the buffer is empty.
func (b *interpBuffer) sample(dst *snapshot.World, rt float64) bool {
	if b.n == 0 {
		return false
	}
	oldest, newest := b.at(0), b.at(b.n-1)
	if b.n == 1 || rt <= float64(oldest.tick) {
		dst.CopyFrom(oldest.world)
		if b.n == 1 {
			dst.CopyFrom(newest.world)
		}
		return true
	}
	if rt >= float64(newest.tick) {
		dst.CopyFrom(newest.world)
		return true
	}
	var a, c *interpEntry
	for i := 1; i < b.n; i++ {
		if float64(b.at(i).tick) > rt {
			a, c = b.at(i-1), b.at(i)
			break
		}
	}
	t := (rt - float64(a.tick)) / float64(c.tick-a.tick)
	reg := dst.Registry()
	dst.Clear()
	c.world.Range(func(id snapshot.EntityID, typ snapshot.TypeID, qc []uint32) bool {
		ta, qa, ok := a.world.Quantized(id)
		tp := reg.Type(typ)
		if !ok || ta != typ || tp == nil || tp.Teleported(qa, qc) {
			_ = dst.SetQuantized(id, typ, qc)
			return true
		}
		b.scratch = lerpFields(b.scratch[:0], tp.Fields(), qa, qc, t)
		_ = dst.SetQuantized(id, typ, b.scratch)
		return true
	})
	return true
}

// lerpFields blends quantized values: floats linearly, angles along the shorter way
// round, integers and booleans hold the older value.
func lerpFields(dst []uint32, fields []snapshot.Field, qa, qc []uint32, t float64) []uint32 {
	for i, f := range fields {
		a, c := qa[i], qc[i]
		switch f.Kind {
		case snapshot.KindFloat:
			v := float64(a) + (float64(c)-float64(a))*t
			dst = append(dst, uint32(v+0.5))
		case snapshot.KindAngle:
			bits := uint(f.Bits)
			mod := uint64(1) << bits
			d := int64((uint64(c) - uint64(a)) & (mod - 1))
			if uint64(d) > mod/2 {
				d -= int64(mod)
			}
			v := int64(a) + int64(float64(d)*t+0.5*sign(d))
			dst = append(dst, uint32(uint64(v)&(mod-1)))
		default:
			dst = append(dst, a)
		}
	}
	return dst
}

func sign(d int64) float64 {
	if d < 0 {
		return -1
	}
	return 1
}
