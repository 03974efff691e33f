package snapshot

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
)

// Wire constants.
const (
	// Version is the first byte of every packet and ack.
	Version = 1
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

// Entry operations (2 bits).
const (
	opEnd    = 0
	opDelta  = 1
	opWhole  = 2
	opRemove = 3
)

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

// zigzag maps the change new-old (mod 2^bits, as a signed bits-wide number) to 1, 2, 3...
func zigzag(old, cur uint32, bits uint) uint64 {
	d := uint64(cur-old) & (1<<bits - 1)
	s := int64(d)
	if d >= 1<<(bits-1) {
		s -= 1 << bits
	}
	return uint64(s<<1) ^ uint64(s>>63)
}

// unzigzag inverts zigzag: it returns the value that changed old by the zigzagged delta z.
func unzigzag(old uint32, z uint64, bits uint) uint32 {
	s := int64(z>>1) ^ -int64(z&1)
	return uint32(uint64(int64(old)+s) & (1<<bits - 1))
}

// changedBits is the cost of a changed field (not counting its "changed" bit).
func changedBits(old, cur uint32, bits uint) uint {
	if bits <= 4 {
		if bits == 1 {
			return 0 // a changed bool is a flip
		}
		return bits
	}
	z := zigzag(old, cur, bits) - 1
	if z < 16 {
		return 5
	}
	if z < 256 && bits > 8 {
		return 10
	}
	if z < 4096 && bits > 12 {
		return 15
	}
	return 3 + bits
}

func writeChanged(w *bitWriter, old, cur uint32, bits uint) {
	c, n := changedCode(old, cur, bits)
	w.write64(c, n)
}

// changedCode returns the bits of a changed field's new value (not its "changed" bit),
// first bit lowest, and how many there are (changedBits).
func changedCode(old, cur uint32, bits uint) (uint64, uint) {
	if bits <= 4 {
		if bits == 1 {
			return 0, 0 // a changed bool is a flip
		}
		return uint64(cur), bits
	}
	z := zigzag(old, cur, bits) - 1
	switch {
	case z < 16:
		return z << 1, 5 // 0 z:4
	case z < 256 && bits > 8:
		return 1 | z<<2, 10 // 1 0 z:8
	case z < 4096 && bits > 12:
		return 3 | z<<3, 15 // 1 1 0 z:12
	}
	return 7 | uint64(cur)<<3, 3 + bits // 1 1 1 value:bits
}

// fieldWriter collects a delta's field bits, first bit lowest, in deltaWords words.
type fieldWriter struct {
	w [deltaWords]uint64
	n uint
}

// put appends the k (<= 64) low bits of v; the caller keeps n+k <= 64*deltaWords.
func (f *fieldWriter) put(v uint64, k uint) {
	i, o := f.n/64, f.n%64
	f.w[i] |= v << o
	if o+k > 64 {
		f.w[i+1] |= v >> (64 - o)
	}
	f.n += k
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
	reg        *Registry
	cfg        EncoderConfig
	payload    uint // usable bits per packet (after header and end marker)
	err        error
	seq        uint64 // last packet sequence number used (internal, never wraps)
	sends      uint64
	recs       []*encEnt // sorted by id
	recs2      []*encEnt
	free       []*encEnt
	all        []*encEnt // every record by index (encEnt.idx); nil: released
	freeIdx    []freeIdx // released indices
	cands      []*encEnt
	sent       [sentRing]sentPacket
	baseCount  [History]baseCount
	common     uint64 // the baseline packet most deltas of this send use, 0 = none
	prevCount  [History]baseCount
	commonPrev uint64 // the prediction packet most predicted deltas use, 0 = none
	tick       uint32 // tick of the send being encoded
	bw         bitWriter
	stats      EncodeStats
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
	predict   bool // this send's delta is against a prediction from prev and base
	delta     bool // this send's entry is a delta against base
	selected  bool
	fitted    bool // dbits holds this send's field bits (dn of them)
	dn        uint16
	dbits     [deltaWords]uint64
	idx       int32    // index in Encoder.all
	pred      []uint32 // this send's prediction, when predict and !fitted
	vals      []uint32 // History versions, nf values each
	// ringSeq[s%History] is s when vals holds the version packet s carried. A
	// version at or after the oldest usable baseline, or the last one sent, is
	// always still there: only a packet History later can overwrite it.
	ringSeq [History]uint64
}

type freeIdx struct {
	idx int32
	gen uint32 // the generation of the next record with this index
}

type baseCount struct {
	seq uint64
	n   int
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
	e := &Encoder{reg: r, cfg: cfg, payload: uint(cfg.MaxPacketBytes-HeaderLen)*8 - 10 - 2}
	for _, t := range r.types {
		if t != nil && uint(2+35+8+t.bits) > e.payload {
			e.err = fmt.Errorf("%w: %s needs %d bits, a packet holds %d", ErrEntityTooLarge, t.name, 45+t.bits, e.payload)
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
	r.t, r.typ = t, t.id
	if need := History * len(t.fields); cap(r.vals) < need {
		r.vals = make([]uint32, need)
	}
	r.vals = r.vals[:History*len(t.fields)]
	r.ringSeq = [History]uint64{}
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

	// 1. Merge the world (ascending IDs) with our records (ascending IDs).
	out := e.recs2[:0]
	recs := e.recs
	ri := 0
	e.baseCount = [History]baseCount{}
	e.prevCount = [History]baseCount{}
	e.tick = tick
	for _, we := range w.ents {
		for ri < len(recs) && recs[ri].id < we.id {
			r := recs[ri]
			ri++
			if e.goneFromWorld(r) {
				out = append(out, r)
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
			if r.delta {
				bc := &e.baseCount[r.base%History]
				if bc.seq != r.base {
					bc.seq, bc.n = r.base, 0
				}
				bc.n++
				if r.predict {
					pc := &e.prevCount[r.prev%History]
					if pc.seq != r.prev {
						pc.seq, pc.n = r.prev, 0
					}
					pc.n++
				}
			}
		}
	}
	for ; ri < len(recs); ri++ {
		r := recs[ri]
		if e.goneFromWorld(r) {
			out = append(out, r)
		}
	}
	e.recs, e.recs2 = out, recs[:0]

	// Most deltas of a send share one baseline packet: it is named once per packet.
	e.common = 0
	best := 0
	for _, bc := range e.baseCount {
		if bc.n > best {
			best, e.common = bc.n, bc.seq
		}
	}
	e.commonPrev = 0
	best = 0
	for _, pc := range e.prevCount {
		if pc.n > best {
			best, e.commonPrev = pc.n, pc.seq
		}
	}
	var total uint64
	var maxCost uint32
	pending := 0
	prevID := int64(-1)
	for _, r := range e.recs {
		if r.cost == 0 {
			continue
		}
		if r.delta && r.base == e.common {
			r.cost -= 5
		}
		if r.delta && r.predict && r.prev == e.commonPrev {
			r.cost -= 5
		}
		total += uint64(r.cost) + uint64(gapBits(uint32(int64(r.id)-prevID-1)))
		prevID = int64(r.id)
		maxCost = max(maxCost, r.cost+35)
		pending++
	}

	// 2. Choose what goes now. Everything, if it fits with room for packing slack;
	// otherwise the highest accumulated priorities.
	maxPk, lastPayload := e.packetBudget(o.MaxBytes)
	capacity := uint64(e.payload)*uint64(maxPk-1) + uint64(lastPayload)
	slack := uint64(maxCost) * uint64(maxPk)
	if total+slack <= capacity {
		for _, r := range e.recs {
			r.selected = r.cost > 0
		}
	} else {
		c := e.cands[:0]
		for _, r := range e.recs {
			if r.cost > 0 {
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
	}

	// 3. Pack the chosen entities in ID order.
	start := len(dst)
	dst, pk := e.startPacket(dst, tick)
	used := uint(0)
	prev := int64(-1)
	full := false
	limit := e.payload // of the packet being filled: the last one may be smaller
	if maxPk == 1 {
		limit = lastPayload
	}
	for _, r := range e.recs {
		if !r.selected {
			continue
		}
		r.selected = false
		if full {
			continue
		}
		need := uint(r.cost) + gapBits(uint32(int64(r.id)-prev-1))
		if used+need > limit {
			if used > 0 {
				e.finishPacket(dst)
				if len(dst)-start == maxPk {
					full = true
					continue
				}
				dst, pk = e.startPacket(dst, tick)
				used, prev = 0, -1
				need = uint(r.cost) + gapBits(uint32(r.id))
				if len(dst)-start == maxPk {
					limit = lastPayload
				}
			}
			if need > limit {
				continue // only in a packet cut short by MaxBytes: it waits
			}
		}
		gap := uint32(int64(r.id) - prev - 1)
		prev = int64(r.id)
		used += need
		e.writeEntity(r, pk, gap)
	}
	if !full {
		e.finishPacket(dst)
	}
	e.stats.Packets = len(dst) - start
	e.stats.Deferred = pending - e.stats.Whole - e.stats.Deltas - e.stats.Removals
	for _, p := range dst[start:] {
		e.stats.Bytes += len(p)
	}
	for _, r := range e.recs {
		r.cur = nil
	}
	return dst, nil
}

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
	r.prio += 4 // removals are tiny; send them promptly
	r.cost, r.delta = 2, false
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

// plan decides whether r must be sent and computes its cost (0 = nothing to send).
func (e *Encoder) plan(r *encEnt, oldest uint64) bool {
	t := r.t
	whole := uint32(2 + 8 + t.bits)
	r.delta, r.predict, r.fitted = false, false, false
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
	// The prediction source, if one may be used.
	key := deltaKey{cur: r.curVer, base: r.baseVer}
	var num, den uint32
	if r.prev != 0 && r.prev >= r.validFrom && r.prev >= oldest {
		num, den = e.tick-r.baseTick, r.baseTick-r.prevTick
		if predictable(num, den) {
			key.prev, key.num, key.den = r.prevVer, num, den
		}
	}
	var d deltaPlan
	if c := e.cfg.Cache; c != nil {
		if s := c.lookup(&key); s != nil {
			d = s.plan
		} else {
			d = e.planDelta(r, key.prev != 0, num, den)
			if d.fitted {
				c.store(&key, &d)
			}
		}
	} else {
		d = e.planDelta(r, key.prev != 0, num, den)
	}
	if d.same && acked {
		r.cost = 0 // the client acknowledged exactly these values
		return false
	}
	r.cost = whole
	if c := d.fieldCost + 9; d.predict {
		c += 6
		if c < whole {
			r.cost, r.delta, r.predict = c, true, true
		}
	} else if c < whole {
		r.cost, r.delta = c, true
	}
	if r.delta && d.fitted {
		r.fitted, r.dn, r.dbits = true, d.n, d.bits
	}
	return true
}

// deltaWords bounds the field bits a deltaPlan holds (longer deltas are written from
// the values).
const deltaWords = 2

// deltaPlan is how an entity's fields are best delta-encoded from a baseline version,
// optionally predicted from an older one: the choice and, when it fits, the bits.
type deltaPlan struct {
	same      bool   // current values equal the baseline's
	predict   bool   // encode against the prediction
	fitted    bool   // bits holds the n field bits of the chosen encoding
	n         uint16 // bits used in bits
	fieldCost uint32 // bits of the field section (changed flags included)
	bits      [deltaWords]uint64
}

// planDelta computes r's deltaPlan from its stored versions. canPredict says the
// prediction from r.prev over num/den ticks is allowed; r.pred receives it when used.
func (e *Encoder) planDelta(r *encEnt, canPredict bool, num, den uint32) deltaPlan {
	t := r.t
	old := r.version(r.base)
	var d deltaPlan
	c := uint32(len(t.fields))
	wide := false // a field of 5 or more bits changed: only then can a prediction help
	same := true
	for i := range t.fields {
		if r.cur[i] != old[i] {
			b := uint(t.fields[i].Bits)
			c += uint32(changedBits(old[i], r.cur[i], b))
			wide = wide || b >= 5
			same = false
		}
	}
	d.same, d.fieldCost = same, c
	ref := old
	// op, baseline, "no prediction" (9 bits) against op, baseline, "predict",
	// explicit prev (15 bits), as Encode counts before the common-baseline savings.
	if wide && canPredict {
		r.pred = predict(t, old, r.version(r.prev), num, den, r.pred)
		if cp := deltaBits(t, r.pred, r.cur); cp+15 < c+9 {
			d.predict, d.fieldCost, ref = true, cp, r.pred
		}
	}
	if d.fieldCost <= deltaWords*64 {
		var fw fieldWriter
		for i := range t.fields {
			if r.cur[i] == ref[i] {
				fw.n++ // a 0 bit: unchanged
				continue
			}
			c, n := changedCode(ref[i], r.cur[i], uint(t.fields[i].Bits))
			fw.put(1|c<<1, n+1)
		}
		d.fitted, d.n, d.bits = true, uint16(fw.n), fw.w
	}
	return d
}

// deltaBits is the cost of the fields of cur against ref.
func deltaBits(t *Type, ref, cur []uint32) uint32 {
	c := uint32(len(t.fields))
	for i := range t.fields {
		if cur[i] != ref[i] {
			c += uint32(changedBits(ref[i], cur[i], uint(t.fields[i].Bits)))
		}
	}
	return c
}

// predictable reports whether a prediction may span these tick distances: num ticks from
// the baseline to now, den ticks from the older version to the baseline.
func predictable(num, den uint32) bool {
	return den >= 1 && den <= maxPredictTicks && num <= maxPredictTicks
}

const maxPredictTicks = 1 << 16

// predict extrapolates each field of at least 5 bits linearly from b0 (den ticks before
// b1) to num ticks after b1: p = b1 + round((b1-b0)·num/den), wrapping for angles and
// clamped to the field's range otherwise. Narrower fields predict b1. The encoder and the
// decoder run exactly this integer arithmetic.
func predict(t *Type, b1, b0 []uint32, num, den uint32, out []uint32) []uint32 {
	out = out[:0]
	whole := num%den == 0
	half := int64(den / 2)
	for i := range t.fields {
		f := &t.fields[i]
		p := b1[i]
		if f.Bits >= 5 {
			bits := uint(f.Bits)
			var d int64
			if f.Kind == KindAngle {
				d = int64(uint64(b1[i]-b0[i]) & (1<<bits - 1))
				if d >= 1<<(bits-1) {
					d -= 1 << bits
				}
			} else {
				d = int64(b1[i]) - int64(b0[i])
			}
			x := d * int64(num) // |d| < 2^32, num <= 2^16: no overflow
			switch {
			case d == 0:
			case whole:
				x = d * int64(num/den) // exact: same result as the rounding division
			case x < 0:
				x = (x - half) / int64(den)
			default:
				x = (x + half) / int64(den)
			}
			v := int64(b1[i]) + x
			if f.Kind == KindAngle {
				p = uint32(uint64(v) & (1<<bits - 1))
			} else {
				p = uint32(max(0, min(int64(f.maxQ), v)))
			}
		}
		out = append(out, p)
	}
	return out
}

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
	for _, c := range [2]uint64{e.common, e.commonPrev} {
		if c != 0 {
			e.bw.write(uint32(uint16(seq)-uint16(c)), 5)
		} else {
			e.bw.write(0, 5)
		}
	}
	pk := &e.sent[seq%sentRing]
	pk.seq, pk.tick, pk.acked, pk.refs = seq, tick, false, pk.refs[:0]
	return dst, pk
}

func (e *Encoder) finishPacket(dst [][]byte) {
	e.bw.write(opEnd, 2)
	dst[len(dst)-1] = e.bw.flush()
}

func (e *Encoder) writeEntity(r *encEnt, pk *sentPacket, gap uint32) {
	w := &e.bw
	seq := pk.seq
	r.prio = 0
	if r.removing {
		w.write(opRemove, 2)
		writeGap(w, gap)
		pk.refs = append(pk.refs, entRef{idx: r.idx, gen: r.gen, removal: true})
		e.stats.Removals++
		return
	}
	t := r.t
	if r.delta {
		w.write(opDelta, 2)
		writeGap(w, gap)
		if r.base == e.common {
			w.write(0, 1)
		} else {
			w.write(1, 1)
			w.write(uint32(uint16(seq)-uint16(r.base)), 5)
		}
		switch {
		case !r.predict:
			w.write(0, 1)
		case r.prev == e.commonPrev:
			w.write(1, 2) // bits 1, 0
		default:
			w.write(3, 2) // bits 1, 1
			w.write(uint32(uint16(seq)-uint16(r.prev)), 5)
		}
		if r.fitted {
			w.writeWords(r.dbits[:], uint(r.dn))
		} else {
			old := r.version(r.base)
			if r.predict {
				old = r.pred // computed by plan
			}
			for i := range t.fields {
				if r.cur[i] == old[i] {
					w.write(0, 1)
					continue
				}
				w.write(1, 1)
				writeChanged(w, old[i], r.cur[i], uint(t.fields[i].Bits))
			}
		}
		e.stats.Deltas++
	} else {
		w.write(opWhole, 2)
		writeGap(w, gap)
		w.write(uint32(r.typ), 8)
		for i := range t.fields {
			w.write(r.cur[i], uint(t.fields[i].Bits))
		}
		e.stats.Whole++
	}
	copy(r.version(seq), r.cur)
	r.ringSeq[seq%History] = seq
	r.lastSent = seq
	r.sent = true
	pk.refs = append(pk.refs, entRef{idx: r.idx, gen: r.gen, ver: r.curVer})
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
