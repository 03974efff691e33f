package snapshot

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// Wire constants.
const (
	// Version is the first byte of every packet and ack: the wire format's version.
	Version = 2
	// HeaderLen is the size of a packet header: version, seq, tick.
	HeaderLen = 7
	// DefaultMaxPacketBytes is the default packet size cap (fits one SCTP chunk).
	DefaultMaxPacketBytes = 1100
	// DefaultMaxPacketsPerSend is the default number of packets one Encode may produce.
	DefaultMaxPacketsPerSend = 4
	// MaxPacketBytesLimit is the largest packet an encoder produces or a decoder accepts.
	MaxPacketBytesLimit = 4096
	// MinPacketBytes is the smallest allowed MaxPacketBytes.
	MinPacketBytes = 64
	// History is how many sequence numbers back a delta baseline may be: a packet may
	// refer to a baseline 1..History-1 packets older than itself.
	History = 32
)

// Entry operations, prefix-coded (first bit first): "1" a delta in its type's common
// form, "01" a delta naming its baseline and prediction, "001" whole, "0001" removal,
// "0000" end.
const (
	opEnd    = 0
	opDelta  = 1 // explicit delta
	opWhole  = 2
	opRemove = 3
	opCommon = 4 // delta in the common form
)

// opCode returns an operation's prefix code (first bit lowest) and length.
func opCode(op uint8) (uint32, uint) {
	switch op {
	case opCommon:
		return 1, 1 // 1
	case opDelta:
		return 2, 2 // 0 1
	case opWhole:
		return 4, 3 // 0 0 1
	case opRemove:
		return 8, 4 // 0 0 0 1
	}
	return 0, 4 // 0 0 0 0
}

// maxPredDist bounds the prediction distances (from the common baseline, in packets)
// an encoder tries for a type's common form.
const maxPredDist = 8

const sentRing = 64 // packets remembered for acks; must exceed History

// gapBits is the cost of an ID gap: a unary class prefix and its payload.
func gapBits(g uint32) uint {
	switch {
	case g == 0:
		return 1
	case g < 1<<4:
		return 2 + 4
	case g < 1<<12:
		return 3 + 12
	}
	return 3 + 32
}

func writeGap(w *bitWriter, g uint32) {
	switch {
	case g == 0:
		w.write(0, 1)
	case g < 1<<4:
		w.write(1, 2) // bits 1, 0
		w.write(g, 4)
	case g < 1<<12:
		w.write(3, 3) // bits 1, 1, 0
		w.write(g, 12)
	default:
		w.write(7, 3) // bits 1, 1, 1
		w.write(g, 32)
	}
}

// fieldWriter collects a delta's field bits, first bit lowest, in deltaWords words.
type fieldWriter struct {
	w [deltaWords]uint64
	n uint
}

// gather adds code b of k bits at bit position n of a delta's field bits held in lo and
// hi, and returns them: codes past deltaWords*64 bits are left out (only their length
// counts). Codes are at most codeClasses+32 bits, so most deltas fit in lo; the masks
// (no-ops on the branches' ranges) spare the shifts' range checks. Its callers keep
// lo and hi in registers.
func gather(lo, hi uint64, n uint, b uint64, k uint) (uint64, uint64) {
	switch nb := n + k; {
	case nb <= 64:
		lo |= b << (n & 63)
	case nb > deltaWords*64:
	case n < 64: // 64-n is 1..63: k < 64 and nb > 64
		lo |= b << (n & 63)
		hi |= b >> ((64 - n) & 63)
	default:
		hi |= b << ((n - 64) & 63)
	}
	return lo, hi
}

// EncoderConfig configures an Encoder. The zero value works.
type EncoderConfig struct {
	// MaxPacketBytes caps each packet, header included. Default DefaultMaxPacketBytes
	// (1100); clamped to [MinPacketBytes, MaxPacketBytesLimit].
	MaxPacketBytes int
	// MaxPacketsPerSend caps the packets of one Encode. Default DefaultMaxPacketsPerSend (4),
	// at most History/2 (16). Entities that do not fit wait for a later send: each send an
	// entity waits raises its priority, so every entity is eventually sent.
	MaxPacketsPerSend int
	// DisableDelta sends every entity whole on every send (for comparison and debugging).
	DisableDelta bool
	// Cache, if set, shares delta computations between the encoders that use it
	// (typically all the clients of one host): an entity's delta from a given
	// baseline version to its current version is computed once, by the first
	// encoder that needs it. Encoders sharing a Cache must not Encode concurrently.
	// It changes no byte of the output. Default nil: each encoder computes its own.
	Cache *EncodeCache
}

// EncodeStats describes the last Encode.
type EncodeStats struct {
	Packets  int // packets produced
	Bytes    int // total bytes of those packets
	Whole    int // entities sent whole
	Deltas   int // entities sent as deltas
	Removals int // removal entries
	Deferred int // entities (or removals) that needed sending but did not fit
}

