package snapshot

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// primedPackets returns a registry, the packets of five sends (each acknowledged) after
// which a decoder holds baselines, and the packets of the next send.
func primedPackets(t testing.TB) (*Registry, [][]byte, [][]byte) {
	r, prime, next, _ := primedSends(t)
	return r, prime, next
}

// primedSends is primedPackets, and the packets of the send after next (with next
// acknowledged, so they name next's packets as baselines).
func primedSends(t testing.TB) (r *Registry, prime, next, after [][]byte) {
	r = testRegistry(t)
	w := NewWorld(r)
	enc := NewEncoder(r, EncoderConfig{MaxPacketBytes: 300})
	dec := NewDecoder(r)
	rng := rand.New(rand.NewPCG(9, 9))
	var pkts [][]byte
	for s := 0; s < 5; s++ {
		mutate(rng, w, 30, 0.3)
		pkts, _ = enc.Encode(nil, w, uint32(s))
		for _, p := range pkts {
			if _, err := dec.Decode(p); err != nil {
				t.Fatal(err)
			}
			prime = append(prime, p)
		}
		enc.Ack(dec.Ack())
	}
	mutate(rng, w, 30, 0.3)
	next, _ = enc.Encode(nil, w, 99)
	for _, p := range next {
		if _, err := dec.Decode(p); err != nil {
			t.Fatal(err)
		}
	}
	enc.Ack(dec.Ack())
	// Every entity changes, so that after's deltas name every baseline next left.
	var ids []EntityID
	w.Range(func(id EntityID, _ TypeID, _ []uint32) bool {
		ids = append(ids, id)
		return true
	})
	for _, id := range ids {
		typ, old, _ := w.Quantized(id)
		q := append([]uint32(nil), old...)
		q[0] = (q[0] + 1) % (r.Type(typ).fields[0].maxQ + 1)
		if err := w.SetQuantized(id, typ, q); err != nil {
			t.Fatal(err)
		}
	}
	after, _ = enc.Encode(nil, w, 101)
	return r, prime, next, after
}

// primed returns a decoder that has received the packets of primedPackets (so deltas
// can find baselines), and the packets of the next send.
func primed(t testing.TB) (*Decoder, [][]byte) {
	r, prime, next := primedPackets(t)
	dec := NewDecoder(r)
	for _, p := range prime {
		if _, err := dec.Decode(p); err != nil {
			t.Fatal(err)
		}
	}
	return dec, next
}

// decodeErrorCase is a bad packet for a primed decoder and the error it must give.
type decodeErrorCase struct {
	name string
	pkt  []byte
	want error
}

