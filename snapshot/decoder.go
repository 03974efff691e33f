package snapshot

import (
	"encoding/binary"
	"fmt"
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
	ents   map[EntityID]*decEnt
	tombs  []*decEnt // records not in the world, purged once History packets old
	free   []*decEnt
	have   bool
	newest uint16 // newest packet seq received
	newExt int64  // newest, extended to 64 bits
	mask   uint32 // bit i: packet newest-1-i received
	stride int    // values per stored version (registry's largest field count)

	hint    int // world index at or below the next entity applied (IDs ascend)
	br      bitReader
	pred    []uint32
	entries []decEntry
	vals    []uint32
}

type decEntry struct {
	rec *decEnt // nil for an entity the decoder does not know yet
	id  EntityID
	op  uint8
	typ TypeID
	off int // into Decoder.vals
	n   int
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
	id      EntityID
	inWorld bool
	hasLast bool
	last    int64  // extended seq of the last applied version or removal
	tick    uint32 // tick of the packet that last updated it
	listed  bool   // in tombs
	slots   [decSlots]decSlot
}

// NewDecoder returns a decoder for types registered in r (register them all first).
func NewDecoder(r *Registry) *Decoder {
	return &Decoder{reg: r, world: NewWorld(r), ents: make(map[EntityID]*decEnt)}
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
	r := d.ents[id]
	if r == nil || !r.inWorld {
		return 0, false
	}
	return r.tick, true
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
	if err := d.parse(pkt[HeaderLen:], ext, info.Tick, &info); err != nil {
		return info, err
	}
	d.noteReceived(info.Seq, ext)
	d.hint = 0
	for i := range d.entries {
		if d.apply(&d.entries[i], ext, info.Tick) {
			info.Applied++
		}
	}
	d.purge()
	return info, nil
}

