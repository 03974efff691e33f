package snapshot

import (
	"encoding/hex"
	"errors"
	"testing"
)

type classes struct {
	B   bool    `snap:"bool"`                           // 1 bit: flip
	S   int     `snap:"int,min=0,max=7"`                // 3 bits: raw
	M   int     `snap:"int,min=0,max=200"`              // 8 bits: z:4 or raw
	A   float32 `snap:"angle,bits=10"`                  // 10 bits, wraps: z:4, z:8 or raw
	L   float64 `snap:"float,min=0,max=100,prec=0.001"` // 17 bits: all classes
	U32 uint32  `snap:"int,min=0,max=4294967295"`       // 32 bits
}

// changeClassCases are TestChangeClasses' changes of one entity from changeClassBase.
var (
	changeClassBase  = []uint32{0, 3, 100, 1020, 50000, 4000000000}
	changeClassCases = []struct {
		name string
		cur  []uint32
		want string // the packet's bit stream after the header
	}{
		// Every delta here is the entity's first: the field codes have k = 0 (class
		// widths 0, 0, 1, 2, 4: residuals 0 | 1 | 2-3 | 4-7 | 8-23, then the escape).
		// Each stream starts with common = 1 and the type table (type 5, no
		// prediction, six k = 0), 21a00000 and two more bits, then the entry.
		{"unchanged: acked version is current, entity not sent", []uint32{0, 3, 100, 1020, 50000, 4000000000}, "010000"},
		{"flip and small ints", []uint32{1, 6, 100, 1020, 50000, 4000000000}, "21a00000cb4e00"},
		{"small residuals", []uint32{0, 3, 108, 1, 49992, 3999999999}, "21a000004b1e3e791700"},
		{"larger residuals escape, angle wrap", []uint32{0, 3, 100, 100, 50128, 4000000128}, "21a000002c8d8c0ce86180286bee00"},
		{"one large residual", []uint32{0, 3, 100, 1020, 52048, 4000000000}, "21a000004bf850cb00"},
		{"big changes: whole is cheaper", []uint32{0, 3, 0, 500, 52048, 1}, "21a000002c0d803ea8650100000000"},
	}
)

func classesRegistry(t testing.TB) *Registry {
	r := NewRegistry()
	if _, err := r.Register(5, classes{}); err != nil {
		t.Fatal(err)
	}
	return r
}

// changeClass encodes entity 9 at changeClassBase, acknowledges it, and encodes it
// again at cur; it returns both packets.
func changeClass(t testing.TB, r *Registry, cur []uint32) [][]byte {
	w := NewWorld(r)
	enc := NewEncoder(r, EncoderConfig{})
	dec := NewDecoder(r)
	if err := w.SetQuantized(9, 5, changeClassBase); err != nil {
		t.Fatal(err)
	}
	p1, _ := enc.Encode(nil, w, 1)
	if _, err := dec.Decode(p1[0]); err != nil {
		t.Fatal(err)
	}
	enc.Ack(dec.Ack())
	w.SetQuantized(9, 5, cur)
	p2, _ := enc.Encode(nil, w, 2)
	return [][]byte{p1[0], p2[0]}
}

// TestChangeClasses pins the encoding of each change class (golden hex) and checks that
// the decoder reverses it.
func TestChangeClasses(t *testing.T) {
	r := classesRegistry(t)
	for _, tt := range changeClassCases {
		t.Run(tt.name, func(t *testing.T) {
			pk := changeClass(t, r, tt.cur)
			if got := hex.EncodeToString(pk[1][HeaderLen:]); got != tt.want {
				t.Errorf("stream %s, want %s", got, tt.want)
			}
			dec := NewDecoder(r)
			for _, p := range pk {
				if _, err := dec.Decode(p); err != nil {
					t.Fatal(err)
				}
			}
			w := NewWorld(r)
			w.SetQuantized(9, 5, tt.cur)
			if !dec.World().Equal(w) {
				_, q, _ := dec.World().Quantized(9)
				t.Fatalf("decoded %v, want %v", q, tt.cur)
			}
		})
	}
}

// TestUnknownTypeAtDecoder: a host registry with a type the client lacks.
func TestUnknownTypeAtDecoder(t *testing.T) {
	host := testRegistry(t)
	host.Register(7, classes{})
	client := testRegistry(t)
	w := NewWorld(host)
	w.SetQuantized(1, 7, make([]uint32, 6))
	pk, _ := NewEncoder(host, EncoderConfig{}).Encode(nil, w, 1)
	if _, err := NewDecoder(client).Decode(pk[0]); !errors.Is(err, ErrUnknownType) {
		t.Fatal(err)
	}
}

// predictionGolden runs the scenario of TestPredictionGolden and returns its packets.
func predictionGolden(t testing.TB) (*Registry, [][]byte) {
	r := classesRegistry(t)
	w := NewWorld(r)
	enc := NewEncoder(r, EncoderConfig{})
	dec := NewDecoder(r)
	var out [][]byte
	for i, tick := range []uint32{10, 20, 30, 35} {
		// L moves 1000 steps per 10 ticks; A turns 10 steps per 10 ticks (past 1023 to 6).
		w.SetQuantized(9, 5, []uint32{0, 3, 100, uint32(1020+10*tick/10) % 1024, 50000 + 100*(tick-10), 7})
		pk, _ := enc.Encode(nil, w, tick)
		out = append(out, pk[0])
		if _, err := dec.Decode(pk[0]); err != nil {
			t.Fatal(err)
		}
		if !dec.World().Equal(w) {
			t.Fatalf("send %d: client differs", i)
		}
		enc.Ack(dec.Ack())
	}
	return r, out
}

// TestPredictionGolden: an entity moving linearly is predicted from its two acknowledged
// versions; the prediction is exact, so every field costs one bit (residual 0, k 0).
func TestPredictionGolden(t *testing.T) {
	_, pkts := predictionGolden(t)
	var got []string
	for _, p := range pkts {
		got = append(got, hex.EncodeToString(p[HeaderLen:]))
	}
	want := []string{
		"20a000002c8dcc00a8610700000000", // whole (table: type 5)
		"21a000004b3cfe38c700",           // common delta against seq 1, no prediction
		// common = 1; table: type 5 predicted from 2 back; common delta "1", ID gap,
		// six unchanged fields "0"; end.
		"21a040004b0000",
		// 5 ticks later: prediction from seqs 2 and 3 scaled by 5/10, still exact.
		"21a040004b0000",
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("send %d: stream %s, want %s", i, got[i], want[i])
		}
	}
}
