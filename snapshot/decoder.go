package snapshot

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// MaxDecoderEntities bounds the entity records (live entities plus recent removals) a
// Decoder keeps; a packet that would exceed it is rejected with ErrCorrupt.
const MaxDecoderEntities = 1 << 16

// decSlots is how many versions of an entity the decoder keeps, by packet seq mod decSlots.
// Baselines are at most History-1 packets older than the packet that names them, and a
// packet History or more behind the newest is stale; with twice History slots a newer
// packet that arrives first can never overwrite a baseline an older usable packet needs.
const decSlots = 2 * History

// PacketInfo describes a decoded packet.
type PacketInfo struct {
	Seq      uint16 // packet sequence number
	Tick     uint32 // host tick of the state
	Entities int    // entity versions carried (whole or delta)
	Removals int    // removal entries carried
	Applied  int    // entries that changed the current state (others were older than what we had)
	Stale    bool   // too old to use (History or more behind the newest packet): ignored, not acked
}

// Decoder is the client side: it applies packets in any order, keeps the entity versions
// the host may use as baselines, and says what to acknowledge. One goroutine owns it.
type Decoder struct {
	reg    *Registry
	world  *World
	recs   []recRef  // every record (live entities and recent removals), ascending ID
	added  []*decEnt // records created by the packet being applied, ascending ID
	tombs  []*decEnt // records not in the world, purged once History packets old
	gone   []*decEnt // scratch: records purge drops
	free   []*decEnt
	have   bool
	newest uint16 // newest packet seq received
	newExt int64  // newest, extended to 64 bits
	mask   uint32 // bit i: packet newest-1-i received
	stride int    // values per stored version (registry's largest field count)

	hint    int    // world index at or below the next entity applied (IDs ascend)
	body    []byte // the packet's bit stream and 8 zero bytes (see bitIn)
	entries []decEntry
	vals    []uint32
	types   [256]decType // the registry's types, compiled for decoding on first use
	tab     []decTab     // the packet's type table
	tabOf   [256]int16   // index+1 in tab of each type listed (0: not listed)
	pr      predRatio    // the last prediction's tick ratio (most predictions share it)
}

// recRef is one entry of Decoder.recs: the ID is kept beside the pointer so that finding
// a record touches only this array.
type recRef struct {
	id EntityID
	r  *decEnt
}

type decEntry struct {
	rec *decEnt // nil for an entity the decoder does not know yet
	id  EntityID
	op  uint8
	typ TypeID
	n   uint8 // values (a type has at most maxFieldCount fields)
	// direct: parse decoded the values straight into the record's slot for this
	// packet (see Decoder.direct); otherwise they are at off in Decoder.vals.
	direct bool
	off    uint32 // into Decoder.vals (a packet has fewer values than bits)
}

// decSlot describes the version of an entity stored in one slot (one cache line holds
// four).
type decSlot struct {
	seq  int64  // extended seq of the packet that carried it
	tick uint32 // tick of that packet
	typ  TypeID
}

// decEnt is what the decoder knows about one entity ID.
type decEnt struct {
	vals    []uint32 // decSlots versions of stride values; allocated on first version
	stride  int      // values per version in vals: the fields of the first type stored, or Decoder.stride
	id      EntityID
	inWorld bool
	hasLast bool
	listed  bool  // in tombs
	last    int64 // extended seq of the last applied version or removal
	tick    uint32
	slots   [decSlots]decSlot
}

// decType is a registered type compiled for the decoder's inner loops.
type decType struct {
	t      *Type // compiled from (nil: not registered when last looked at)
	fields []decField
}

// decField is what decoding and prediction need of a Field, packed small.
type decField struct {
	maxQ  uint32
	bits  uint8
	wide  bool // at least 5 bits: predicted
	angle bool
	k     uint8 // the encoder's: k of the field's code this send (class 0 is "0" u:k)
}

// decType returns the compiled form of type id; its t is nil if id is not registered.
func (d *Decoder) decType(id TypeID) *decType {
	dt := &d.types[id]
	if t := d.reg.types[id]; dt.t != t && t != nil { // types are never unregistered
		dt.t, dt.fields = t, dt.fields[:0]
		for i := range t.fields {
			f := &t.fields[i]
			dt.fields = append(dt.fields, compileDec(f))
		}
	}
	return dt
}

// NewDecoder returns a decoder for types registered in r (register them all first).
func NewDecoder(r *Registry) *Decoder {
	return &Decoder{reg: r, world: NewWorld(r)}
}

