package snapshot

import (
	"cmp"
	"fmt"
	"slices"
	"sync/atomic"
)

// versions numbers entity versions process-wide: a version names one entity's type and
// values, in whichever world (CopyFrom keeps versions, since it copies the values), so
// encoders can tell an unchanged entity, or a delta they already computed, in O(1).
// Worlds take blocks of versionBlock numbers, so that worlds on different goroutines
// do not contend for it.
var versions atomic.Uint64

const versionBlock = 1 << 16

// World is a set of entities with quantized field values, kept in ascending ID order.
// It is not safe for concurrent use: one goroutine owns it.
type World struct {
	reg  *Registry
	ents []worldEnt // sorted by id
	free [][]uint32 // value storage of removed entities, reused by later adds
	tmp  []uint32   // scratch for Set

	verNext, verEnd uint64 // versions left in this world's block: verNext+1..verEnd
}

// nextVersion returns a version number no other entity version in the process has.
func (w *World) nextVersion() uint64 {
	if w.verNext == w.verEnd {
		w.verEnd = versions.Add(versionBlock)
		w.verNext = w.verEnd - versionBlock
	}
	w.verNext++
	return w.verNext
}

type worldEnt struct {
	id  EntityID
	typ TypeID
	ver uint64 // changes whenever typ or q does; never 0
	q   []uint32
}

// NewWorld returns an empty world whose types come from r.
func NewWorld(r *Registry) *World { return &World{reg: r} }

// Registry returns the registry the world was created with.
func (w *World) Registry() *Registry { return w.reg }

func (w *World) find(id EntityID) (int, bool) {
	return slices.BinarySearchFunc(w.ents, id, cmpEnt)
}

func cmpEnt(e worldEnt, id EntityID) int { return cmp.Compare(e.id, id) }

// Set quantizes v (a value of, or pointer to, the struct registered as typ) and adds the
// entity or updates it (its type may change).
func (w *World) Set(id EntityID, typ TypeID, v any) error {
	t := w.reg.Type(typ)
	if t == nil {
		return fmt.Errorf("%w: %d", ErrUnknownType, typ)
	}
	n := len(t.fields)
	if cap(w.tmp) < n {
		w.tmp = make([]uint32, n)
	}
	w.tmp = w.tmp[:n]
	if err := t.Quantize(v, w.tmp); err != nil {
		return err
	}
	w.put(id, typ, w.tmp)
	return nil
}

// SetQuantized adds or updates an entity from quantized values, which are copied.
// Values are checked against the type's ranges.
func (w *World) SetQuantized(id EntityID, typ TypeID, q []uint32) error {
	t := w.reg.Type(typ)
	if t == nil {
		return fmt.Errorf("%w: %d", ErrUnknownType, typ)
	}
	if err := t.check(q); err != nil {
		return fmt.Errorf("entity %d: %w", id, err)
	}
	w.put(id, typ, q)
	return nil
}

// put stores validated values.
func (w *World) put(id EntityID, typ TypeID, q []uint32) { w.putFrom(0, id, typ, q) }

// putFrom is put for an entity whose index is known to be at least lo (callers that
// store entities in ascending ID order pass the previous result); it returns the
// entity's index.
func (w *World) putFrom(lo int, id EntityID, typ TypeID, q []uint32) int {
	i, ok := w.findFrom(lo, id)
	if ok {
		e := &w.ents[i]
		if e.typ == typ && slices.Equal(e.q, q) {
			return i // unchanged: same version
		}
		e.typ = typ
		e.ver = w.nextVersion()
		if cap(e.q) < len(q) {
			e.q = make([]uint32, len(q))
		}
		e.q = e.q[:len(q)]
		copy(e.q, q)
		return i
	}
	var buf []uint32
	for j := len(w.free) - 1; j >= 0; j-- {
		if cap(w.free[j]) >= len(q) {
			buf = w.free[j]
			w.free[j] = w.free[len(w.free)-1]
			w.free = w.free[:len(w.free)-1]
			break
		}
	}
	if buf == nil {
		buf = make([]uint32, len(q), max(len(q), 4))
	}
	buf = buf[:len(q)]
	copy(buf, q)
	w.ents = slices.Insert(w.ents, i, worldEnt{id: id, typ: typ, ver: w.nextVersion(), q: buf})
	return i
}

// findFrom is find for an entity whose index is known to be at least lo.
func (w *World) findFrom(lo int, id EntityID) (int, bool) {
	// Packets skip unchanged entities: look a few entities ahead before searching.
	for end := min(lo+4, len(w.ents)); lo < end && w.ents[lo].id < id; lo++ {
	}
	if lo < len(w.ents) && w.ents[lo].id == id {
		return lo, true
	}
	lo = min(lo, len(w.ents))
	i, ok := slices.BinarySearchFunc(w.ents[lo:], id, cmpEnt)
	return lo + i, ok
}