// Encoder encodes a World for one client against the entity versions that client has
// acknowledged. One goroutine owns it.
//
// Memory is bounded by the entities it tracks: one record per entity in the world plus
// one per removed entity whose removal the client has not acknowledged yet (a client that
// never acks keeps those; drop such clients). Each record keeps History versions.
type Encoder struct {
	reg       *Registry
	cfg       EncoderConfig
	payload   uint // usable bits per packet (after header and end marker)
	err       error
	seq       uint64 // last packet sequence number used (internal, never wraps)
	sends     uint64
	recs      []*encEnt // sorted by id
	recs2     []*encEnt
	free      []*encEnt
	all       []*encEnt // every record by index (encEnt.idx); nil: released
	freeIdx   []freeIdx // released indices
	cands     []*encEnt
	sent      [sentRing]sentPacket
	acked     uint64 // the newest packet the client acknowledged, 0 = none
	common    uint64 // this send's common baseline packet (the newest acked), 0 = none
	tick      uint32 // tick of the send being encoded
	types     [256]*encType
	typeList  []*encType // the types in types, ascending IDs
	table     []*encType // this send's type table, ascending type IDs
	tableBits uint       // bits of the type table in each packet
	tb        uint       // bits of a whole entry's type index
	uA, uB    []uint32   // residual scratch
	pr        predRatio  // the last prediction's tick ratio (most predictions share it)
	bw        bitWriter
	stats     EncodeStats
}

// encType is an encoder's per-type state: the field codes and the common form's
// prediction distance of this send, chosen from what the previous sends saw.
type encType struct {
	t      *Type
	fields []decField  // the type's fields, compiled (shared with the decoder's prediction), with this send's ks
	codes  []fieldCode // this send's field codes
	sig    uint64      // names the codes (their ks) for the EncodeCache, never 0
	hist   []codeHist  // this send's residuals, which choose the next send's codes
	seen   bool        // hist holds something
	d      uint64      // this send's prediction distance from the common baseline (0: none)
	prev   uint64      // this send's prediction source packet, common - d (0: none)
	num    uint32      // ticks from the common baseline to this send
	den    uint32      // ticks from prev to the common baseline
	// dcost[d] is a decaying average (×16) of the field bits of a sampled entity
	// predicted from distance d (0: not predicted).
	dcost   [maxPredDist + 1]uint32
	sampled bool  // an entity was sampled this send
	inTable bool  // in this send's table
	idx     uint8 // index in the table
}

// encEnt is the encoder's view of one entity for this client. The fields every send
// reads come first, so that a send touches few cache lines of each record.
type encEnt struct {
	t         *Type
	cur       []uint32 // world values during Encode
	id        EntityID
	gen       uint32 // incremented when the record is recycled
	curVer    uint64 // version (World) of cur
	validFrom uint64 // only packets >= validFrom may become baselines (incarnation start)
	base      uint64 // acked baseline packet, 0 = none
	prev      uint64 // newest acked packet older than base (for prediction), 0 = none
	lastSent  uint64 // last packet that carried a version, 0 = none
	baseVer   uint64 // World version carried by packet base
	prevVer   uint64 // and by packet prev
	baseTick  uint32 // tick of packet base
	prevTick  uint32 // tick of packet prev
	prio      uint32 // priority accumulator
	cost      uint32 // bits of this send's entry, without the ID gap
	typ       TypeID
	inWorld   bool
	removing  bool // gone from the world; removal pending until acked
	sent      bool // the client may know this entity
	predict   bool // this send's delta is against a prediction from predFrom and base
	delta     bool // this send's entry is a delta against base
	common    bool // in its type's common form (base and prediction as the table says)
	selected  bool
	fitted    bool // dbits holds this send's field bits (dn of them)
	dn        uint16
	dbits     [deltaWords]uint64
	idx       int32    // index in Encoder.all
	predFrom  uint64   // this send's prediction source packet, when predict
	pred      []uint32 // this send's prediction, when predict and !fitted
	vals      []uint32 // History versions, nf values each
	// ringSeq[s%History] is s when vals holds the version packet s carried (and
	// ringVer[s%History] its World version). A version at or after the oldest
	// usable baseline, or the last one sent, is always still there: only a packet
	// History later can overwrite it.
	ringSeq [History]uint64
	ringVer [History]uint64
}

type freeIdx struct {
	idx int32
	gen uint32 // the generation of the next record with this index
}

type sentPacket struct {
	seq   uint64 // 0 = empty slot
	tick  uint32
	acked bool
	refs  []entRef
}

// entRef names an entity record in a sent packet by its index in Encoder.all (no
// pointer: the garbage collector need not scan the sent packets); gen detects a
// recycled record.
type entRef struct {
	idx     int32
	ver     uint64 // World version of the entity carried
	gen     uint32
	removal bool
}

// NewEncoder returns an encoder for one client. Register all types in r first.
func NewEncoder(r *Registry, cfg EncoderConfig) *Encoder {
	if cfg.MaxPacketBytes == 0 {
		cfg.MaxPacketBytes = DefaultMaxPacketBytes
	}
	cfg.MaxPacketBytes = min(max(cfg.MaxPacketBytes, MinPacketBytes), MaxPacketBytesLimit)
	if cfg.MaxPacketsPerSend <= 0 {
		cfg.MaxPacketsPerSend = DefaultMaxPacketsPerSend
	}
	cfg.MaxPacketsPerSend = min(cfg.MaxPacketsPerSend, History/2)
	// The fixed bits of a packet's stream: common, the table's size, the end.
	e := &Encoder{reg: r, cfg: cfg, payload: uint(cfg.MaxPacketBytes-HeaderLen)*8 - 5 - 8 - 4}
	for _, t := range r.types {
		if t == nil {
			continue
		}
		// A whole entry (op, ID gap, type index, values) and its type's table entry.
		if need := uint(3+35+8+t.bits) + tableEntryMax(t); need > e.payload {
			e.err = fmt.Errorf("%w: %s needs %d bits, a packet holds %d", ErrEntityTooLarge, t.name, need, e.payload)
		}
	}
	return e
}