// World returns the current state. The caller must not modify it.
func (d *Decoder) World() *World { return d.world }

// Ack returns what to acknowledge now (the zero Ack before any packet arrived).
func (d *Decoder) Ack() Ack {
	if !d.have {
		return Ack{}
	}
	return Ack{Latest: d.newest, Mask: d.mask}
}

// EntityTick returns the host tick of the packet that last updated entity id, if the
// entity is in the current state.
func (d *Decoder) EntityTick(id EntityID) (uint32, bool) {
	i, ok := slices.BinarySearchFunc(d.recs, id, cmpRec)
	if !ok || !d.recs[i].r.inWorld {
		return 0, false
	}
	return d.recs[i].r.tick, true
}

func cmpRec(e recRef, id EntityID) int { return cmp.Compare(e.id, id) }

// seekRec returns the index of the first record at or after c whose ID is not below id.
// Entries ascend and packets carry most entities, so it looks a few records ahead first.
func seekRec(recs []recRef, c int, id EntityID) int {
	for end := min(c+4, len(recs)); c < end; c++ {
		if recs[c].id >= id {
			return c
		}
	}
	if c >= len(recs) {
		return c
	}
	i, _ := slices.BinarySearchFunc(recs[c:], id, cmpRec)
	return c + i
}

// Decode applies one packet. Packets may arrive in any order and more than once: an older
// packet never overwrites a newer version of an entity, duplicates change nothing. On
// error nothing is applied and the packet is not acknowledged.
func (d *Decoder) Decode(pkt []byte) (PacketInfo, error) {
	var info PacketInfo
	if len(pkt) > MaxPacketBytesLimit {
		return info, fmt.Errorf("%w: packet of %d bytes", ErrOversized, len(pkt))
	}
	if len(pkt) < HeaderLen {
		return info, fmt.Errorf("%w: packet of %d bytes", ErrTruncated, len(pkt))
	}
	if pkt[0] != Version {
		return info, fmt.Errorf("%w: packet version %d", ErrVersion, pkt[0])
	}
	info.Seq = binary.LittleEndian.Uint16(pkt[1:])
	info.Tick = binary.LittleEndian.Uint32(pkt[3:])
	if info.Seq == 0 {
		return info, fmt.Errorf("%w: sequence number 0", ErrCorrupt)
	}
	ext := int64(1 << 32)
	if d.have {
		ext = d.newExt + int64(int16(info.Seq-d.newest))
		if d.newExt-ext >= History {
			info.Stale = true
			return info, nil
		}
	}
	if d.stride == 0 {
		d.stride = max(d.reg.maxFields, 1)
	}
	slot := int(uint64(ext) % decSlots) // this packet's slot in every record
	if err := d.parse(pkt[HeaderLen:], ext, info.Tick, &info); err != nil {
		// Forget the versions parse stored: the slots held nothing any packet
		// can still name (see parse), and now hold nothing at all.
		for i := range d.entries {
			if en := &d.entries[i]; en.direct {
				en.rec.slots[slot] = decSlot{}
			}
		}
		return info, err
	}
	d.noteReceived(info.Seq, ext)
	d.hint = 0
	for i := range d.entries {
		en := &d.entries[i]
		// The usual entry, inline: a delta parse stored, newer than the entity's
		// current version in the world.
		if r := en.rec; en.direct && r.inWorld && ext > r.last {
			r.last, r.tick = ext, info.Tick
			d.hint = d.world.update(d.hint, en.id, en.typ, r.vals[slot*r.stride:][:en.n])
			info.Applied++
			continue
		}
		if d.apply(en, ext, info.Tick) {
			info.Applied++
		}
	}
	if len(d.added) > 0 {
		d.insertAdded()
	}
	d.purge()
	return info, nil
}

// bitIn reads a bit stream written by bitWriter from a buffer that holds the stream and
// 8 more zero bytes, so that 8 bytes can be loaded at any position up to the end.
type bitIn struct {
	buf []byte
	pos uint // bit position, never past end
	end uint // stream length in bits
	bad bool // a read ran past the end
}

// read returns the next n (0..32) bits; past the end it sets r.bad and returns 0.
func (r *bitIn) read(n uint) uint32 {
	p := r.pos
	if p+n > r.end {
		r.pos, r.bad = r.end, true
		return 0
	}
	r.pos = p + n
	return uint32((binary.LittleEndian.Uint64(r.buf[p>>3:]) >> (p & 7)) & (1<<n - 1))
}

