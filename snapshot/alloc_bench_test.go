package snapshot

import (
	"math/rand/v2"
	"testing"

	"github.com/volleynet/volley/internal/arenatrace"
)

// steadyLink is a host world, encoder and decoder wired together with reused buffers.
type steadyLink struct {
	w    *World
	enc  *Encoder
	dec  *Decoder
	rng  *rand.Rand
	q    []uint32
	zero [2]uint32
	pkts [][]byte
	s    int
}

func newSteadyLink(t testing.TB) *steadyLink {
	r := testRegistry(t)
	l := &steadyLink{w: NewWorld(r), enc: NewEncoder(r, EncoderConfig{}), dec: NewDecoder(r), rng: rand.New(rand.NewPCG(1, 1)), q: make([]uint32, 16)}
	for id := EntityID(1); id <= 120; id++ {
		l.w.SetQuantized(id, 1+TypeID(id%2), randomQ(l.rng, r.Type(1+TypeID(id%2)), nil, nil))
	}
	return l
}

// send changes some entities, spawns and removes one, encodes, decodes, acks.
func (l *steadyLink) send(t testing.TB) {
	l.s++
	for id := EntityID(1); id <= 100; id += EntityID(1 + l.rng.IntN(3)) {
		typ, old, ok := l.w.Quantized(id)
		if !ok {
			continue
		}
		q := l.q[:len(old)]
		copy(q, old)
		q[0] = (q[0] + 3) % (l.w.reg.Type(typ).fields[0].maxQ + 1)
		if err := l.w.SetQuantized(id, typ, q); err != nil {
			t.Fatal(err)
		}
	}
	// Churn: one entity leaves, one arrives (IDs 101..120 cycle).
	gone := EntityID(101 + l.s%20)
	l.w.Remove(gone)
	back := EntityID(101 + (l.s+10)%20)
	if err := l.w.SetQuantized(back, 2, l.zero[:2]); err != nil {
		t.Fatal(err)
	}
	var err error
	l.pkts, err = l.enc.Encode(l.pkts[:0], l.w, uint32(l.s))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range l.pkts {
		if _, err := l.dec.Decode(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.enc.Ack(l.dec.Ack()); err != nil {
		t.Fatal(err)
	}
}

func TestSteadyStateAllocs(t *testing.T) {
	l := newSteadyLink(t)
	for range 200 {
		l.send(t)
	}
	if !l.dec.World().Equal(l.w) {
		t.Fatal("worlds differ")
	}
	if n := testing.AllocsPerRun(300, func() { l.send(t) }); n != 0 {
		t.Fatalf("%v allocations per send (encode+decode+ack), want 0", n)
	}
	if !l.dec.World().Equal(l.w) {
		t.Fatal("worlds differ")
	}
}

// arenaSends records the arena trace as quantized worlds, one per send.
func arenaSends(b testing.TB, seconds int) (*Registry, []*World) {
	return arenaSendsOf(b, seconds, arenatrace.Config{})
}

// arenaSendsOf is arenaSends of a configured trace.
func arenaSendsOf(b testing.TB, seconds int, cfg arenatrace.Config) (*Registry, []*World) {
	r := NewRegistry()
	if _, err := r.Register(arenatrace.PlayerType, arenatrace.Player{}); err != nil {
		b.Fatal(err)
	}
	if _, err := r.Register(arenatrace.ProjectileType, arenatrace.Projectile{}); err != nil {
		b.Fatal(err)
	}
	sim := arenatrace.New(cfg)
	var worlds []*World
	for range seconds * arenatrace.TickRate {
		sim.Step()
		if sim.Tick()%(arenatrace.TickRate/arenatrace.SendRate) != 0 {
			continue
		}
		w := NewWorld(r)
		st := sim.State()
		for i := range st.Players {
			w.Set(EntityID(st.Players[i].ID), arenatrace.PlayerType, &st.Players[i])
		}
		for i := range st.Projectiles {
			w.Set(EntityID(st.Projectiles[i].ID), arenatrace.ProjectileType, &st.Projectiles[i])
		}
		worlds = append(worlds, w)
	}
	return r, worlds
}

// BenchmarkEncode measures the host's per-client cost on the arena trace: Encode plus
// applying the client's ack (acks arrive 3 sends late, nothing lost).
func BenchmarkEncode(b *testing.B) {
	for _, noDelta := range []bool{false, true} {
		name := "delta"
		if noDelta {
			name = "whole"
		}
		b.Run(name, func(b *testing.B) {
			r, worlds := arenaSends(b, 20)
			enc := NewEncoder(r, EncoderConfig{DisableDelta: noDelta})
			// Warm up one pass so the benchmark measures the steady state.
			var pkts [][]byte
			for j, w := range worlds {
				pkts, _ = enc.Encode(pkts[:0], w, uint32(j))
				last := pkts[len(pkts)-1]
				enc.Ack(Ack{Latest: uint16(last[1]) | uint16(last[2])<<8})
			}
			var acks [3]Ack
			i, ents, bytes := 0, 0, 0
			b.ReportAllocs()
			for b.Loop() {
				// The trace repeats: at the seam projectiles vanish and reappear, which
				// the encoder handles like any other removals and spawns.
				w := worlds[i%len(worlds)]
				if err := enc.Ack(acks[i%3]); err != nil {
					b.Fatal(err)
				}
				pkts, _ = enc.Encode(pkts[:0], w, uint32(i))
				last := pkts[len(pkts)-1]
				acks[i%3] = Ack{Latest: uint16(last[1]) | uint16(last[2])<<8, Mask: 0xffffffff} // nothing lost
				ents += w.Len()
				for _, p := range pkts {
					bytes += len(p)
				}
				i++
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ents), "ns/entity")
			b.ReportMetric(float64(bytes)/float64(i), "bytes/send")
		})
	}
}

// BenchmarkDecode measures the client: decoding each send's packets of the arena trace.
// The trace is ten minutes long: when it ends, decoding starts again with a fresh
// decoder, whose first sends allocate its records. With a one-minute trace that was 3%
// of the time (and 252 B per send), which a client, whose decoder lives for its
// session, does not pay.
func BenchmarkDecode(b *testing.B) {
	r, worlds := arenaSends(b, 600)
	enc := NewEncoder(r, EncoderConfig{})
	dec := NewDecoder(r)
	var sends [][][]byte
	ents := make([]int, len(worlds))
	for i, w := range worlds {
		pkts, _ := enc.Encode(nil, w, uint32(i))
		for _, p := range pkts {
			if _, err := dec.Decode(p); err != nil {
				b.Fatal(err)
			}
		}
		enc.Ack(dec.Ack())
		sends = append(sends, pkts)
		ents[i] = w.Len()
	}
	dec = NewDecoder(r)
	i, n := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		if i == len(sends) {
			b.StopTimer()
			dec, i = NewDecoder(r), 0
			b.StartTimer()
		}
		for _, p := range sends[i] {
			if _, err := dec.Decode(p); err != nil {
				b.Fatal(err)
			}
		}
		n += ents[i]
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/entity")
}

// TestArenaTrace runs the codec on 20 s of the arena trace (acks 3 sends late, nothing
// lost): the client matches the host after every send, no packet exceeds 1,100 bytes, and
// the deltas stay small (a size regression guard; `go run ./bench bandwidth` has the
// comparison with msgpack).
func TestArenaTrace(t *testing.T) {
	r, worlds := arenaSends(t, 20)
	enc := NewEncoder(r, EncoderConfig{})
	dec := NewDecoder(r)
	var acks [3]Ack
	var pkts [][]byte
	total := 0
	for i, w := range worlds {
		if err := enc.Ack(acks[i%3]); err != nil {
			t.Fatal(err)
		}
		pkts, _ = enc.Encode(pkts[:0], w, uint32(i))
		for _, p := range pkts {
			if len(p) > DefaultMaxPacketBytes {
				t.Fatalf("packet of %d bytes", len(p))
			}
			total += len(p)
			if _, err := dec.Decode(p); err != nil {
				t.Fatal(err)
			}
		}
		if !dec.World().Equal(w) {
			t.Fatalf("send %d: client differs", i)
		}
		acks[i%3] = dec.Ack()
	}
	if avg := total / len(worlds); avg > 400 {
		t.Fatalf("%d bytes per send, want <= 400", avg)
	}
}