// update is putFrom for a caller that stores entities in ascending ID order and
// passes the previous result: it returns the index after the entity's. The usual
// case, the entity at lo with its type unchanged, is compared and copied in one pass.
func (w *World) update(lo int, id EntityID, typ TypeID, q []uint32) int {
	if lo < len(w.ents) {
		if e := &w.ents[lo]; e.id == id && e.typ == typ && len(e.q) == len(q) {
			// Without a branch on whether a value changed: that follows the
			// data, and such a branch mispredicts.
			eq := e.q[:len(q)]
			var diff uint32
			for j, v := range q {
				diff |= eq[j] ^ v
				eq[j] = v
			}
			if diff != 0 {
				e.ver = w.nextVersion()
			}
			return lo + 1
		}
	}
	return w.putFrom(lo, id, typ, q) + 1
}

// removeFrom is Remove for an entity whose index is at least lo; it returns the index
// the next (higher) ID would have.
func (w *World) removeFrom(lo int, id EntityID) int {
	i, ok := w.findFrom(lo, id)
	if ok {
		w.removeAt(i)
	}
	return i
}

// removeAt deletes the entity at index i, keeping its value storage for later adds.
func (w *World) removeAt(i int) {
	if len(w.free) < 1024 {
		w.free = append(w.free, w.ents[i].q[:0])
	}
	w.ents = slices.Delete(w.ents, i, i+1)
}

// Remove deletes an entity and reports whether it existed.
func (w *World) Remove(id EntityID) bool {
	i, ok := w.find(id)
	if ok {
		w.removeAt(i)
	}
	return ok
}

// Get dequantizes entity id into dst (a pointer to its registered struct). It reports
// false if the entity does not exist.
func (w *World) Get(id EntityID, dst any) (bool, error) {
	i, ok := w.find(id)
	if !ok {
		return false, nil
	}
	e := &w.ents[i]
	t := w.reg.Type(e.typ)
	if t == nil {
		return true, fmt.Errorf("%w: %d", ErrUnknownType, e.typ)
	}
	return true, t.Dequantize(e.q, dst)
}

// Quantized returns an entity's type and quantized values. The slice is owned by the
// world and valid until the next change to it.
func (w *World) Quantized(id EntityID) (TypeID, []uint32, bool) {
	i, ok := w.find(id)
	if !ok {
		return 0, nil, false
	}
	return w.ents[i].typ, w.ents[i].q, true
}

// Len returns the number of entities.
func (w *World) Len() int { return len(w.ents) }

// Range calls fn for each entity in ascending ID order until fn returns false. fn must
// not modify the world; q is valid only during the call.
func (w *World) Range(fn func(id EntityID, typ TypeID, q []uint32) bool) {
	for i := range w.ents {
		e := &w.ents[i]
		if !fn(e.id, e.typ, e.q) {
			return
		}
	}
}

// Clear removes every entity, keeping storage for reuse.
func (w *World) Clear() {
	for i := range w.ents {
		if len(w.free) < 1024 {
			w.free = append(w.free, w.ents[i].q[:0])
		}
	}
	w.ents = w.ents[:0]
}

// CopyFrom makes w an exact copy of src, reusing w's storage.
func (w *World) CopyFrom(src *World) {
	if w == src {
		return
	}
	w.reg = src.reg
	old := w.ents
	n := len(src.ents)
	if cap(old) < n {
		w.ents = make([]worldEnt, n, n+n/4)
		copy(w.ents, old)
		for i := len(old); i < n; i++ {
			w.ents[i].q = nil
		}
	} else {
		w.ents = old[:n]
	}
	for i := range w.ents {
		s := &src.ents[i]
		d := &w.ents[i]
		d.id, d.typ, d.ver = s.id, s.typ, s.ver
		if cap(d.q) < len(s.q) {
			d.q = make([]uint32, len(s.q))
		}
		d.q = d.q[:len(s.q)]
		copy(d.q, s.q)
	}
}

// Equal reports whether both worlds hold the same entities with the same types and values.
func (w *World) Equal(o *World) bool {
	if len(w.ents) != len(o.ents) {
		return false
	}
	for i := range w.ents {
		a, b := &w.ents[i], &o.ents[i]
		if a.id != b.id || a.typ != b.typ || !slices.Equal(a.q, b.q) {
			return false
		}
	}
	return true
}