// peek returns the next 64 bits from the bit position (zeros past the end of the
// buffer's padding are never reached: callers stay within end).
func (r *bitIn) peek() uint64 {
	return binary.LittleEndian.Uint64(r.buf[r.pos>>3:]) >> (r.pos & 7)
}

// decTab is one entry of a packet's type table.
type decTab struct {
	dt     *decType
	typ    TypeID
	pd     int64 // prediction distance of the type's common entries (0: none)
	fields []tabField
}

// tabField is a field and its code in one packet, compiled together for the decoding
// loop.
type tabField struct {
	start [codeClasses]uint64 // the code's class starts (start[0] is 0)
	maxQ  uint32
	bits  uint8
	k     uint8
	// clen[b] is the length of the code whose first 5 bits are b (lowest first):
	// the class prefix (c ones and a zero, or codeClasses ones) decides it.
	clen  [1 << codeClasses]uint8
	w     [codeClasses]uint8 // the code's class widths
	wide  bool
	angle bool
}

// parseTable reads the packet's type table into d.tab (and d.tabOf).
func (d *Decoder) parseTable(br *bitIn, common int64) error {
	n := int(br.read(8))
	if cap(d.tab) < n {
		d.tab = append(d.tab[:cap(d.tab)], make([]decTab, n-cap(d.tab))...)
	}
	d.tab = d.tab[:n]
	last := -1
	for i := range n {
		typ := int(br.read(8))
		pd := int64(br.read(5))
		if br.bad {
			return fmt.Errorf("%w: in the type table", ErrTruncated)
		}
		if typ <= last {
			return fmt.Errorf("%w: type table not in ascending order", ErrCorrupt)
		}
		last = typ
		dt := d.decType(TypeID(typ))
		if dt.t == nil {
			return fmt.Errorf("%w: %d (type table)", ErrUnknownType, typ)
		}
		if len(dt.fields) > d.stride {
			return fmt.Errorf("%w: type %d registered after decoding began", ErrUnknownType, typ)
		}
		if pd != 0 && (common == 0 || pd <= common) {
			return fmt.Errorf("%w: type %d: prediction source %d not older than baseline %d", ErrCorrupt, typ, pd, common)
		}
		tb := &d.tab[i]
		// Consecutive packets mostly carry the same table: an entry whose type and
		// codes are unchanged keeps its compiled fields.
		same := tb.dt == dt && len(tb.fields) == len(dt.fields)
		tb.dt, tb.typ, tb.pd = dt, TypeID(typ), pd
		if !same {
			tb.fields = tb.fields[:0]
		}
		for j := range dt.fields {
			k := uint(0)
			if br.read(1) == 1 {
				k = uint(br.read(5)) + 1
			}
			f := &dt.fields[j]
			if k > uint(f.bits) {
				return fmt.Errorf("%w: type %d field %d: k %d over %d bits", ErrCorrupt, typ, j, k, f.bits)
			}
			if same && uint(tb.fields[j].k) == k {
				continue
			}
			c := makeFieldCode(k, uint(f.bits))
			tf := tabField{start: [codeClasses]uint64(c.start[:codeClasses]), maxQ: f.maxQ, bits: f.bits, k: c.k, w: c.w, wide: f.wide, angle: f.angle}
			for b := range tf.clen {
				if cl := bits.TrailingZeros(^uint(b)); cl < codeClasses {
					tf.clen[b] = uint8(cl + 1 + int(c.w[cl]))
				} else {
					tf.clen[b] = codeClasses + f.bits
				}
			}
			if same {
				tb.fields[j] = tf
			} else {
				tb.fields = append(tb.fields, tf)
			}
		}
		d.tabOf[typ] = int16(i + 1)
	}
	if br.bad {
		return fmt.Errorf("%w: in the type table", ErrTruncated)
	}
	return nil
}

// clearTable forgets the packet's type table.
func (d *Decoder) clearTable() {
	for i := range d.tab {
		d.tabOf[d.tab[i].typ] = 0
	}
}