// Config returns the effective configuration (defaults applied).
func (e *Encoder) Config() EncoderConfig { return e.cfg }

// Stats describes the last Encode.
func (e *Encoder) Stats() EncodeStats { return e.stats }

func (e *Encoder) nextSeq() uint64 {
	e.seq++
	if uint16(e.seq) == 0 { // wire seq 0 is reserved: the zero Ack means "nothing"
		e.seq++
	}
	return e.seq
}

func (e *Encoder) newRec(id EntityID) *encEnt {
	var r *encEnt
	if n := len(e.free); n > 0 {
		r = e.free[n-1]
		e.free = e.free[:n-1]
		vals, gen, pred, idx := r.vals, r.gen, r.pred, r.idx
		*r = encEnt{vals: vals, gen: gen, pred: pred, idx: idx}
	} else if n := len(e.freeIdx); n > 0 {
		f := e.freeIdx[n-1]
		e.freeIdx = e.freeIdx[:n-1]
		r = &encEnt{idx: f.idx, gen: f.gen}
		e.all[f.idx] = r
	} else {
		r = &encEnt{idx: int32(len(e.all))}
		e.all = append(e.all, r)
	}
	r.id = id
	r.validFrom = e.seq + 1
	return r
}

func (e *Encoder) setType(r *encEnt, t *Type) {
	e.encType(t)
	r.t, r.typ = t, t.id
	if need := History * len(t.fields); cap(r.vals) < need {
		r.vals = make([]uint32, need)
	}
	r.vals = r.vals[:History*len(t.fields)]
	r.ringSeq = [History]uint64{}
	r.ringVer = [History]uint64{}
}

// newIncarnation forgets baselines: the next send of r is whole.
func (e *Encoder) newIncarnation(r *encEnt) {
	r.validFrom = e.seq + 1
	r.base, r.prev, r.lastSent = 0, 0, 0
	r.removing = false
}

func (r *encEnt) version(seq uint64) []uint32 {
	n := len(r.t.fields)
	i := int(seq%History) * n
	return r.vals[i : i+n]
}

// Encode appends this send's packets to dst and returns it. It reuses the capacity of
// dst's elements beyond len(dst) (pass dst[:0] of the previous result), so a steady-state
// send allocates nothing. Each packet is at most MaxPacketBytes and decodable on its own;
// there is always at least one packet (it carries tick and keeps acks flowing). tick is
// the host tick the state belongs to. Encode only reads w: encoders of several clients may
// encode the same world concurrently while nothing modifies it.
func (e *Encoder) Encode(dst [][]byte, w *World, tick uint32) ([][]byte, error) {
	return e.EncodeWith(dst, w, tick, EncodeOptions{})
}

