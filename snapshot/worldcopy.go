package snapshot

// CopyFromFunc makes w a copy of the entities of src for which keep returns true (all
// of them if keep is nil), keeping their versions and reusing w's storage like
// CopyFrom: a copy into a world that already held about as much allocates nothing.
func (w *World) CopyFromFunc(src *World, keep func(id EntityID, typ TypeID) bool) {
	if w == src {
		return
	}
	w.reg = src.reg
	j := 0
	for i := range src.ents {
		s := &src.ents[i]
		if keep != nil && !keep(s.id, s.typ) {
			continue
		}
		if j == len(w.ents) {
			if j < cap(w.ents) {
				w.ents = w.ents[:j+1] // an entry used before: its value storage is reused
			} else {
				w.ents = append(w.ents, worldEnt{})
			}
		}
		d := &w.ents[j]
		d.id, d.typ, d.ver = s.id, s.typ, s.ver
		if cap(d.q) < len(s.q) {
			d.q = make([]uint32, len(s.q))
		}
		d.q = d.q[:len(s.q)]
		copy(d.q, s.q)
		j++
	}
	w.ents = w.ents[:j]
}