// parse decodes the entries into d.entries/d.vals without changing any state.
func (d *Decoder) parse(body []byte, ext int64, tick uint32, info *PacketInfo) error {
	d.body = append(append(d.body[:0], body...), 0, 0, 0, 0, 0, 0, 0, 0)
	br := bitIn{buf: d.body, end: uint(len(body)) * 8}
	d.entries = d.entries[:0]
	d.vals = d.vals[:0]
	recs := d.recs
	// A delta's values may go straight into its record's slot for this packet (one
	// copy fewer) when that slot's version is dead whatever becomes of this packet:
	// the slot holds a version at least decSlots (2·History) packets older than this
	// one, and if this packet is at most one past the newest, every packet that can
	// still be used names baselines newer than that. (A packet further ahead would
	// make older packets stale only if it is applied.)
	direct := d.have && ext <= d.newExt+1
	es := int(uint64(ext) % decSlots)
	c := 0 // recs[c] is the first record whose ID is above the last entry's
	prev := int64(-1)
	newRecs := 0
	common := int64(br.read(5)) // baseline distance of common entries
	defer d.clearTable()
	if err := d.parseTable(&br, common); err != nil {
		return err
	}
	tb := uint(0) // bits of a whole entry's type index
	if len(d.tab) > 1 {
		tb = uint(bits.Len(uint(len(d.tab) - 1)))
	}
	for {
		if br.pos+4 > br.end {
			return fmt.Errorf("%w: no end marker", ErrTruncated)
		}
		// The op and the ID gap from one load: at most 4 + 35 bits.
		x := br.peek()
		op := uint8(bits.TrailingZeros64(x | 16)) // 0: common, 1: delta, 2: whole, 3: removal, 4: end
		if op == 4 {
			br.pos += 4
			break
		}
		x >>= op + 1
		n := uint(op) + 1
		op = [4]uint8{opCommon, opDelta, opWhole, opRemove}[op&3]
		var gap uint32
		switch {
		case x&1 == 0:
			n++
		case x&2 == 0:
			gap, n = uint32(x>>2)&0xf, n+6
		case x&4 == 0:
			gap, n = uint32(x>>3)&0xfff, n+15
		default:
			gap, n = uint32(x>>3), n+35
		}
		if br.pos+n > br.end {
			return fmt.Errorf("%w: in entity ID", ErrTruncated)
		}
		br.pos += n
		id := prev + 1 + int64(gap)
		if id > 1<<32-1 {
			return fmt.Errorf("%w: entity ID beyond 32 bits", ErrCorrupt)
		}
		prev = id
		var rec *decEnt
		// Most entries are of the record after the last entry's.
		if c < len(recs) && recs[c].id == EntityID(id) {
			rec = recs[c].r
			c++
		} else if c = seekRec(recs, c, EntityID(id)); c < len(recs) && recs[c].id == EntityID(id) {
			rec = recs[c].r
			c++
		}
		// Field by field: a composite literal built on the stack and copied in
		// stalls on store forwarding.
		if len(d.entries) == cap(d.entries) {
			d.entries = slices.Grow(d.entries, 1)
		}
		d.entries = d.entries[:len(d.entries)+1]
		en := &d.entries[len(d.entries)-1]
		en.rec, en.id, en.op, en.typ, en.n, en.direct, en.off = rec, EntityID(id), op, 0, 0, false, uint32(len(d.vals))
		if rec == nil {
			newRecs++
			if len(recs)+newRecs > MaxDecoderEntities {
				return fmt.Errorf("%w: more than %d entities", ErrCorrupt, MaxDecoderEntities)
			}
		}
		switch op {
		case opRemove:
			info.Removals++
		case opWhole:
			ti := int(br.read(tb))
			if br.bad {
				return fmt.Errorf("%w: in entity %d", ErrTruncated, id)
			}
			if ti >= len(d.tab) {
				return fmt.Errorf("%w: entity %d: type index %d of %d", ErrCorrupt, id, ti, len(d.tab))
			}
			dt := d.tab[ti].dt
			en.typ = d.tab[ti].typ
			for i := range dt.fields {
				f := &dt.fields[i]
				v := br.read(uint(f.bits))
				if v > f.maxQ {
					return fmt.Errorf("%w: entity %d field %s = %d", ErrCorrupt, id, dt.t.fields[i].Name, v)
				}
				d.vals = append(d.vals, v)
			}
			if br.bad {
				return fmt.Errorf("%w: in entity %d", ErrTruncated, id)
			}
			en.n = uint8(len(dt.fields))
			info.Entities++
		default: // a delta, common or explicit
			dist, pd := common, int64(0)
			if op == opDelta {
				if br.read(1) == 1 {
					dist = int64(br.read(5))
				}
				if br.read(1) == 1 {
					pd = int64(br.read(5))
				}
				if br.bad {
					return fmt.Errorf("%w: in entity %d", ErrTruncated, id)
				}
			}
			if dist == 0 {
				return fmt.Errorf("%w: entity %d: baseline distance 0", ErrCorrupt, id)
			}
			base := ext - dist
			slot := int(uint64(base) % decSlots)
			if rec == nil || rec.vals == nil || rec.slots[slot].seq != base {
				return fmt.Errorf("%w: entity %d, packet %d", ErrMissingBaseline, id, uint16(base))
			}
			en.typ = rec.slots[slot].typ
			ti := int(d.tabOf[en.typ]) - 1
			if ti < 0 {
				return fmt.Errorf("%w: entity %d: type %d not in the type table", ErrCorrupt, id, en.typ)
			}
			tab := &d.tab[ti]
			if op == opCommon {
				pd = tab.pd
			} else if pd != 0 && pd <= dist {
				return fmt.Errorf("%w: entity %d: prediction source %d not older than baseline %d", ErrCorrupt, id, pd, dist)
			}
			fs := tab.dt.fields
			n := len(fs)
			b1 := rec.vals[slot*rec.stride:][:n]
			var out []uint32
			if direct && rec.slots[es].seq < ext && n <= rec.stride {
				out = rec.vals[es*rec.stride:][:n]
				rec.slots[es] = decSlot{seq: ext, tick: tick, typ: en.typ}
				en.direct = true
			} else {
				off := len(d.vals)
				d.vals = slices.Grow(d.vals, n)[:off+n]
				out = d.vals[off:][:n]
			}
			var b0 []uint32 // the prediction source, when predicted
			if pd != 0 {    // predicted from an older version and the baseline
				ps := int(uint64(ext-pd) % decSlots)
				if rec.slots[ps].seq != ext-pd || rec.slots[ps].typ != en.typ {
					return fmt.Errorf("%w: entity %d, packet %d (prediction)", ErrMissingBaseline, id, uint16(ext-pd))
				}
				num, den := tick-rec.slots[slot].tick, rec.slots[slot].tick-rec.slots[ps].tick
				if !predictable(num, den) {
					return fmt.Errorf("%w: entity %d: prediction over ticks %d/%d", ErrCorrupt, id, num, den)
				}
				if num != d.pr.num || den != d.pr.den {
					d.pr = newPredRatio(num, den)
				}
				b0 = rec.vals[ps*rec.stride:][:n]
			}
			tfs := tab.fields[:n]
			// The field loops are functions of their own: inside parse, their
			// variables would be spilled to the stack, and a field's code depends
			// on the previous one's through them.
			var pos uint
			var bad int
			if b0 != nil {
				pos, bad = decodePredicted(br.buf, br.pos, br.end, tfs, b1, b0, out, &d.pr)
			} else {
				pos, bad = decodeCodes(br.buf, br.pos, br.end, tfs, b1, out)
			}
			if bad >= 0 {
				return fmt.Errorf("%w: entity %d field %s = %d", ErrCorrupt, id, tab.dt.t.fields[bad].Name, out[bad])
			}
			if pos > br.end {
				return fmt.Errorf("%w: in entity %d", ErrTruncated, id)
			}
			br.pos = pos
			en.n = uint8(n)
			info.Entities++
		}
	}
	// Only zero padding to the byte boundary may follow the end marker.
	rest := br.end - br.pos
	if rest >= 8 {
		return fmt.Errorf("%w: %d bytes after end marker", ErrCorrupt, rest/8)
	}
	if br.read(rest) != 0 {
		return fmt.Errorf("%w: non-zero padding", ErrCorrupt)
	}
	return nil
}