// EncodeWith is Encode with per-send options: the client's interest (which entities
// it receives, and how urgently) and a byte budget for this send. See EncodeOptions.
func (e *Encoder) EncodeWith(dst [][]byte, w *World, tick uint32, o EncodeOptions) ([][]byte, error) {
	if e.err != nil {
		return dst, e.err
	}
	e.stats = EncodeStats{}
	e.sends++
	in := o.Interest
	// Baselines must stay within History of every packet of this send.
	lastPossible := e.seq + uint64(e.cfg.MaxPacketsPerSend) + 1
	oldest := uint64(0)
	if lastPossible >= History {
		oldest = lastPossible - (History - 1)
	}
	e.tick = tick
	e.startSend(oldest)

	// 1. Merge the world (ascending IDs) with our records (ascending IDs), and
	// tally what is to send on the way (one pass over the records, not several).
	var tl tally
	tl.prevID = -1
	out := e.recs2[:0]
	recs := e.recs
	ri := 0
	for _, we := range w.ents {
		for ri < len(recs) && recs[ri].id < we.id {
			r := recs[ri]
			ri++
			if e.goneFromWorld(r) {
				out = append(out, r)
				tl.add(e, r)
			}
		}
		var r *encEnt
		have := ri < len(recs) && recs[ri].id == we.id
		if have {
			r = recs[ri]
			ri++
		}
		weight := uint32(1)
		if in != nil {
			weight = in.Weight(we.id, we.typ, we.q, have && r.sent && !r.removing)
			if weight == 0 { // not for this client: as if gone from the world
				if have && e.goneFromWorld(r) {
					out = append(out, r)
					tl.add(e, r)
				}
				continue
			}
		}
		if !have {
			r = e.newRec(we.id)
		}
		out = append(out, r)
		if r.t == nil || r.typ != we.typ {
			if r.t != nil {
				e.newIncarnation(r)
			}
			e.setType(r, w.reg.types[we.typ])
		} else if r.removing {
			e.newIncarnation(r)
		}
		r.inWorld = true
		r.cur, r.curVer = we.q, we.ver
		r.selected = false
		if e.plan(r, oldest) {
			r.prio += weight
		}
		tl.add(e, r)
	}
	for ; ri < len(recs); ri++ {
		r := recs[ri]
		if e.goneFromWorld(r) {
			out = append(out, r)
			tl.add(e, r)
		}
	}
	e.recs, e.recs2 = out, recs[:0]
	total, pending := tl.total, tl.pending
	maxCost := tl.maxCost + 35 + 8 // with the longest ID gap and a type index

	// 2. Choose what goes now. Everything, if it fits with room for packing slack;
	// otherwise the highest accumulated priorities.
	maxPk, lastPayload := e.packetBudget(o.MaxBytes)
	capacity := uint64(e.payload)*uint64(maxPk-1) + uint64(lastPayload)
	slack := uint64(maxCost) * uint64(maxPk)
	if total+slack > capacity { // (otherwise tally selected everything and listed its types)
		c := e.cands[:0]
		for _, r := range e.recs {
			if r.cost > 0 {
				r.selected = false
				c = append(c, r)
			}
		}
		slices.SortFunc(c, byPriority)
		var sum uint64
		for _, r := range c {
			sum += uint64(r.cost) + 14
			if sum+slack > capacity {
				break
			}
			r.selected = true
		}
		clear(c)
		e.cands = c[:0]
		for _, et := range e.typeList {
			et.inTable = false
		}
		for _, r := range e.recs {
			if r.selected && !r.removing {
				e.types[r.typ].inTable = true
			}
		}
	}
	e.buildTable()

	// 3. Pack the chosen entities in ID order.
	start := len(dst)
	dst, pk := e.startPacket(dst, tick)
	used := uint(0)
	prev := int64(-1)
	full := false
	limit := e.payload - e.tableBits // of the packet being filled: the last one may be smaller
	if maxPk == 1 {
		limit = lastPayload - min(lastPayload, e.tableBits)
	}
	for _, r := range e.recs {
		if !r.selected {
			r.cur = nil
			continue
		}
		r.selected = false
		if full {
			r.cur = nil
			continue
		}
		cost := uint(r.cost)
		if !r.delta && !r.removing {
			cost += e.tb
		}
		need := cost + gapBits(uint32(int64(r.id)-prev-1))
		if used+need > limit {
			if used > 0 {
				e.finishPacket(dst)
				if len(dst)-start == maxPk {
					full = true
					r.cur = nil
					continue
				}
				dst, pk = e.startPacket(dst, tick)
				used, prev = 0, -1
				need = cost + gapBits(uint32(r.id))
				if len(dst)-start == maxPk {
					limit = lastPayload - min(lastPayload, e.tableBits)
				}
			}
			if need > limit {
				r.cur = nil
				continue // only in a packet cut short by MaxBytes: it waits
			}
		}
		gap := uint32(int64(r.id) - prev - 1)
		prev = int64(r.id)
		used += need
		e.writeEntity(r, pk, gap)
		r.cur = nil
	}
	if !full {
		e.finishPacket(dst)
	}
	e.stats.Packets = len(dst) - start
	e.stats.Deferred = pending - e.stats.Whole - e.stats.Deltas - e.stats.Removals
	for _, p := range dst[start:] {
		e.stats.Bytes += len(p)
	}
	return dst, nil
}

// startSend prepares a send: the common baseline (the newest packet the client
// acknowledged, if every packet of the send can name it), and for each type the
// field codes and the common form's prediction, from what the previous sends saw.
func (e *Encoder) startSend(oldest uint64) {
	e.common = 0
	if e.acked != 0 && e.acked >= oldest {
		e.common = e.acked
	}
	for _, et := range e.typeList {
		et.sampled, et.inTable = false, false
		// The codes follow the residuals of the last four sends.
		if et.seen && e.sends%4 == 1 {
			for i := range et.codes {
				et.codes[i] = makeFieldCode(bestK(&et.hist[i], uint(et.t.fields[i].Bits)), uint(et.t.fields[i].Bits))
			}
			et.sig = codesSig(et.codes)
			for i := range et.codes {
				et.fields[i].k = et.codes[i].k
			}
			clear(et.hist)
			et.seen = false
		}
		// The cheapest distance whose packet the client acknowledged.
		et.d, et.prev = 0, 0
		best := et.dcost[0]
		for d := uint64(1); d <= maxPredDist && e.common != 0; d++ {
			if et.dcost[d] >= best || d >= e.common || e.common-d < oldest {
				continue
			}
			p := e.common - d
			sp, sc := &e.sent[p%sentRing], &e.sent[e.common%sentRing]
			num, den := e.tick-sc.tick, sc.tick-sp.tick
			if sp.seq == p && sp.acked && predictable(num, den) {
				et.d, et.prev, et.num, et.den, best = d, p, num, den, et.dcost[d]
			}
		}
	}
}

// codesSig names a type's field codes: an FNV-1a hash of their ks, never 0.
func codesSig(codes []fieldCode) uint64 {
	h := uint64(14695981039346656037)
	for i := range codes {
		h = (h ^ uint64(codes[i].k)) * 1099511628211
	}
	return h | 1
}

// encType returns the state of type t.
func (e *Encoder) encType(t *Type) *encType {
	et := e.types[t.id]
	if et == nil {
		et = &encType{t: t, codes: make([]fieldCode, len(t.fields)), hist: make([]codeHist, len(t.fields))}
		for i := range et.codes {
			et.codes[i] = makeFieldCode(0, uint(t.fields[i].Bits))
			et.fields = append(et.fields, compileDec(&t.fields[i]))
		}
		et.sig = codesSig(et.codes)
		// Until a sample says otherwise, predict from the packet before the baseline.
		et.dcost[0] = 1
		e.types[t.id] = et
		e.typeList = append(e.typeList, et)
		slices.SortFunc(e.typeList, func(a, b *encType) int { return cmp.Compare(a.t.id, b.t.id) })
	}
	return et
}

