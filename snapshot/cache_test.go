package snapshot

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/volleynet/volley/internal/arenatrace"
)

// TestEncodeCacheSameBytes runs clients with different loss and ack delays through
// the arena trace, each with an encoder that shares a cache with the other clients'
// and one that has none: both must write the same bytes, which the client decodes.
func TestEncodeCacheSameBytes(t *testing.T) {
	r, worlds := arenaSends(t, 10)
	// The same worlds again, changed in place (so versions repeat across sends, as on
	// a host whose entities sometimes stand still).
	live := NewWorld(r)
	cache := NewEncodeCache()
	type client struct {
		cached, plain *Encoder
		dec           *Decoder
		rng           *rand.Rand
		loss          int // percent
		acks          []Ack
		lag           int
	}
	var cs []*client
	for i := range 6 {
		cs = append(cs, &client{
			cached: NewEncoder(r, EncoderConfig{Cache: cache, MaxPacketsPerSend: 1 + i%2}),
			plain:  NewEncoder(r, EncoderConfig{MaxPacketsPerSend: 1 + i%2}),
			dec:    NewDecoder(r),
			rng:    rand.New(rand.NewPCG(uint64(i), 7)),
			loss:   []int{0, 0, 5, 20, 50, 0}[i],
			lag:    i % 4,
		})
	}
	var a, b [][]byte
	for s, w := range worlds {
		src := w
		if s%2 == 1 {
			// Odd sends: a world that keeps its versions for unchanged entities.
			var gone []EntityID
			live.Range(func(id EntityID, _ TypeID, _ []uint32) bool {
				if _, _, ok := w.Quantized(id); !ok {
					gone = append(gone, id)
				}
				return true
			})
			for _, id := range gone {
				live.Remove(id)
			}
			w.Range(func(id EntityID, typ TypeID, q []uint32) bool {
				_ = live.SetQuantized(id, typ, q)
				return true
			})
			src = live
		}
		for ci, c := range cs {
			var err error
			a, err = c.cached.Encode(a[:0], src, uint32(s))
			if err != nil {
				t.Fatal(err)
			}
			b, err = c.plain.Encode(b[:0], src, uint32(s))
			if err != nil {
				t.Fatal(err)
			}
			if len(a) != len(b) {
				t.Fatalf("send %d client %d: %d packets with the cache, %d without", s, ci, len(a), len(b))
			}
			for k := range a {
				if !bytes.Equal(a[k], b[k]) {
					t.Fatalf("send %d client %d packet %d differs:\n%x\n%x", s, ci, k, a[k], b[k])
				}
				if c.rng.IntN(100) < c.loss {
					continue
				}
				if _, err := c.dec.Decode(a[k]); err != nil {
					t.Fatalf("send %d client %d: %v", s, ci, err)
				}
			}
			c.acks = append(c.acks, c.dec.Ack())
			if len(c.acks) > c.lag {
				ack := c.acks[0]
				c.acks = c.acks[1:]
				if err := c.cached.Ack(ack); err != nil {
					t.Fatal(err)
				}
				if err := c.plain.Ack(ack); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for ci, c := range cs {
		if c.loss == 0 && !c.dec.World().Equal(worlds[len(worlds)-1]) {
			t.Errorf("client %d: world differs", ci)
		}
	}
}

func TestWorldVersions(t *testing.T) {
	r := testRegistry(t)
	w := NewWorld(r)
	q := []uint32{1, 2}
	if err := w.SetQuantized(1, 2, q); err != nil {
		t.Fatal(err)
	}
	v1 := w.ents[0].ver
	_ = w.SetQuantized(1, 2, q)
	if w.ents[0].ver != v1 {
		t.Fatal("setting the same values changed the version")
	}
	q[0] = 3
	_ = w.SetQuantized(1, 2, q)
	if w.ents[0].ver == v1 || w.ents[0].ver == 0 {
		t.Fatalf("version %d after a change, was %d", w.ents[0].ver, v1)
	}
	c := NewWorld(r)
	c.CopyFrom(w)
	if c.ents[0].ver != w.ents[0].ver {
		t.Fatal("CopyFrom did not keep the version")
	}
}

// BenchmarkEncodeClients measures a host's send to many clients of the arena trace
// (acks 1..3 sends late, nothing lost), with and without a shared EncodeCache;
// ns/entity is per client.
func BenchmarkEncodeClients(b *testing.B) {
	for _, tc := range []struct {
		players, clients int
		shared           bool
	}{{64, 32, false}, {64, 32, true}, {200, 100, false}, {200, 100, true}} {
		b.Run(fmt.Sprintf("players=%d/clients=%d/cache=%v", tc.players, tc.clients, tc.shared), func(b *testing.B) {
			r, worlds := arenaSendsOf(b, 10, arenatrace.Config{Players: tc.players})
			clients, shared := tc.clients, tc.shared
			var cache *EncodeCache
			if shared {
				cache = NewEncodeCache()
			}
			encs := make([]*Encoder, clients)
			acks := make([][3]Ack, clients)
			for i := range encs {
				encs[i] = NewEncoder(r, EncoderConfig{Cache: cache})
			}
			var pkts [][]byte
			i, ents := 0, 0
			step := func() {
				w := worlds[i%len(worlds)]
				for c, enc := range encs {
					lag := 1 + c%3
					if err := enc.Ack(acks[c][i%lag]); err != nil {
						b.Fatal(err)
					}
					pkts, _ = enc.Encode(pkts[:0], w, uint32(i))
					last := pkts[len(pkts)-1]
					seq := uint16(last[1]) | uint16(last[2])<<8
					mask := uint32(0xffffffff)
					if seq <= 32 {
						mask = 1<<(seq-1) - 1
					}
					acks[c][i%lag] = Ack{Latest: seq, Mask: mask}
				}
				ents += w.Len() * clients
				i++
			}
			for range len(worlds) { // warm up: the steady state
				step()
			}
			ents = 0
			b.ReportAllocs()
			for b.Loop() {
				step()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ents), "ns/entity")
		})
	}
}

// TestEncoderRecordChurn has more entities come and go than the encoder keeps for
// reuse, so records are released and their indices reused; the client still
// converges to the host's world.
func TestEncoderRecordChurn(t *testing.T) {
	r := testRegistry(t)
	w := NewWorld(r)
	enc := NewEncoder(r, EncoderConfig{})
	dec := NewDecoder(r)
	q := []uint32{1, 2}
	var pkts [][]byte
	send := func(tick uint32) {
		t.Helper()
		var err error
		pkts, err = enc.Encode(pkts[:0], w, tick)
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
	}
	tick := uint32(0)
	released := 0
	for round := range 3 {
		base := EntityID(round * 10000)
		for id := base; id < base+6000; id++ {
			q[0] = uint32(id) % 100
			if err := w.SetQuantized(id, 2, q); err != nil {
				t.Fatal(err)
			}
		}
		tick++
		send(tick) // most do not fit and are never sent
		for id := base; id < base+6000; id++ {
			w.Remove(id)
		}
		for id := base + 20000; id < base+20050; id++ {
			_ = w.SetQuantized(id, 2, q)
		}
		for range 40 {
			tick++
			send(tick)
			released = max(released, len(enc.freeIdx))
		}
		if !dec.World().Equal(w) {
			t.Fatalf("round %d: client differs from host", round)
		}
	}
	if released == 0 {
		t.Fatal("no record was released: the test does not cover index reuse")
	}
}