// decodeCodes decodes the codes of fields tfs from the bit stream in buf (followed by 8
// zero bytes), from bit pos, against references ref (the baseline), into out. It
// returns the position after the codes (past end if they run past the stream's end)
// and the index of a field whose value is out of range (-1: none).
//
// Every field's code is decoded the same way, without a branch on its class or on
// whether the field changed: the data decide those, and such branches mispredict
// (skipping runs of unchanged fields, and adding a class's start only above class 0,
// cost more than they saved). A 64-bit load at any position up to end is safe; a code
// that runs past the end is caught before the next load.
func decodeCodes(buf []byte, pos, end uint, tfs []tabField, ref, out []uint32) (uint, int) {
	ref, out = ref[:len(tfs)], out[:len(tfs)]
	var x uint64  // the stream from pos on
	var have uint // bits of x that are the stream's (or its zero padding)
	for i := range tfs {
		if have < codeClasses+32 {
			if pos > end {
				break
			}
			x, have = binary.LittleEndian.Uint64(buf[pos>>3:])>>(pos&7), 64-pos&7
		}
		f := &tfs[i]
		// The code's length from a table: on the chain from one field's code
		// to the next, a load is shorter than finding the class and its width.
		// The class is needed for the value only.
		k := uint(f.clen[x&(1<<codeClasses-1)])
		cl := uint(bits.TrailingZeros64(^x))
		var v uint32
		// The masks (no-ops: widths are at most 32, codes at most
		// codeClasses+32 bits) spare the shifts' range checks.
		if cl < codeClasses {
			w := uint(f.w[cl]) & 63
			u := (x>>(cl+1))&(1<<w-1) + f.start[cl]
			v = unresidual(ref[i], uint32(u), uint(f.bits))
		} else {
			v = uint32((x >> codeClasses) & (1<<(f.bits&63) - 1))
		}
		x >>= k & 63
		have -= k
		pos += k
		out[i] = v
		if v > f.maxQ {
			return pos, i
		}
	}
	return pos, -1
}