// tally sums up, record by record in ascending IDs, what a send has to send.
type tally struct {
	total   uint64 // bits of every entry to send, with its ID gap
	maxCost uint32 // bits of the largest entry, without its ID gap
	pending int    // entries to send
	prevID  int64  // the last entry's ID (-1: none yet)
}

// add counts r, and selects it (and lists its type in the table) if it has something
// to send: everything goes unless it does not fit.
func (t *tally) add(e *Encoder, r *encEnt) {
	if r.cost == 0 {
		return
	}
	t.total += uint64(r.cost) + uint64(gapBits(uint32(int64(r.id)-t.prevID-1)))
	t.prevID = int64(r.id)
	t.maxCost = max(t.maxCost, r.cost)
	t.pending++
	r.selected = true
	if !r.removing {
		e.types[r.typ].inTable = true
	}
}

// buildTable lists the types marked inTable (those of this send's selected deltas
// and wholes) in ascending type IDs, and computes the table's bits and a whole
// entry's type index width.
func (e *Encoder) buildTable() {
	e.table = e.table[:0]
	e.tableBits = 0
	for _, et := range e.typeList {
		if !et.inTable {
			continue
		}
		et.idx = uint8(len(e.table))
		e.table = append(e.table, et)
		e.tableBits += 8 + 5
		for i := range et.codes {
			e.tableBits += kCodeBits(uint(et.codes[i].k))
		}
	}
	e.tb = 0
	if n := len(e.table); n > 1 {
		e.tb = uint(bitLen(uint32(n - 1)))
	}
}

// tableEntryMax is the most bits a type's table entry takes.
func tableEntryMax(t *Type) uint { return 8 + 5 + 6*uint(len(t.fields)) }

