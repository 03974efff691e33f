package snapshot

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// band is an Interest: a client receives the units whose X lies within radius of its
// center (quantized units) and every shot; units within near of the center weigh 8.
type band struct {
	center, radius, near uint32
	known                map[EntityID]bool // the known flags of the last Encode, if not nil
}

func (b *band) Weight(id EntityID, typ TypeID, q []uint32, known bool) uint32 {
	if b.known != nil {
		b.known[id] = known
	}
	if typ != 1 {
		return 1
	}
	d := max(q[0], b.center) - min(q[0], b.center)
	switch {
	case d > b.radius:
		return 0
	case d <= b.near:
		return 8
	}
	return 1
}

// relevant returns the part of w that in selects.
func relevant(w *World, in Interest) *World {
	out := NewWorld(w.reg)
	w.Range(func(id EntityID, typ TypeID, q []uint32) bool {
		if in.Weight(id, typ, q, false) > 0 {
			if err := out.SetQuantized(id, typ, q); err != nil {
				panic(err)
			}
		}
		return true
	})
	return out
}

// bandWorld is a world of units spread over X (and a few shots) that drift.
type bandWorld struct {
	w   *World
	rng *rand.Rand
	q   []uint32
}

func newBandWorld(t testing.TB, units int) *bandWorld {
	r := testRegistry(t)
	b := &bandWorld{w: NewWorld(r), rng: rand.New(rand.NewPCG(7, 7)), q: make([]uint32, 8)}
	for i := range units {
		q := []uint32{uint32(i * 20000 / units), uint32(b.rng.IntN(20001)), 0, 100, 1, 1, uint32(i)}
		if err := b.w.SetQuantized(EntityID(1+i), 1, q); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		if err := b.w.SetQuantized(EntityID(5000+i), 2, []uint32{uint32(i * 300), 1000}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// move shifts every unit by a few steps along X (and sometimes Y), wrapping.
func (b *bandWorld) move() {
	for id := EntityID(1); ; id++ {
		typ, old, ok := b.w.Quantized(id)
		if !ok || typ != 1 {
			return
		}
		q := append(b.q[:0], old...)
		q[0] = (q[0] + uint32(20+b.rng.IntN(40))) % 20001
		if b.rng.IntN(4) == 0 {
			q[1] = uint32(b.rng.IntN(20001))
		}
		if err := b.w.SetQuantized(id, typ, q); err != nil {
			panic(err)
		}
	}
}

// TestInterestLossless has three clients with moving bands of interest over drifting
// units: after every send each client holds exactly the part of the world its
// Interest selects, entities entering a band arrive whole, and encoders sharing one
// EncodeCache write the same bytes as encoders without one.
func TestInterestLossless(t *testing.T) {
	const clients = 3
	b := newBandWorld(t, 300)
	r := b.w.reg
	cache := NewEncodeCache()
	type client struct {
		in      band
		enc     *Encoder // shares cache
		alone   *Encoder // no cache: must write the same bytes
		dec     *Decoder
		pkts    [][]byte
		ref     [][]byte
		entered int
	}
	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = &client{
			in:    band{center: uint32(i * 7000), radius: 2500, near: 500},
			enc:   NewEncoder(r, EncoderConfig{Cache: cache}),
			alone: NewEncoder(r, EncoderConfig{}),
			dec:   NewDecoder(r),
		}
	}
	for s := range 300 {
		b.move()
		for i, c := range cs {
			c.in.center = (c.in.center + uint32(30+10*i)) % 20001 // the client walks
			want := relevant(b.w, &c.in)
			var err error
			c.pkts, err = c.enc.EncodeWith(c.pkts[:0], b.w, uint32(s), EncodeOptions{Interest: &c.in})
			if err != nil {
				t.Fatal(err)
			}
			c.ref, err = c.alone.EncodeWith(c.ref[:0], b.w, uint32(s), EncodeOptions{Interest: &c.in})
			if err != nil {
				t.Fatal(err)
			}
			if len(c.pkts) != len(c.ref) {
				t.Fatalf("send %d client %d: %d packets with the shared cache, %d without", s, i, len(c.pkts), len(c.ref))
			}
			for k := range c.pkts {
				if !bytes.Equal(c.pkts[k], c.ref[k]) {
					t.Fatalf("send %d client %d packet %d: the shared cache changed the bytes", s, i, k)
				}
			}
			if st := c.enc.Stats(); st.Deferred != 0 {
				t.Fatalf("send %d client %d: %d deferred, the test wants everything to fit", s, i, st.Deferred)
			}
			entering := 0
			want.Range(func(id EntityID, _ TypeID, _ []uint32) bool {
				if _, _, ok := c.dec.World().Quantized(id); !ok {
					entering++
				}
				return true
			})
			for _, p := range c.pkts {
				if _, err := c.dec.Decode(p); err != nil {
					t.Fatalf("send %d client %d: %v", s, i, err)
				}
			}
			if !c.dec.World().Equal(want) {
				t.Fatalf("send %d client %d: the client holds %d entities, its interest selects %d (or values differ)",
					s, i, c.dec.World().Len(), want.Len())
			}
			if whole := c.enc.Stats().Whole; whole < entering {
				t.Fatalf("send %d client %d: %d entities entered, only %d sent whole", s, i, entering, whole)
			}
			c.entered += entering
			// Acks come back one send late, so deltas and removals cross in flight.
			if s%2 == 1 {
				if err := c.enc.Ack(c.dec.Ack()); err != nil {
					t.Fatal(err)
				}
				if err := c.alone.Ack(c.dec.Ack()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for i, c := range cs {
		if c.entered < 100 {
			t.Errorf("client %d: only %d entities entered its interest: the test does not exercise entering and leaving", i, c.entered)
		}
	}
}

// TestInterestLossy loses 5% of packets and acks while interests move; once the world
// and the interests stop changing, every client converges to its part of the world.
func TestInterestLossy(t *testing.T) {
	b := newBandWorld(t, 200)
	r := b.w.reg
	rng := rand.New(rand.NewPCG(3, 4))
	ins := []*band{{center: 2000, radius: 3000}, {center: 15000, radius: 4000, near: 1000}}
	encs := []*Encoder{NewEncoder(r, EncoderConfig{}), NewEncoder(r, EncoderConfig{})}
	decs := []*Decoder{NewDecoder(r), NewDecoder(r)}
	var pkts [][]byte
	send := func(s int) {
		for i, in := range ins {
			var err error
			pkts, err = encs[i].EncodeWith(pkts[:0], b.w, uint32(s), EncodeOptions{Interest: in})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range pkts {
				if rng.Float64() < 0.05 {
					continue
				}
				if _, err := decs[i].Decode(p); err != nil {
					t.Fatal(err)
				}
			}
			if rng.Float64() >= 0.05 {
				if err := encs[i].Ack(decs[i].Ack()); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	s := 0
	for ; s < 300; s++ {
		b.move()
		for _, in := range ins {
			in.center = (in.center + 45) % 20001
		}
		send(s)
	}
	for i := range ins {
		want := relevant(b.w, ins[i])
		limit := s + 100
		for !decs[i].World().Equal(want) {
			if s == limit {
				t.Fatalf("client %d: not converged 100 sends after the world stopped (%d entities held, %d relevant)", i, decs[i].World().Len(), want.Len())
			}
			send(s)
			s++
		}
	}
}

// TestInterestKnown checks the known flag: false for an entity never sent, true once it
// was sent, false again after the client was told to remove it.
func TestInterestKnown(t *testing.T) {
	r := testRegistry(t)
	w := NewWorld(r)
	if err := w.SetQuantized(1, 1, []uint32{100, 0, 0, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	in := &band{center: 100, radius: 50, known: map[EntityID]bool{}}
	enc := NewEncoder(r, EncoderConfig{})
	var steps []bool
	for _, x := range []uint32{100, 120, 500, 500, 110} {
		_ = w.SetQuantized(1, 1, []uint32{x, 0, 0, 0, 0, 0, 0})
		if _, err := enc.EncodeWith(nil, w, 1, EncodeOptions{Interest: in}); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, in.known[1])
	}
	// Sent at 100 (unknown before), known at 120, known when it leaves at 500
	// (the removal goes out), unknown at the next 500, unknown when it comes back.
	want := []bool{false, true, true, false, false}
	if fmt.Sprint(steps) != fmt.Sprint(want) {
		t.Fatalf("known flags %v, want %v", steps, want)
	}
}

// TestEncodeMaxBytes caps every send at a byte budget well below what the world needs:
// no send exceeds it, every entity is still updated within a few sends, and entities
// of higher weight are updated more often. Without the cap the sends are far larger.
func TestEncodeMaxBytes(t *testing.T) {
	const budget = 300
	b := newBandWorld(t, 200)
	r := b.w.reg
	in := &band{center: 10000, radius: 20000, near: 2500} // every unit; a quarter of them weigh 8
	for _, capped := range []bool{true, false} {
		enc := NewEncoder(r, EncoderConfig{})
		dec := NewDecoder(r)
		fresh := map[EntityID]int{} // the last send after which the client held the host's value
		var maxGap, gapsNear, gapsFar, nNear, nFar int
		var pkts [][]byte
		biggest, deferred := 0, 0
		for s := range 200 {
			b.move()
			o := EncodeOptions{Interest: in}
			if capped {
				o.MaxBytes = budget
			}
			var err error
			pkts, err = enc.EncodeWith(pkts[:0], b.w, uint32(s), o)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, p := range pkts {
				n += len(p)
				if _, err := dec.Decode(p); err != nil {
					t.Fatal(err)
				}
			}
			biggest = max(biggest, n)
			deferred += enc.Stats().Deferred
			if err := enc.Ack(dec.Ack()); err != nil {
				t.Fatal(err)
			}
			b.w.Range(func(id EntityID, typ TypeID, q []uint32) bool {
				if typ != 1 {
					return true
				}
				_, got, ok := dec.World().Quantized(id)
				if ok && got[0] == q[0] && got[1] == q[1] {
					if last, seen := fresh[id]; seen && s >= 50 {
						gap := s - last
						maxGap = max(maxGap, gap)
						if in.Weight(id, typ, q, true) == 8 {
							gapsNear, nNear = gapsNear+gap, nNear+1
						} else {
							gapsFar, nFar = gapsFar+gap, nFar+1
						}
					}
					fresh[id] = s
				}
				return true
			})
		}
		if !capped {
			if biggest <= budget {
				t.Fatalf("uncapped sends reach only %d bytes: the budget of %d would not bite", biggest, budget)
			}
			continue
		}
		if biggest > budget {
			t.Fatalf("a send of %d bytes, budget %d", biggest, budget)
		}
		if deferred == 0 {
			t.Fatal("nothing deferred: the budget did not bite")
		}
		for id := EntityID(1); id <= 200; id++ {
			if last, ok := fresh[id]; !ok || 199-last > 16 {
				t.Fatalf("entity %d last updated at send %d of 200 (ok %v)", id, last, ok)
			}
		}
		if maxGap > 16 {
			t.Fatalf("an entity waited %d sends for an update, want <= 16", maxGap)
		}
		near, far := float64(gapsNear)/float64(nNear), float64(gapsFar)/float64(nFar)
		t.Logf("budget %d bytes: longest wait %d sends; mean wait %.2f sends at weight 8, %.2f at weight 1", budget, maxGap, near, far)
		if near >= far {
			t.Fatalf("weight 8 entities waited %.2f sends on average, weight 1 %.2f: weights do not matter", near, far)
		}
	}
}

// TestPacketBudget checks how a byte cap splits into packets.
func TestPacketBudget(t *testing.T) {
	r := testRegistry(t)
	enc := NewEncoder(r, EncoderConfig{MaxPacketBytes: 1000, MaxPacketsPerSend: 4})
	full := uint(1000-HeaderLen)*8 - 17
	for _, tc := range []struct {
		max     int
		packets int
		last    uint
	}{
		{0, 4, full},
		{4000, 4, full},
		{9999, 4, full},
		{2500, 3, (500-HeaderLen)*8 - 17},
		{2000, 2, full},
		{2009, 2, full}, // 9 bytes left: no room for an entry
		{2010, 3, 7},
		{300, 1, (300-HeaderLen)*8 - 17},
		{5, 1, 0},
	} {
		n, last := enc.packetBudget(tc.max)
		if n != tc.packets || last != tc.last {
			t.Errorf("MaxBytes %d: %d packets, last holds %d bits; want %d, %d", tc.max, n, last, tc.packets, tc.last)
		}
	}
}

// TestEncodeWithAllocs: interest and budget keep a steady-state send allocation-free.
func TestEncodeWithAllocs(t *testing.T) {
	b := newBandWorld(t, 200)
	r := b.w.reg
	enc := NewEncoder(r, EncoderConfig{Cache: NewEncodeCache()})
	dec := NewDecoder(r)
	in := &band{center: 5000, radius: 3000, near: 800}
	var pkts [][]byte
	s := 0
	send := func() {
		b.move()
		in.center = (in.center + 40) % 20001
		var err error
		pkts, err = enc.EncodeWith(pkts[:0], b.w, uint32(s), EncodeOptions{Interest: in, MaxBytes: 400})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts {
			if _, err := dec.Decode(p); err != nil {
				t.Fatal(err)
			}
		}
		if err := enc.Ack(dec.Ack()); err != nil {
			t.Fatal(err)
		}
		s++
	}
	for range 600 { // a full walk over the world: every record and buffer has grown
		send()
	}
	if n := testing.AllocsPerRun(200, send); n != 0 {
		t.Fatalf("%v allocations per send with Interest and MaxBytes, want 0", n)
	}
}