// decodePredicted is decodeCodes against the prediction from b0 (pr.den ticks before
// b1) to pr.num ticks after b1, as predictDec computes it. Prediction and decoding
// share one loop, so each value goes from registers to out once. (The field's decoding
// is written out in both loops: as a function it is not inlined, and costs 5%.)
func decodePredicted(buf []byte, pos, end uint, tfs []tabField, b1, b0, out []uint32, pr *predRatio) (uint, int) {
	b1, b0, out = b1[:len(tfs)], b0[:len(tfs)], out[:len(tfs)]
	var x uint64
	var have uint
	for i := range tfs {
		f := &tfs[i]
		ref := b1[i]
		if f.wide {
			if dd := tabDiff(f, ref, b0[i]); dd != 0 {
				var step int64
				if pr.exact {
					step = dd * pr.q
				} else {
					step = pr.step(dd * int64(pr.num))
				}
				ref = tabAdd(f, ref, step)
			}
		}
		if have < codeClasses+32 {
			if pos > end {
				break
			}
			x, have = binary.LittleEndian.Uint64(buf[pos>>3:])>>(pos&7), 64-pos&7
		}
		k := uint(f.clen[x&(1<<codeClasses-1)])
		cl := uint(bits.TrailingZeros64(^x))
		var v uint32
		if cl < codeClasses {
			w := uint(f.w[cl]) & 63
			u := (x>>(cl+1))&(1<<w-1) + f.start[cl]
			v = unresidual(ref, uint32(u), uint(f.bits))
		} else {
			v = uint32((x >> codeClasses) & (1<<(f.bits&63) - 1))
		}
		x >>= k & 63
		have -= k
		pos += k
		out[i] = v
		if v > f.maxQ {
			return pos, i
		}
	}
	return pos, -1
}

// compileDec compiles a field for decoding and prediction.
func compileDec(f *Field) decField {
	return decField{maxQ: f.maxQ, bits: uint8(f.Bits), wide: f.Bits >= 5, angle: f.Kind == KindAngle}
}

// tabDiff and tabAdd are predDiff and predAdd for a tabField.
func tabDiff(f *tabField, b1, b0 uint32) int64 {
	if !f.angle {
		return int64(b1) - int64(b0)
	}
	return signedDiff(b1, b0, uint(f.bits))
}

func tabAdd(f *tabField, b1 uint32, step int64) uint32 {
	v := int64(b1) + step
	if f.angle {
		return uint32(uint64(v) & (1<<f.bits - 1))
	}
	return uint32(max(0, min(int64(f.maxQ), v)))
}

// predRatio is a prediction's tick ratio num/den, with what predict needs of it
// computed once.
type predRatio struct {
	num, den uint32
	exact    bool  // num/den is whole: the step is d·q
	q, half  int64 // num/den, den/2
	// Otherwise a division by den is a multiplication by m and a shift by 64+s
	// (see step): a 64-bit division takes several times as long, and a ratio that
	// is not whole divides every moving field.
	m uint64
	s uint
}

// predRatioBits bounds the magnitude of the numerators step divides: a difference
// below 2^32 times num (at most maxPredictTicks = 2^16), plus den/2, is below 2^49.
const predRatioBits = 49