func byPriority(a, b *encEnt) int {
	if c := cmp.Compare(b.prio, a.prio); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// goneFromWorld handles a record whose entity is not in the world: it returns true if the
// record stays (a removal is pending) and false if it was recycled.
func (e *Encoder) goneFromWorld(r *encEnt) bool {
	r.inWorld = false
	r.cur = nil
	r.selected = false
	if !r.sent {
		e.recycle(r)
		return false
	}
	if !r.removing {
		r.removing = true
		r.validFrom = e.seq + 1 // acks of older packets must not complete the removal
	}
	r.prio += 4                // removals are tiny; send them promptly
	r.cost, r.delta = 4, false // op 0001
	return true
}

func (e *Encoder) recycle(r *encEnt) {
	r.cur = nil
	r.gen++
	if len(e.free) < 4096 {
		e.free = append(e.free, r)
	} else {
		// Let the record go; its index (and next generation) serve a later one.
		e.all[r.idx] = nil
		e.freeIdx = append(e.freeIdx, freeIdx{idx: r.idx, gen: r.gen})
	}
}

// plan decides whether r must be sent and computes its cost (0 = nothing to send),
// without the ID gap (and, for a whole entry, the type index).
func (e *Encoder) plan(r *encEnt, oldest uint64) bool {
	t := r.t
	whole := uint32(3 + t.bits) // op and values; the type index is added when packing
	r.delta, r.predict, r.fitted, r.common = false, false, false, false
	// A baseline before oldest may have been overwritten unless it is the last
	// version sent; either way such a baseline is only used to find "unchanged".
	hasBase := r.base != 0 && r.base >= r.validFrom
	if !hasBase || e.cfg.DisableDelta {
		r.cost = whole
		return true
	}
	acked := r.lastSent == r.base // the client holds exactly the last version sent
	if acked && r.baseVer == r.curVer {
		r.cost = 0 // unchanged since the acknowledged version
		return false
	}
	if r.base < oldest {
		if acked && slices.Equal(r.cur, r.version(r.base)) {
			r.cost = 0
			return false
		}
		r.cost = whole
		return true
	}
	et := e.types[t.id]
	// The candidates: the common form (the common baseline, predicted as the
	// type's table says), and an explicit delta, unpredicted or predicted from the
	// newest acknowledged version before the baseline.
	common := r.base == e.common
	var pc uint64 // the common form's prediction source, if the common form applies
	if common && et.prev != 0 {
		if p := et.prev; r.ringSeq[p%History] == p && p >= r.validFrom {
			pc = p
		} else {
			common = false
		}
	}
	if common && !et.sampled && e.sends%4 == 0 && (uint64(r.idx)+e.sends/4)%4 == 0 {
		et.sampled = true
		e.sample(r, et, oldest)
	}
	cost := whole
	var u []uint32
	var fws [2]fieldWriter // the best so far, and the candidate
	best := 0
	try := func(from uint64, overhead uint32, isCommon bool) {
		fw := &fws[1-best] // codeDelta sets all of it
		v, c := e.codeDelta(r, et, from, fw)
		if c += overhead; c < cost {
			cost, u, best = c, v, 1-best
			r.delta, r.common, r.predict, r.predFrom = true, isCommon, from != 0, from
		}
	}
	switch {
	case common && pc != 0:
		try(pc, 1, true)
		// Unpredicted (explicit: op, common baseline, no prediction) only when the
		// prediction did badly (a turn, a teleport).
		if !r.delta || cost > uint32(4*len(t.fields))+1 {
			try(0, 2+1+1, false)
		}
	case common:
		try(0, 1, true)
	default:
		baseBits := uint32(1)
		if r.base != e.common {
			baseBits = 6
		}
		try(0, 2+baseBits+1, false)
		if r.prev != 0 && e.usable(r, r.prev, oldest) {
			try(r.prev, 2+baseBits+6, false)
		}
	}
	if acked && r.delta && allZero(u) && (!r.predict || slices.Equal(r.cur, r.version(r.base))) {
		r.delta, r.cost = false, 0 // the client acknowledged exactly these values
		return false
	}
	r.cost = cost
	if r.delta {
		if fw := &fws[best]; fw.n <= deltaWords*64 {
			r.fitted, r.dn = true, uint16(fw.n)
			r.dbits[0], r.dbits[1] = fw.w[0], fw.w[1]
		} else if r.predict {
			// Written from the values: writeEntity needs the prediction.
			r.pred = e.predict(r, et, r.predFrom, r.pred)
		}
		h := et.hist[:len(u)]
		for i, x := range u {
			h[i][bits.Len32(x)]++
		}
		et.seen = true
	}
	return true
}

func allZero(u []uint32) bool {
	for _, x := range u {
		if x != 0 {
			return false
		}
	}
	return true
}

// usable reports whether r's version in packet p may be a prediction source: the
// client acknowledged p, and r holds the version p carried, of this incarnation.
func (e *Encoder) usable(r *encEnt, p, oldest uint64) bool {
	sp := &e.sent[p%sentRing]
	return p < r.base && p >= r.validFrom && p >= oldest && r.ringSeq[p%History] == p && sp.seq == p && sp.acked &&
		predictable(e.tick-r.baseTick, r.baseTick-sp.tick)
}

// sample measures, on entity r, what each prediction distance of the common form
// would cost, for the choice of the next sends' distance of r's type.
func (e *Encoder) sample(r *encEnt, et *encType, oldest uint64) {
	var fw fieldWriter
	_, base := e.codeDelta(r, et, 0, &fw)
	for dist := uint64(0); dist <= maxPredDist; dist++ {
		c := base
		if dist > 0 {
			c = base + 4 // unusable: an explicit, unpredicted delta
			if p := r.base - dist; dist < r.base && e.usable(r, p, oldest) {
				_, c = e.codeDelta(r, et, p, &fw)
			}
		}
		et.dcost[dist] = et.dcost[dist] - et.dcost[dist]/16 + c
	}
}

// deltaWords bounds the field bits a deltaPlan holds (longer deltas are written from
// the values).
const deltaWords = 2

// codeDelta codes r's fields against its baseline, predicted from its version in
// packet from (0: not predicted), with this send's codes: it writes the codes into fw
// while they fit and returns the residuals (Encoder scratch, valid until the call
// after next) and the codes' length.
func (e *Encoder) codeDelta(r *encEnt, et *encType, from uint64, fw *fieldWriter) ([]uint32, uint32) {
	fs, codes := et.fields, et.codes
	n := len(fs)
	codes = codes[:n]
	// Alternate scratch buffers: residuals stay valid while the next are made.
	if cap(e.uA) < n {
		e.uA = make([]uint32, n)
	}
	u := e.uA[:n]
	e.uA, e.uB = e.uB, e.uA
	cur := r.cur[:n]
	var num, den uint32
	if from != 0 {
		if r.base == e.common && from == et.prev {
			num, den = et.num, et.den
		} else {
			num, den = e.tick-r.baseTick, r.baseTick-e.sent[from%sentRing].tick
		}
	}
	c := e.cfg.Cache
	var key deltaKey
	if c != nil && n <= cacheFields {
		key = deltaKey{cur: r.curVer, base: r.baseVer}
		if from != 0 {
			key.prev, key.num, key.den = r.ringVer[from%History], num, den
		}
		if s := c.lookup(&key); s != nil {
			copy(u, s.u[:n])
			if s.sig == et.sig {
				fw.n, fw.w = uint(s.n), s.bits
				return u, s.n
			}
			bits := codeInto(codes, u, cur, fw)
			s.sig, s.n, s.bits = et.sig, bits, fw.w // the next encoder likely has these codes
			return u, bits
		}
	}
	b1 := r.version(r.base)[:n]
	// The codes' first deltaWords*64 bits are gathered in lo and hi.
	// One loop for both forms, without calls (a call makes the loop spill its
	// registers): a field's reference is its baseline, or the prediction from b0 and
	// the baseline when predicted.
	var lo, hi uint64
	bits := uint(0)
	pred, b0 := from != 0, b1
	if pred {
		b0 = r.version(from)[:n]
		if num != e.pr.num || den != e.pr.den {
			e.pr = newPredRatio(num, den)
		}
	}
	pr := &e.pr
	for i := range fs {
		f := &fs[i]
		p := b1[i]
		if pred && f.wide {
			if d := predDiff(f, p, b0[i]); d != 0 {
				var step int64
				if pr.exact {
					step = d * pr.q
				} else {
					step = pr.step(d * int64(pr.num))
				}
				p = predAdd(f, p, step)
			}
		}
		x := residual(p, cur[i], uint(f.bits))
		u[i] = x
		// fieldCode.code, inline: class 0 ("0" u:k) unless u >= 2^k = start[1].
		kk := uint(f.k) & 63 // <= 32: the mask spares the shifts' range checks
		b, k := uint64(x)<<1, 1+kk
		if c, v := &codes[i], uint64(x); c.plain && v < c.start[codeClasses] {
			// Class by arithmetic: without capped widths and below the escape,
			// class c holds the residuals of bit length k+c (0 for at most k, 4 for
			// more than k+3). Residuals vary: a branch on the class mispredicts.
			cl := uint(min(max(bitLen(x)-int(kk), 0), codeClasses-1))
			b, k = (1<<cl-1)|(v-c.start[cl])<<(cl+1), cl+1+uint(c.w[cl])
		} else if uint64(x)>>kk != 0 {
			switch {
			case v < c.start[2]:
				b, k = 1|(v-c.start[1])<<2, 2+uint(c.w[1])
			case v < c.start[3]:
				b, k = 3|(v-c.start[2])<<3, 3+uint(c.w[2])
			case v < c.start[4]:
				b, k = 7|(v-c.start[3])<<4, 4+uint(c.w[3])
			case v < c.start[5]:
				b, k = 15|(v-c.start[4])<<5, 5+uint(c.w[4])
			default:
				b, k = 1<<codeClasses-1|uint64(cur[i])<<codeClasses, codeClasses+uint(c.bits)
			}
		}
		lo, hi = gather(lo, hi, bits, b, k)
		bits += k
	}
	// Past deltaWords*64 bits only the length counts. (Word by word: a composite
	// literal built on the stack and copied stalls on store forwarding.)
	fw.w[0], fw.w[1], fw.n = lo, hi, bits
	if c != nil && n <= cacheFields {
		c.store(&key, u, et.sig, fw)
	}
	return u, uint32(bits)
}

// codeInto writes the codes of residuals u (of new values cur) into fw while they
// fit, and returns their length.
func codeInto(codes []fieldCode, u, cur []uint32, fw *fieldWriter) uint32 {
	var lo, hi uint64
	bits := uint(0)
	for i, x := range u {
		b, k := codes[i].code(x, cur[i])
		lo, hi = gather(lo, hi, bits, b, k)
		bits += k
	}
	fw.w[0], fw.w[1], fw.n = lo, hi, bits
	return uint32(bits)
}

// predict returns into out r's prediction from its baseline and its version in
// packet from.
func (e *Encoder) predict(r *encEnt, et *encType, from uint64, out []uint32) []uint32 {
	n := len(et.fields)
	if cap(out) < n {
		out = make([]uint32, n)
	}
	out = out[:n]
	predictDec(et.fields, r.version(r.base), r.version(from), out, e.tick-r.baseTick, r.baseTick-e.sent[from%sentRing].tick)
	// (For a common entry, r.baseTick is the common baseline's tick: the same ticks.)
	return out
}

// predictable reports whether a prediction may span these tick distances: num ticks from
// the baseline to now, den ticks from the older version to the baseline.
func predictable(num, den uint32) bool {
	return den >= 1 && den <= maxPredictTicks && num <= maxPredictTicks
}

// maxPredictTicks bounds a prediction's tick distances.
const maxPredictTicks = 1 << 16

func (e *Encoder) startPacket(dst [][]byte, tick uint32) ([][]byte, *sentPacket) {
	var buf []byte
	if len(dst) < cap(dst) {
		dst = dst[:len(dst)+1]
		buf = dst[len(dst)-1][:0]
	} else {
		dst = append(dst, nil)
	}
	if cap(buf) < e.cfg.MaxPacketBytes {
		buf = make([]byte, 0, e.cfg.MaxPacketBytes)
	}
	seq := e.nextSeq()
	buf = append(buf, Version)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(seq))
	buf = binary.LittleEndian.AppendUint32(buf, tick)
	e.bw.reset(buf)
	e.writeTable(seq)
	pk := &e.sent[seq%sentRing]
	pk.seq, pk.tick, pk.acked, pk.refs = seq, tick, false, pk.refs[:0]
	return dst, pk
}