// parse decodes the entries into d.entries/d.vals without changing any state.
func (d *Decoder) parse(body []byte, ext int64, tick uint32, info *PacketInfo) error {
	br := &d.br
	br.reset(body)
	d.entries = d.entries[:0]
	d.vals = d.vals[:0]
	prev := int64(-1)
	newRecs := 0
	common := int64(br.read(5))     // baseline distance of deltas that do not name their own
	commonPrev := int64(br.read(5)) // the same for prediction sources
	for {
		op := uint8(br.read(2))
		if br.bad {
			return fmt.Errorf("%w: no end marker", ErrTruncated)
		}
		if op == opEnd {
			break
		}
		var gap uint32
		switch {
		case br.read(1) == 0:
		case br.read(1) == 0:
			gap = br.read(4)
		case br.read(1) == 0:
			gap = br.read(12)
		default:
			gap = br.read(32)
		}
		id := prev + 1 + int64(gap)
		if br.bad {
			return fmt.Errorf("%w: in entity ID", ErrTruncated)
		}
		if id > 1<<32-1 {
			return fmt.Errorf("%w: entity ID beyond 32 bits", ErrCorrupt)
		}
		prev = id
		rec := d.ents[EntityID(id)]
		en := decEntry{rec: rec, id: EntityID(id), op: op, off: len(d.vals)}
		if rec == nil {
			newRecs++
			if len(d.ents)+newRecs > MaxDecoderEntities {
				return fmt.Errorf("%w: more than %d entities", ErrCorrupt, MaxDecoderEntities)
			}
		}
		switch op {
		case opRemove:
			info.Removals++
		case opWhole:
			en.typ = TypeID(br.read(8))
			t := d.reg.types[en.typ]
			if br.bad {
				return fmt.Errorf("%w: in entity %d", ErrTruncated, id)
			}
			if t == nil {
				return fmt.Errorf("%w: %d (entity %d)", ErrUnknownType, en.typ, id)
			}
			if len(t.fields) > d.stride {
				return fmt.Errorf("%w: type %d registered after decoding began", ErrUnknownType, en.typ)
			}
			for i := range t.fields {
				f := &t.fields[i]
				v := br.read(uint(f.Bits))
				if v > f.maxQ {
					return fmt.Errorf("%w: entity %d field %s = %d", ErrCorrupt, id, f.Name, v)
				}
				d.vals = append(d.vals, v)
			}
			en.n = len(t.fields)
			info.Entities++
		case opDelta:
			dist := common
			if br.read(1) == 1 {
				dist = int64(br.read(5))
			}
			if br.bad {
				return fmt.Errorf("%w: in entity %d", ErrTruncated, id)
			}
			if dist == 0 {
				return fmt.Errorf("%w: entity %d: baseline distance 0", ErrCorrupt, id)
			}
			base := ext - dist
			slot := int(base % decSlots)
			if rec == nil || rec.vals == nil || rec.slots[slot].seq != base {
				return fmt.Errorf("%w: entity %d, packet %d", ErrMissingBaseline, id, uint16(base))
			}
			en.typ = rec.slots[slot].typ
			t := d.reg.types[en.typ]
			if t == nil {
				return fmt.Errorf("%w: %d (entity %d)", ErrUnknownType, en.typ, id)
			}
			old := rec.vals[slot*d.stride : slot*d.stride+len(t.fields)]
			if br.read(1) == 1 { // predicted from an older version and the baseline
				pd := commonPrev
				if br.read(1) == 1 {
					pd = int64(br.read(5))
				}
				if br.bad {
					return fmt.Errorf("%w: in entity %d", ErrTruncated, id)
				}
				if pd <= dist {
					return fmt.Errorf("%w: entity %d: prediction source %d not older than baseline %d", ErrCorrupt, id, pd, dist)
				}
				ps := int((ext - pd) % decSlots)
				if rec.slots[ps].seq != ext-pd || rec.slots[ps].typ != en.typ {
					return fmt.Errorf("%w: entity %d, packet %d (prediction)", ErrMissingBaseline, id, uint16(ext-pd))
				}
				num, den := tick-rec.slots[slot].tick, rec.slots[slot].tick-rec.slots[ps].tick
				if !predictable(num, den) {
					return fmt.Errorf("%w: entity %d: prediction over ticks %d/%d", ErrCorrupt, id, num, den)
				}
				d.pred = predict(t, old, rec.vals[ps*d.stride:ps*d.stride+len(t.fields)], num, den, d.pred)
				old = d.pred
			}
			for i := range t.fields {
				f := &t.fields[i]
				v := old[i]
				if br.read(1) == 1 {
					b := uint(f.Bits)
					switch {
					case b == 1:
						v ^= 1
					case b <= 4:
						v = br.read(b)
					case br.read(1) == 0:
						v = unzigzag(v, uint64(br.read(4))+1, b)
					case br.read(1) == 0:
						v = unzigzag(v, uint64(br.read(8))+1, b)
					case br.read(1) == 0:
						v = unzigzag(v, uint64(br.read(12))+1, b)
					default:
						v = br.read(b)
					}
					if v > f.maxQ {
						return fmt.Errorf("%w: entity %d field %s = %d", ErrCorrupt, id, f.Name, v)
					}
				}
				d.vals = append(d.vals, v)
			}
			if br.bad {
				return fmt.Errorf("%w: in entity %d", ErrTruncated, id)
			}
			en.n = len(t.fields)
			info.Entities++
		}
		d.entries = append(d.entries, en)
	}
	// Only zero padding to the byte boundary may follow the end marker.
	rest := br.remaining()
	if rest >= 8 {
		return fmt.Errorf("%w: %d bytes after end marker", ErrCorrupt, rest/8)
	}
	if br.read(rest) != 0 {
		return fmt.Errorf("%w: non-zero padding", ErrCorrupt)
	}
	return nil
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

func (d *Decoder) record(id EntityID) *decEnt {
	if r := d.ents[id]; r != nil {
		return r
	}
	var r *decEnt
	if n := len(d.free); n > 0 {
		r = d.free[n-1]
		d.free = d.free[:n-1]
		vals := r.vals
		*r = decEnt{vals: vals}
	} else {
		r = &decEnt{}
	}
	r.id = id
	d.ents[id] = r
	return r
}

// apply stores an entry as a possible baseline and, if it is newer than what the entity
// has, makes it current. It reports whether the current state changed.
func (d *Decoder) apply(en *decEntry, ext int64, tick uint32) bool {
	r := en.rec
	if r == nil {
		r = d.record(en.id)
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
			d.world.Remove(en.id)
			return true
		}
		return false
	}
	q := d.vals[en.off : en.off+en.n]
	slot := int(ext % decSlots)
	if r.slots[slot].seq < ext {
		if r.vals == nil {
			r.vals = make([]uint32, decSlots*d.stride)
		}
		r.slots[slot] = decSlot{seq: ext, tick: tick, typ: en.typ}
		copy(r.vals[slot*d.stride:], q)
	}
	if !newer {
		return false
	}
	r.hasLast, r.last, r.tick = true, ext, tick
	r.inWorld = true
	d.hint = d.world.putFrom(d.hint, en.id, en.typ, q)
	return true
}

// purge forgets removed entities once no packet that could mention them is usable.
func (d *Decoder) purge() {
	j := 0
	for _, r := range d.tombs {
		switch {
		case r.inWorld:
			r.listed = false
		case d.newExt-r.last >= History:
			delete(d.ents, r.id)
			r.listed = false
			if len(d.free) < 4096 {
				d.free = append(d.free, r)
			}
		default:
			d.tombs[j] = r
			j++
		}
	}
	clear(d.tombs[j:])
	d.tombs = d.tombs[:j]
}