func newPredRatio(num, den uint32) predRatio {
	p := predRatio{num: num, den: den, exact: num%den == 0, q: int64(num / den), half: int64(den / 2)}
	if p.exact { // (otherwise den >= 2)
		return p
	}
	// Granlund and Montgomery: if 2^(N+l) <= m·den <= 2^(N+l) + 2^l, then
	// floor(n/den) = floor(n·m / 2^(N+l)) for every n < 2^N. N+l >= 64 here, so the
	// quotient is in the high word of the product.
	if den&(den-1) == 0 { // a power of two: m = 2^64/den exactly
		p.m = 1 << (64 - uint(bits.TrailingZeros32(den)))
		return p
	}
	l := uint(bits.Len32(den - 1)) // 2^(l-1) < den < 2^l
	n := max(predRatioBits, 64-l)
	q, _ := bits.Div64(1<<(n+l-64), 0, uint64(den))
	p.m, p.s = q+1, n+l-64
	return p
}

// step is x/den rounded half away from zero, for |x| < 2^48 (a difference times num),
// as roundDiv(x, half, den) computes it, without a division.
func (p *predRatio) step(x int64) int64 {
	s := x >> 63 // 0 or -1: x ± den/2 has the sign of x
	a := x + (p.half ^ s) - s
	hi, _ := bits.Mul64(uint64((a^s)-s), p.m)
	q := int64(hi >> (p.s & 63))
	return (q ^ s) - s
}

// predictDec extrapolates each field of at least 5 bits linearly from b0 (den ticks
// before b1) to num ticks after b1: p = b1 + round((b1-b0)·num/den), wrapping for
// angles and clamped to the field's range otherwise; narrower fields predict b1. It
// writes len(fs) values into out. The encoder and the decoder both run exactly this
// integer arithmetic.
func predictDec(fs []decField, b1, b0, out []uint32, num, den uint32) {
	b1, b0, out = b1[:len(fs)], b0[:len(fs)], out[:len(fs)]
	if num%den == 0 {
		// The rounding division is exact: the step is d·(num/den).
		q := int64(num / den)
		for i := range fs {
			f := &fs[i]
			p := b1[i]
			if f.wide {
				if d := predDiff(f, p, b0[i]); d != 0 {
					p = predAdd(f, p, d*q)
				}
			}
			out[i] = p
		}
		return
	}
	half := int64(den / 2)
	for i := range fs {
		f := &fs[i]
		p := b1[i]
		if f.wide {
			if d := predDiff(f, p, b0[i]); d != 0 {
				// |d| < 2^32, num <= 2^16: no overflow
				p = predAdd(f, p, roundDiv(d*int64(num), half, int64(den)))
			}
		}
		out[i] = p
	}
}

// roundDiv is x/den rounded half away from zero (half is den/2), without a branch on
// x's sign: the data decide it, and the branch mispredicts.
func roundDiv(x, half, den int64) int64 {
	s := x >> 63 // 0 or -1
	return (x + (half ^ s) - s) / den
}

// predDiff is b1-b0 as predict takes it: modulo 2^bits as a signed number for angles.
func predDiff(f *decField, b1, b0 uint32) int64 {
	if !f.angle {
		return int64(b1) - int64(b0)
	}
	return signedDiff(b1, b0, uint(f.bits))
}

// signedDiff is b1-b0 modulo 2^nbits (1..32) as a signed number: the difference
// sign-extended from bit nbits-1, without a branch on its sign (which the data decides).
func signedDiff(b1, b0 uint32, nbits uint) int64 {
	sh := (32 - nbits) & 31
	return int64(int32((b1-b0)<<sh) >> sh)
}

// predAdd is b1 plus a predicted step, wrapped for angles, clamped to the range otherwise.
func predAdd(f *decField, b1 uint32, step int64) uint32 {
	v := int64(b1) + step
	if f.angle {
		return uint32(uint64(v) & (1<<uint(f.bits) - 1))
	}
	return uint32(max(0, min(int64(f.maxQ), v)))
}

func (d *Decoder) noteReceived(seq uint16, ext int64) {
	if !d.have {
		d.have, d.newest, d.newExt, d.mask = true, seq, ext, 0
		return
	}
	diff := ext - d.newExt
	switch {
	case diff > 0:
		if diff <= 32 {
			d.mask = uint32((uint64(d.mask)<<diff | 1<<(diff-1)) & 0xffffffff)
		} else {
			d.mask = 0
		}
		d.newest, d.newExt = seq, ext
	case diff < 0 && diff >= -32:
		d.mask |= 1 << (-diff - 1)
	}
}