// writeTable writes the start of packet seq's stream: the common baseline's distance
// and the type table.
func (e *Encoder) writeTable(seq uint64) {
	w := &e.bw
	if e.common != 0 {
		w.write(uint32(uint16(seq)-uint16(e.common)), 5)
	} else {
		w.write(0, 5)
	}
	w.write(uint32(len(e.table)), 8)
	for _, et := range e.table {
		w.write(uint32(et.t.id), 8)
		if et.prev != 0 {
			w.write(uint32(uint16(seq)-uint16(et.prev)), 5)
		} else {
			w.write(0, 5)
		}
		for i := range et.codes {
			if k := uint32(et.codes[i].k); k == 0 {
				w.write(0, 1)
			} else {
				w.write(1|(k-1)<<1, 6)
			}
		}
	}
}

func (e *Encoder) finishPacket(dst [][]byte) {
	c, n := opCode(opEnd)
	e.bw.write(c, n)
	dst[len(dst)-1] = e.bw.flush()
}

func (e *Encoder) writeEntity(r *encEnt, pk *sentPacket, gap uint32) {
	w := &e.bw
	seq := pk.seq
	r.prio = 0
	if r.removing {
		w.write(opCode(opRemove))
		writeGap(w, gap)
		pk.refs = append(pk.refs, entRef{idx: r.idx, gen: r.gen, removal: true})
		e.stats.Removals++
		return
	}
	t := r.t
	if r.delta {
		if r.common {
			w.write(opCode(opCommon))
			writeGap(w, gap)
		} else {
			w.write(opCode(opDelta))
			writeGap(w, gap)
			if r.base == e.common {
				w.write(0, 1)
			} else {
				w.write(1|uint32(uint16(seq)-uint16(r.base))<<1, 6)
			}
			if r.predict {
				w.write(1|uint32(uint16(seq)-uint16(r.predFrom))<<1, 6)
			} else {
				w.write(0, 1)
			}
		}
		if r.fitted {
			if n := uint(r.dn); n <= 64 {
				w.write64(r.dbits[0], n)
			} else {
				w.write64(r.dbits[0], 64)
				w.write64(r.dbits[1], n-64)
			}
		} else {
			ref := r.version(r.base)
			if r.predict {
				ref = r.pred // computed by plan
			}
			codes := e.types[t.id].codes
			for i := range t.fields {
				w.write64(codes[i].code(residual(ref[i], r.cur[i], uint(t.fields[i].Bits)), r.cur[i]))
			}
		}
		e.stats.Deltas++
	} else {
		w.write(opCode(opWhole))
		writeGap(w, gap)
		w.write(uint32(e.types[t.id].idx), e.tb)
		for i := range t.fields {
			w.write(r.cur[i], uint(t.fields[i].Bits))
		}
		e.stats.Whole++
	}
	// A loop: copy's memmove call costs more than these few values (the profile
	// showed it at 6% of Encode).
	v := r.version(seq)
	v = v[:len(r.cur)]
	//lint:ignore S1001 see above
	for i, x := range r.cur {
		v[i] = x
	}
	r.ringSeq[seq%History] = seq
	r.ringVer[seq%History] = r.curVer
	r.lastSent = seq
	r.sent = true
	if len(pk.refs) == cap(pk.refs) {
		pk.refs = slices.Grow(pk.refs, 1)
	}
	pk.refs = pk.refs[:len(pk.refs)+1]
	ref := &pk.refs[len(pk.refs)-1]
	ref.idx, ref.ver, ref.gen, ref.removal = r.idx, r.curVer, r.gen, false
}

