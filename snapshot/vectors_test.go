package snapshot

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the shared protocol vectors in ../testdata/protocol")

// vectorDir holds the golden vectors that the Go tests and the TypeScript client's
// tests both read (docs/protocol.md describes them).
const vectorDir = "../testdata/protocol"

// vecFile is a file of decoder vectors: each case gives a schema and packets in the
// order a client receives them, with what a decoder must report after each.
type vecFile struct {
	Comment string    `json:"comment"`
	Cases   []vecCase `json:"cases"`
}

type vecCase struct {
	Name        string          `json:"name"`
	Fingerprint string          `json:"fingerprint"`
	Schema      json.RawMessage `json:"schema"`
	Steps       []vecStep       `json:"steps"`
}

// vecStep is one packet and the decoder's state after it: the error code (then
// nothing changed), or the packet info; always the ack and the world's hash; the whole
// world where the case asks for it.
type vecStep struct {
	Packet string     `json:"packet"`
	Error  string     `json:"error,omitempty"`
	Info   *vecInfo   `json:"info,omitempty"`
	Ack    [2]uint32  `json:"ack"` // Latest, Mask
	Hash   string     `json:"hash"`
	World  []vecWorld `json:"world,omitempty"`
}

type vecInfo struct {
	Seq      uint16 `json:"seq"`
	Tick     uint32 `json:"tick"`
	Entities int    `json:"entities"`
	Removals int    `json:"removals"`
	Applied  int    `json:"applied"`
	Stale    bool   `json:"stale,omitempty"`
}

// vecWorld is one entity: [id, type, [values...]].
type vecWorld [3]any

// errorCode names the sentinel a decode error wraps, as the vectors spell it.
func errorCode(err error) string {
	for _, c := range []struct {
		err  error
		code string
	}{
		{ErrTruncated, "truncated"}, {ErrOversized, "oversized"}, {ErrVersion, "version"},
		{ErrCorrupt, "corrupt"}, {ErrMissingBaseline, "missing_baseline"}, {ErrUnknownType, "unknown_type"},
	} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "other: " + err.Error()
}

// worldHash is FNV-1a (32 bits) over every entity in ascending ID order: id (uint32
// LE), type (1 byte), each value (uint32 LE).
func worldHash(w *World) string {
	h := fnv.New32a()
	var b [4]byte
	w.Range(func(id EntityID, typ TypeID, q []uint32) bool {
		binary.LittleEndian.PutUint32(b[:], uint32(id))
		h.Write(b[:])
		h.Write([]byte{byte(typ)})
		for _, v := range q {
			binary.LittleEndian.PutUint32(b[:], v)
			h.Write(b[:])
		}
		return true
	})
	return fmt.Sprintf("%08x", h.Sum32())
}

func worldDump(w *World) []vecWorld {
	out := []vecWorld{}
	w.Range(func(id EntityID, typ TypeID, q []uint32) bool {
		out = append(out, vecWorld{uint32(id), uint8(typ), append([]uint32{}, q...)})
		return true
	})
	return out
}

// vecRecorder feeds packets to a decoder and records what it reports.
type vecRecorder struct {
	dec  *Decoder
	c    vecCase
	full bool // record the whole world after every step
}

func newRecorder(name string, r *Registry, full bool) *vecRecorder {
	s := r.Schema()
	return &vecRecorder{dec: NewDecoder(r), full: full, c: vecCase{Name: name, Fingerprint: s.Fingerprint(), Schema: s.JSON()}}
}

func (v *vecRecorder) feed(pkt []byte) error {
	info, err := v.dec.Decode(pkt)
	st := vecStep{Packet: hex.EncodeToString(pkt)}
	if err != nil {
		st.Error = errorCode(err)
	} else {
		st.Info = &vecInfo{Seq: info.Seq, Tick: info.Tick, Entities: info.Entities, Removals: info.Removals, Applied: info.Applied, Stale: info.Stale}
	}
	a := v.dec.Ack()
	st.Ack = [2]uint32{uint32(a.Latest), a.Mask}
	st.Hash = worldHash(v.dec.World())
	if v.full {
		st.World = worldDump(v.dec.World())
	}
	v.c.Steps = append(v.c.Steps, st)
	return err
}