// newRecord returns an empty record for id, to be inserted into recs by insertAdded.
func (d *Decoder) newRecord(id EntityID) *decEnt {
	var r *decEnt
	if n := len(d.free); n > 0 {
		r = d.free[n-1]
		d.free[n-1] = nil
		d.free = d.free[:n-1]
		*r = decEnt{vals: r.vals, stride: r.stride}
	} else {
		r = &decEnt{}
	}
	r.id = id
	d.added = append(d.added, r)
	return r
}

// insertAdded merges the records the packet created (ascending, like recs) into recs,
// from the back, so that records after the last new one do not move.
func (d *Decoder) insertAdded() {
	a, b := len(d.recs), len(d.added)
	d.recs = slices.Grow(d.recs, b)[:a+b]
	i, k := a-1, a+b-1
	for j := b - 1; j >= 0; k-- {
		if i >= 0 && d.recs[i].id > d.added[j].id {
			d.recs[k] = d.recs[i]
			i--
		} else {
			d.recs[k] = recRef{id: d.added[j].id, r: d.added[j]}
			j--
		}
	}
	clear(d.added)
	d.added = d.added[:0]
}

// apply stores an entry as a possible baseline and, if it is newer than what the entity
// has, makes it current. It reports whether the current state changed.
func (d *Decoder) apply(en *decEntry, ext int64, tick uint32) bool {
	r := en.rec
	if r == nil {
		r = d.newRecord(en.id)
	}
	newer := !r.hasLast || ext > r.last
	if en.op == opRemove {
		if !newer {
			return false
		}
		r.hasLast, r.last = true, ext
		if !r.listed {
			r.listed = true
			d.tombs = append(d.tombs, r)
		}
		if r.inWorld {
			r.inWorld = false
			d.hint = d.world.removeFrom(d.hint, en.id)
			return true
		}
		return false
	}
	slot := int(uint64(ext) % decSlots)
	var q []uint32
	if en.direct { // parse stored the version
		q = r.vals[slot*r.stride:][:en.n]
	} else if q = d.vals[en.off:][:en.n]; r.slots[slot].seq < ext {
		if r.vals == nil || len(q) > r.stride {
			r.grow(len(q), d.stride)
		}
		r.slots[slot] = decSlot{seq: ext, tick: tick, typ: en.typ}
		copy(r.vals[slot*r.stride:], q)
	}
	if !newer {
		return false
	}
	r.hasLast, r.last, r.tick = true, ext, tick
	r.inWorld = true
	d.hint = d.world.update(d.hint, en.id, en.typ, q)
	return true
}

// grow makes room for versions of n values: a record first gets room for its type's
// fields (small types stay compact, which keeps more records in cache), and the
// registry's largest field count (most) the first time it needs more.
func (r *decEnt) grow(n, most int) {
	stride := most
	if r.vals == nil {
		stride = n
	}
	vals := make([]uint32, decSlots*stride)
	if r.stride > 0 {
		for k := range decSlots {
			copy(vals[k*stride:], r.vals[k*r.stride:][:r.stride])
		}
	}
	r.vals, r.stride = vals, stride
}

// purge forgets removed entities once no packet that could mention them is usable.
func (d *Decoder) purge() {
	// Tombs are listed in the order of their removals, so only the oldest are
	// looked at: the walk stops at the first one still recent. (One whose entity
	// came back and went again, or whose removal arrived out of order, may wait
	// behind it, at most History packets longer.)
	j := 0
	for ; j < len(d.tombs); j++ {
		r := d.tombs[j]
		if r.inWorld {
			r.listed = false
			continue
		}
		if d.newExt-r.last < History {
			break
		}
		r.listed = false
		d.gone = append(d.gone, r)
	}
	if j > 0 {
		n := copy(d.tombs, d.tombs[j:])
		clear(d.tombs[n:])
		d.tombs = d.tombs[:n]
	}
	if len(d.gone) == 0 {
		return
	}
	// Drop the gone records from recs in one pass over the IDs, from the first of them.
	slices.SortFunc(d.gone, func(a, b *decEnt) int { return cmpRec(recRef{id: a.id}, b.id) })
	k, _ := slices.BinarySearchFunc(d.recs, d.gone[0].id, cmpRec)
	g := 0
	for _, e := range d.recs[k:] {
		if g < len(d.gone) && e.id == d.gone[g].id {
			g++
			continue
		}
		d.recs[k] = e
		k++
	}
	clear(d.recs[k:])
	d.recs = d.recs[:k]
	for _, r := range d.gone {
		if len(d.free) < 4096 {
			d.free = append(d.free, r)
		}
	}
	clear(d.gone)
	d.gone = d.gone[:0]
}