// Ack applies a client's acknowledgement: every acknowledged entity version newer than
// that entity's baseline becomes its baseline, and acknowledged removals are complete.
// Acks are idempotent and may arrive in any order. An ack naming a packet that was never
// sent (or a future one) returns an error wrapping ErrBadAck and changes nothing; an ack
// too old to matter is ignored.
func (e *Encoder) Ack(a Ack) error {
	if a.Latest == 0 {
		if a.Mask == 0 {
			return nil
		}
		return fmt.Errorf("%w: mask %#x with latest 0", ErrBadAck, a.Mask)
	}
	// Find Latest among the packets we remember.
	var latest uint64
	for i := range e.sent {
		if p := &e.sent[i]; p.seq != 0 && uint16(p.seq) == a.Latest {
			latest = p.seq
			break
		}
	}
	if latest == 0 {
		back := uint16(uint16(e.seq) - a.Latest) // how far behind our newest packet
		if back < 1<<15 && uint64(back) < e.seq {
			return nil // sent long ago: too old to matter
		}
		return fmt.Errorf("%w: packet %d was never sent (last sent %d)", ErrBadAck, a.Latest, uint16(e.seq))
	}
	if a.Mask != 0 {
		// The oldest acknowledged packet must exist: sequence numbers start at 1.
		oldestBit := uint64(32 - leadingZeros32(a.Mask)) // 1-based distance of the oldest bit
		if oldestBit >= latest {
			return fmt.Errorf("%w: mask acknowledges packets before the first", ErrBadAck)
		}
	}
	for i := range e.sent {
		p := &e.sent[i]
		if p.seq == 0 || p.acked || p.seq > latest {
			continue
		}
		d := latest - p.seq
		if d == 0 || (d <= 32 && a.Mask&(1<<(d-1)) != 0) {
			e.applyAck(p)
		}
	}
	return nil
}

func leadingZeros32(x uint32) int {
	n := 0
	for i := 31; i >= 0 && x&(1<<i) == 0; i-- {
		n++
	}
	return n
}

func (e *Encoder) applyAck(p *sentPacket) {
	p.acked = true
	e.acked = max(e.acked, p.seq)
	for _, ref := range p.refs {
		r := e.all[ref.idx]
		if r == nil || r.gen != ref.gen || p.seq < r.validFrom {
			continue
		}
		if ref.removal {
			if r.removing {
				// Removal complete: the client has forgotten the entity.
				r.sent, r.removing = false, false
				r.base, r.prev, r.lastSent = 0, 0, 0
				r.validFrom = e.seq + 1
			}
			continue
		}
		if r.ringSeq[p.seq%History] != p.seq {
			continue
		}
		switch {
		case p.seq > r.base:
			if r.base >= r.validFrom && r.base != 0 {
				r.prev, r.prevVer, r.prevTick = r.base, r.baseVer, r.baseTick
			}
			r.base, r.baseVer, r.baseTick = p.seq, ref.ver, p.tick
		case p.seq < r.base && p.seq > r.prev:
			r.prev, r.prevVer, r.prevTick = p.seq, ref.ver, p.tick
		}
	}
}