// decodeErrorCases returns bad packets; good is a packet a primed decoder accepts.
func decodeErrorCases(good []byte) []decodeErrorCase {
	with := func(f func(p []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	return []decodeErrorCase{
		{"empty", nil, ErrTruncated},
		{"short header", good[:5], ErrTruncated},
		{"header only", good[:HeaderLen], ErrTruncated},
		{"cut", good[:len(good)-2], ErrTruncated},
		{"oversized", make([]byte, MaxPacketBytesLimit+1), ErrOversized},
		{"version", with(func(p []byte) []byte { p[0] = Version + 1; return p }), ErrVersion},
		{"seq 0", with(func(p []byte) []byte { p[1], p[2] = 0, 0; return p }), ErrCorrupt},
		{"trailing byte", with(func(p []byte) []byte { return append(p, 0) }), ErrCorrupt},
		{"unknown type in the table", stream(func(w *bitWriter) {
			w.write(0, 5)
			w.write(1, 8)   // one type
			w.write(250, 8) // not registered
			w.write(0, 5)
		}), ErrUnknownType},
		{"table not ascending", stream(func(w *bitWriter) {
			w.write(0, 5)
			w.write(2, 8)
			w.write(2, 8) // shot: 2 fields
			w.write(0, 5+2)
			w.write(1, 8) // unit: before shot
			w.write(0, 5+7)
		}), ErrCorrupt},
		{"k over the field's bits", stream(func(w *bitWriter) {
			w.write(0, 5)
			w.write(1, 8)
			w.write(2, 8)       // shot: X and Y, 11 bits each
			w.write(0, 5)       // no prediction
			w.write(1|31<<1, 6) // k 32
			w.write(0, 1)
		}), ErrCorrupt},
		{"table prediction not older than the baseline", stream(func(w *bitWriter) {
			w.write(2, 5) // common baseline 2 back
			w.write(1, 8)
			w.write(2, 8)
			w.write(2, 5) // prediction from 2 back: not older
			w.write(0, 2)
		}), ErrCorrupt},
		{"padding", stream(func(w *bitWriter) { w.write(0, 5+8+4); w.write(1, 1) }), ErrCorrupt},
		{"no end marker", stream(func(w *bitWriter) { w.write(0, 5+8); w.write(8, 4); w.write(1, 3) }), ErrTruncated},
		{"whole without a type table", stream(func(w *bitWriter) { w.write(0, 5+8); w.write(4, 3); w.write(0, 1); w.write(0, 4) }), ErrCorrupt},
		{"common delta, common baseline 0", stream(func(w *bitWriter) {
			w.write(0, 5)
			w.write(1, 8)
			w.write(2, 8)
			w.write(0, 5+2)
			w.write(1, 1) // common delta
			w.write(0, 1) // ID 0
			w.write(0, 2+4)
		}), ErrCorrupt},
		{"delta, distance 0", stream(func(w *bitWriter) { w.write(0, 5+8); w.write(2, 2); w.write(0, 1); w.write(1, 1); w.write(0, 5) }), ErrCorrupt},
		{"delta, no baseline held", stream(func(w *bitWriter) { w.write(0, 5+8); w.write(2, 2); w.write(0, 1); w.write(1, 1); w.write(3, 5) }), ErrMissingBaseline},
		{"IDs beyond 32 bits", stream(func(w *bitWriter) {
			w.write(0, 5+8)
			for range 2 {
				w.write(8, 4) // removal
				w.write(7, 3)
				w.write(0xffffffff, 32)
			}
			w.write(0, 4)
		}), ErrCorrupt},
	}
}

func TestDecodeErrors(t *testing.T) {
	_, pkts := primed(t)
	for _, tt := range decodeErrorCases(pkts[0]) {
		t.Run(tt.name, func(t *testing.T) {
			dec, _ := primed(t)
			before := NewWorld(dec.reg)
			before.CopyFrom(dec.World())
			ack := dec.Ack()
			_, err := dec.Decode(tt.pkt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !dec.World().Equal(before) || dec.Ack() != ack {
				t.Fatal("a rejected packet changed state")
			}
		})
	}
	// A delta for a decoder that never saw the baseline.
	var delta []byte
	for _, p := range pkts {
		d := NewDecoder(testRegistry(t))
		if _, err := d.Decode(p); errors.Is(err, ErrMissingBaseline) {
			delta = p
		}
	}
	if delta == nil {
		t.Fatal("no packet needed a baseline")
	}
}

// stream builds a packet (seq 1, tick 0) around a hand-written bit stream.
func stream(f func(w *bitWriter)) []byte {
	var w bitWriter
	w.reset([]byte{Version, 1, 0, 0, 0, 0, 0})
	f(&w)
	return w.flush()
}

// TestRejectedPacketKeepsBaselines cuts the next send's packets at every length: each
// cut packet is rejected, and afterwards the whole packets and those of the send after
// (deltas against them) decode exactly as on a decoder that never saw the cut one.
func TestRejectedPacketKeepsBaselines(t *testing.T) {
	r, prime, next, after := primedSends(t)
	decodeAll := func(d *Decoder, pkts [][]byte) {
		t.Helper()
		for _, p := range pkts {
			if _, err := d.Decode(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	ref := NewDecoder(r)
	decodeAll(ref, prime)
	decodeAll(ref, next)
	decodeAll(ref, after)
	for i, p := range next {
		for n := HeaderLen; n < len(p); n++ {
			d := NewDecoder(r)
			decodeAll(d, prime)
			if _, err := d.Decode(p[:n]); err == nil {
				continue // a cut at the end of an entry may still be a valid packet
			}
			decodeAll(d, next)
			decodeAll(d, after)
			if !d.World().Equal(ref.World()) || d.Ack() != ref.Ack() {
				t.Fatalf("packet %d cut to %d bytes and rejected: later packets decode differently", i, n)
			}
		}
	}
}

// checkValid asserts the decoder's world only holds in-range values of known types.
func checkValid(t *testing.T, d *Decoder) {
	d.World().Range(func(id EntityID, typ TypeID, q []uint32) bool {
		tp := d.reg.Type(typ)
		if tp == nil {
			t.Fatalf("entity %d has unknown type %d", id, typ)
		}
		if err := tp.check(q); err != nil {
			t.Fatalf("entity %d: %v", id, err)
		}
		return true
	})
}

func FuzzDecode(f *testing.F) {
	_, pkts := primed(f)
	for _, p := range pkts {
		f.Add(p)
		f.Add(p[:len(p)/2])
	}
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{1, 0xff, 0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		dec, next := primed(t)
		before := NewWorld(dec.reg)
		before.CopyFrom(dec.World())
		ack := dec.Ack()
		if _, err := dec.Decode(pkt); err != nil {
			// A rejected packet changes nothing: not the world, not the ack, not
			// the baselines (the next two honest sends decode as if it never came).
			if !dec.World().Equal(before) || dec.Ack() != ack {
				t.Fatalf("rejected packet (%v) changed state", err)
			}
			ref, _ := primed(t)
			_, _, _, after := primedSends(t)
			for i, p := range append(next, after...) {
				_, err1 := dec.Decode(p)
				_, err2 := ref.Decode(p)
				if (err1 == nil) != (err2 == nil) {
					t.Fatalf("next packet %d after a rejected one: %v, without it: %v", i, err1, err2)
				}
			}
			if !dec.World().Equal(ref.World()) || dec.Ack() != ref.Ack() {
				t.Fatal("a rejected packet changed how later packets decode")
			}
			return
		}
		checkValid(t, dec)
		// Decoding the same bytes again is harmless.
		dec.Decode(pkt)
		checkValid(t, dec)
	})
}

func FuzzDecodeAck(f *testing.F) {
	f.Add(AppendAck(nil, Ack{Latest: 7, Mask: 3}))
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, n, err := DecodeAck(b)
		if err != nil {
			return
		}
		if n != AckLen {
			t.Fatal(n)
		}
		if got := AppendAck(nil, a); string(got) != string(b[:n]) {
			t.Fatalf("re-encode %x != %x", got, b[:n])
		}
	})
}

// FuzzEncoderAck feeds arbitrary acks to an encoder between honest traffic: whatever it
// accepts or rejects, the client must still decode every later packet and converge.
func FuzzEncoderAck(f *testing.F) {
	f.Add(AppendAck(nil, Ack{Latest: 3, Mask: 1}))
	f.Add(AppendAck(nil, Ack{Latest: 9, Mask: 0xffffffff}))
	f.Add(AppendAck(nil, Ack{Latest: 60000}))
	f.Add(append(AppendAck(nil, Ack{Latest: 5}), AppendAck(nil, Ack{Latest: 6, Mask: 0x10})...))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := testRegistry(t)
		w := NewWorld(r)
		enc := NewEncoder(r, EncoderConfig{})
		dec := NewDecoder(r)
		rng := rand.New(rand.NewPCG(1, 1))
		var pkts [][]byte
		for s := 0; s < 12; s++ {
			mutate(rng, w, 20, 0.2)
			pkts, _ = enc.Encode(pkts[:0], w, uint32(s))
			for i, p := range pkts {
				if s%4 == 1 && i == 0 {
					continue // lost
				}
				if _, err := dec.Decode(p); err != nil {
					t.Fatalf("send %d: %v", s, err)
				}
			}
			if s%4 != 1 && !dec.World().Equal(w) {
				t.Fatalf("send %d: client differs", s)
			}
			// Forged acks, then the honest one.
			for off := 0; off+AckLen <= len(b) && off < 8*AckLen; off += AckLen {
				if a, _, err := DecodeAck(b[off:]); err == nil {
					// Acks for packets that the client really received are not forged; only
					// keep those that claim nothing beyond what the client has.
					if lies(a, dec.Ack()) {
						continue
					}
					enc.Ack(a)
				}
			}
			enc.Ack(dec.Ack())
		}
	})
}

// lies reports whether a claims a packet the honest ack h does not (a client that lies
// about receiving packets only hurts itself; forged future/never-sent acks are checked
// by TestForgedAcks).
func lies(a, h Ack) bool {
	claimed := func(x Ack, seq uint16) bool {
		d := uint16(x.Latest - seq)
		return x.Latest != 0 && (d == 0 || (d <= 32 && x.Mask&(1<<(d-1)) != 0))
	}
	for d := 0; d <= 32; d++ {
		seq := a.Latest - uint16(d)
		if claimed(a, seq) && !claimed(h, seq) {
			return true
		}
	}
	return false
}

// FuzzRoundTrip drives random worlds and network schedules from the fuzz input.
func FuzzRoundTrip(f *testing.F) {
	f.Add(uint64(1), uint8(0), uint8(0), uint8(0), uint16(1100), uint8(4))
	f.Add(uint64(2), uint8(50), uint8(20), uint8(20), uint16(200), uint8(3))
	f.Add(uint64(3), uint8(10), uint8(0), uint8(60), uint16(64), uint8(1))
	f.Fuzz(func(t *testing.T, seed uint64, loss, dup, delay uint8, maxBytes uint16, maxPk uint8) {
		rng := rand.New(rand.NewPCG(seed, 77))
		ns := netSchedule{loss: float64(loss%80) / 256, dup: float64(dup%80) / 256, delay: float64(delay%80) / 256}
		cfg := EncoderConfig{MaxPacketBytes: int(maxBytes), MaxPacketsPerSend: int(maxPk % 9)}
		simulate(t, rng, cfg, ns, 60, 40, 0.1)
	})
}

func TestAckMaskBits(t *testing.T) {
	// Decoder ack bookkeeping: bit i of the mask is Latest-1-i.
	r := testRegistry(t)
	dec := NewDecoder(r)
	pkt := func(seq uint16) []byte {
		p := []byte{Version, 0, 0, 0, 0, 0, 0, 0, 0, 0} // no common, no types, end
		binary.LittleEndian.PutUint16(p[1:], seq)
		return p
	}
	for _, s := range []uint16{10, 12, 11, 20, 5, 65535} {
		dec.Decode(pkt(s))
	}
	// Sequence numbers wrap: 65535 is 21 packets before 20.
	want := Ack{Latest: 20, Mask: 1<<(20-1-12) | 1<<(20-1-11) | 1<<(20-1-10) | 1<<(20-1-5) | 1<<20}
	if info, _ := dec.Decode(pkt(65000)); !info.Stale {
		t.Fatal("packet far behind the newest not stale")
	}
	if got := dec.Ack(); got != want {
		t.Fatalf("ack %+v, want %+v", got, want)
	}
}