// dumpWorld records the whole world in the last step.
func (v *vecRecorder) dumpWorld() {
	v.c.Steps[len(v.c.Steps)-1].World = worldDump(v.dec.World())
}

func recordPackets(t *testing.T, name string, r *Registry, pkts [][]byte) vecCase {
	rec := newRecorder(name, r, true)
	for _, p := range pkts {
		if err := rec.feed(p); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return rec.c
}

// marshalVectors writes one step per line, so that a change shows as a short diff.
func marshalVectors(t *testing.T, f vecFile) []byte {
	var b bytes.Buffer
	head, err := json.Marshal(f.Comment)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "{\"comment\": %s,\n\"cases\": [\n", head)
	for i, c := range f.Cases {
		name, _ := json.Marshal(c.Name)
		fmt.Fprintf(&b, "{\"name\": %s, \"fingerprint\": %q,\n\"schema\": %s,\n\"steps\": [\n", name, c.Fingerprint, c.Schema)
		for j, s := range c.Steps {
			line, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(line)
			if j < len(c.Steps)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString("]}")
		if i < len(f.Cases)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]}\n")
	return b.Bytes()
}

// checkVectorFile compares a generated vector file with the checked-in one, or
// rewrites it with -update.
func checkVectorFile(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(vectorDir, name)
	if *update {
		if err := os.MkdirAll(vectorDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (generate it: go test ./snapshot -run TestProtocolVectors -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale: the codec's output changed; if that is intended, bump the wire version if needed, "+
			"run go test ./snapshot -run TestProtocolVectors -update and check the JS tests", path)
	}
}

// TestProtocolVectors generates the snapshot decoder vectors shared with the
// TypeScript client and checks them against testdata/protocol.
func TestProtocolVectors(t *testing.T) {
	golden := vecFile{Comment: "Snapshot decoder vectors (docs/protocol.md, 'Golden vectors'); generated by go test ./snapshot -run TestProtocolVectors -update. " +
		"Feed each case's packets, in order, to a fresh decoder for its schema; after each, the decoder must report the error code (and change nothing) or the info, " +
		"and hold the ack [latest, mask] and a world whose FNV-1a hash (id u32 LE, type u8, values u32 LE, ascending IDs) is hash."}

	r, pkts := goldenWire(t)
	golden.Cases = append(golden.Cases, recordPackets(t, "golden wire", r, pkts))
	cr := classesRegistry(t)
	for _, cc := range changeClassCases {
		golden.Cases = append(golden.Cases, recordPackets(t, "change class: "+cc.name, cr, changeClass(t, cr, cc.cur)))
	}
	r, pkts = predictionGolden(t)
	golden.Cases = append(golden.Cases, recordPackets(t, "prediction", r, pkts))
	golden.Cases = append(golden.Cases, seqWrapCase(t))
	golden.Cases = append(golden.Cases, decodeErrorsCase(t))
	golden.Cases = append(golden.Cases, mutantsCase(t))
	checkVectorFile(t, "snapshot-golden.json", marshalVectors(t, golden))

	stream := vecFile{Comment: "A long snapshot stream from the Go encoder (moving, appearing, vanishing and retyped entities; " +
		"10% loss, reordering, duplicates, acks lost and late), in the order the client received it. Same format as snapshot-golden.json; " +
		"generated by go test ./snapshot -run TestProtocolVectors -update."}
	stream.Cases = append(stream.Cases, streamCase(t))
	checkVectorFile(t, "snapshot-stream.json", marshalVectors(t, stream))
}

// seqWrapCase crosses the 16-bit sequence wrap (65535 is followed by 1; 0 is never
// used), with deltas and predictions whose baselines lie before the wrap.
func seqWrapCase(t *testing.T) vecCase {
	r := testRegistry(t)
	w := NewWorld(r)
	enc := NewEncoder(r, EncoderConfig{})
	rec := newRecorder("sequence wrap", r, true)
	for range 65530 { // empty sends: nothing is recorded or acknowledged
		if _, err := enc.Encode(nil, w, 0); err != nil {
			t.Fatal(err)
		}
	}
	for s := uint32(0); s < 12; s++ {
		for id := EntityID(1); id <= 3; id++ {
			w.Set(id, 1, unit{X: float32(s) * float32(id), Y: -float32(s), Dir: 0.3 * float32(s), HP: 100 - int(s), Team: 1, Alive: true, Serial: int64(s)})
		}
		pk, err := enc.Encode(nil, w, 1000+2*s)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pk {
			if err := rec.feed(p); err != nil {
				t.Fatal(err)
			}
		}
		if err := enc.Ack(rec.dec.Ack()); err != nil {
			t.Fatal(err)
		}
	}
	if !rec.dec.World().Equal(w) {
		t.Fatal("sequence wrap: client differs")
	}
	return rec.c
}

// decodeErrorsCase primes a decoder, then feeds TestDecodeErrors' bad packets.
func decodeErrorsCase(t *testing.T) vecCase {
	r, prime, next := primedPackets(t)
	rec := newRecorder("decode errors", r, false)
	for _, p := range prime {
		if err := rec.feed(p); err != nil {
			t.Fatal(err)
		}
	}
	rec.dumpWorld()
	for _, tc := range decodeErrorCases(next[0]) {
		if err := rec.feed(tc.pkt); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	return rec.c
}

// mutantsCase primes a decoder, then feeds damaged copies of the next packets: flipped
// bits, cuts, extra bytes, random bodies. Some decode (and change the world); the
// others must be rejected with the same error by every decoder.
func mutantsCase(t *testing.T) vecCase {
	r, prime, next := primedPackets(t)
	rec := newRecorder("mutants", r, false)
	for _, p := range prime {
		if err := rec.feed(p); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(13, 17))
	for i := range 240 {
		src := next[rng.IntN(len(next))]
		p := append([]byte(nil), src...)
		switch i % 4 {
		case 0: // flip 1-3 bits past the version byte
			for range 1 + rng.IntN(3) {
				k := 1 + rng.IntN(len(p)*8-8)
				p[k/8] ^= 1 << (k % 8)
			}
		case 1: // cut
			p = p[:rng.IntN(len(p))]
		case 2: // extra bytes
			for range 1 + rng.IntN(3) {
				p = append(p, byte(rng.IntN(256)))
			}
		case 3: // the header of a real packet, a random body
			p = p[:HeaderLen]
			for range rng.IntN(40) {
				p = append(p, byte(rng.IntN(256)))
			}
		}
		rec.feed(p)
	}
	rec.dumpWorld()
	return rec.c
}

// streamCase runs a host encoder and a client decoder over a lossy, reordering,
// duplicating link for a few hundred sends.
func streamCase(t *testing.T) vecCase {
	const (
		sends    = 300
		entities = 40
	)
	r := testRegistry(t)
	w := NewWorld(r)
	enc := NewEncoder(r, EncoderConfig{MaxPacketBytes: 320, MaxPacketsPerSend: 2})
	rec := newRecorder("stream", r, false)
	rng := rand.New(rand.NewPCG(1, 2))

	type mover struct{ vx, vy, vd float64 }
	movers := make([]mover, entities+1)
	for i := range movers {
		movers[i] = mover{rng.Float64()*2 - 1, rng.Float64()*2 - 1, rng.Float64()*0.2 - 0.1}
	}
	step := func(tick uint32) {
		for id := EntityID(1); id <= entities; id++ {
			typ, _, ok := w.Quantized(id)
			m := movers[id]
			switch {
			case !ok:
				if rng.Float64() < 0.05 {
					if rng.IntN(3) == 0 {
						w.Set(id, 2, shot{X: float32(rng.Float64()*200 - 100), Y: float32(rng.Float64()*200 - 100)})
					} else {
						w.Set(id, 1, unit{X: float32(rng.Float64()*200 - 100), HP: 200, Team: uint8(rng.IntN(4)), Alive: true, Serial: int64(rng.Uint32())})
					}
				}
			case rng.Float64() < 0.01:
				w.Remove(id)
			case rng.Float64() < 0.005: // same ID, other type
				w.Set(id, 3-typ, shot{})
				if typ == 2 {
					w.Set(id, 1, unit{HP: 1})
				}
			case typ == 1:
				var u unit
				w.Get(id, &u)
				if rng.Float64() < 0.9 { // linear motion: predictions pay off
					u.X += float32(m.vx)
					u.Y += float32(m.vy)
					u.Dir += float32(m.vd)
				} else {
					u.X = float32(rng.Float64()*200 - 100)
				}
				if rng.Float64() < 0.05 {
					u.HP = rng.IntN(201)
					u.Alive = u.HP > 0
				}
				if u.X > 99 || u.X < -99 || u.Y > 99 || u.Y < -99 {
					u.X, u.Y = 0, 0
				}
				w.Set(id, 1, u)
			default:
				var s shot
				w.Get(id, &s)
				s.X += float32(3 * m.vx)
				s.Y += float32(3 * m.vy)
				if s.X > 99 || s.X < -99 || s.Y > 99 || s.Y < -99 {
					w.Remove(id)
					break
				}
				w.Set(id, 2, s)
			}
		}
	}

	type inflight struct {
		at  int
		pkt []byte
	}
	type ackMsg struct {
		at  int
		ack Ack
	}
	var down []inflight
	var up []ackMsg
	tick := uint32(5)
	for s := 0; s < sends+8; s++ {
		if s < sends {
			step(tick)
			pk, err := enc.Encode(nil, w, tick)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pk {
				if rng.Float64() < 0.10 {
					continue // lost
				}
				delay := rng.IntN(4) // 0..3 sends late: reordered
				down = append(down, inflight{s + delay, append([]byte(nil), p...)})
				if rng.Float64() < 0.03 {
					down = append(down, inflight{s + rng.IntN(6), append([]byte(nil), p...)})
				}
			}
			tick += 2
			if rng.Float64() < 0.05 {
				tick += uint32(1 + rng.IntN(4)) // a host that skipped ticks
			}
		}
		// Deliver what is due, in a shuffled order.
		var due, later []inflight
		for _, d := range down {
			if d.at <= s {
				due = append(due, d)
			} else {
				later = append(later, d)
			}
		}
		down = later
		rng.Shuffle(len(due), func(i, j int) { due[i], due[j] = due[j], due[i] })
		for _, d := range due {
			rec.feed(d.pkt)
		}
		if len(due) > 0 && rng.Float64() > 0.10 {
			up = append(up, ackMsg{s + 1 + rng.IntN(2), rec.dec.Ack()})
		}
		var rest []ackMsg
		for _, a := range up {
			if a.at <= s {
				_ = enc.Ack(a.ack) // a stale ack may be refused; the stream goes on
			} else {
				rest = append(rest, a)
			}
		}
		up = rest
		if len(rec.c.Steps) > 0 && s%50 == 49 {
			rec.dumpWorld()
		}
	}
	// A packet from the start, long stale now: ignored, not acknowledged.
	first, _ := hex.DecodeString(rec.c.Steps[0].Packet)
	if err := rec.feed(first); err != nil || !rec.c.Steps[len(rec.c.Steps)-1].Info.Stale {
		t.Fatalf("stale packet: %v, %+v", err, rec.c.Steps[len(rec.c.Steps)-1].Info)
	}
	rec.dumpWorld()
	var errs int
	for _, st := range rec.c.Steps {
		if st.Error != "" {
			errs++
		}
	}
	t.Logf("stream: %d packets delivered, %d rejected", len(rec.c.Steps), errs)
	return rec.c
}
