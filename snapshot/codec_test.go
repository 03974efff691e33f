package snapshot

import (
	"encoding/hex"
	"math/rand/v2"
	"testing"
)

type unit struct {
	X      float32 `snap:"float,min=-100,max=100,prec=0.01"`
	Y      float32 `snap:"float,min=-100,max=100,prec=0.01"`
	Dir    float32 `snap:"angle,bits=9"`
	HP     int     `snap:"int,min=0,max=200,teleport"`
	Team   uint8   `snap:"int,min=0,max=3"`
	Alive  bool    `snap:"bool"`
	Serial int64   `snap:"int,min=0,max=4294967295"`
}

type shot struct {
	X float32 `snap:"float,min=-100,max=100,prec=0.1"`
	Y float32 `snap:"float,min=-100,max=100,prec=0.1"`
}

func testRegistry(t testing.TB) *Registry {
	r := NewRegistry()
	if _, err := r.Register(1, unit{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(2, shot{}); err != nil {
		t.Fatal(err)
	}
	return r
}

// randomQ returns valid random quantized values for typ, close to old when given.
func randomQ(rng *rand.Rand, t *Type, old []uint32, q []uint32) []uint32 {
	q = q[:0]
	for i, f := range t.fields {
		var v uint32
		switch {
		case old != nil && rng.IntN(3) == 0:
			v = old[i] // unchanged
		case old != nil && rng.IntN(2) == 0:
			d := int64(rng.IntN(5000)) - 2500
			if rng.IntN(2) == 0 {
				d /= 100
			}
			x := int64(old[i]) + d
			if f.Kind == KindAngle {
				x &= int64(f.maxQ)
			}
			v = uint32(max(0, min(int64(f.maxQ), x)))
		default:
			v = uint32(rng.Uint64N(uint64(f.maxQ) + 1))
		}
		q = append(q, v)
	}
	return q
}

// mutate changes a world randomly: updates, adds, removals, type changes.
func mutate(rng *rand.Rand, w *World, maxID int, churn float64) {
	var q []uint32
	for id := EntityID(1); id <= EntityID(maxID); id++ {
		typ, old, ok := w.Quantized(id)
		switch {
		case !ok:
			if rng.Float64() < churn {
				typ = TypeID(1 + rng.IntN(2))
				q = randomQ(rng, w.reg.Type(typ), nil, q)
				w.SetQuantized(id, typ, q)
			}
		case rng.Float64() < churn/2:
			w.Remove(id)
		case rng.Float64() < churn/10:
			typ = 3 - typ // same ID, other type
			q = randomQ(rng, w.reg.Type(typ), nil, q)
			w.SetQuantized(id, typ, q)
		case rng.IntN(2) == 0:
			q = randomQ(rng, w.reg.Type(typ), old, q)
			w.SetQuantized(id, typ, q)
		}
	}
}

// goldenWire runs the scenario of TestGoldenWire and returns its packets.
func goldenWire(t testing.TB) (*Registry, [][]byte) {
	r := testRegistry(t)
	w := NewWorld(r)
	enc := NewEncoder(r, EncoderConfig{})
	dec := NewDecoder(r)
	w.Set(1, 1, unit{X: 1.5, Y: -2, Dir: 1, HP: 100, Team: 2, Alive: true, Serial: 77})
	w.Set(4, 2, shot{X: 10, Y: 20})
	var out [][]byte
	send := func(tick uint32) {
		pk, err := enc.Encode(nil, w, tick)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pk {
			out = append(out, p)
			if _, err := dec.Decode(p); err != nil {
				t.Fatal(err)
			}
		}
		if !dec.World().Equal(w) {
			t.Fatal("client differs")
		}
		if err := enc.Ack(dec.Ack()); err != nil {
			t.Fatal(err)
		}
	}
	send(100)                                                                          // both whole
	w.Set(1, 1, unit{X: 1.6, Y: -2, Dir: 1, HP: 90, Team: 2, Alive: true, Serial: 77}) // small X change, HP change
	send(101)                                                                          // unit delta; shot unchanged and acked: not sent
	w.Remove(4)
	send(102) // removal; unit unchanged
	send(103) // nothing
	return r, out
}

func TestGoldenWire(t *testing.T) {
	_, pkts := goldenWire(t)
	var got []string
	for _, p := range pkts {
		got = append(got, hex.EncodeToString(p))
	}
	want := []string{
		// seq 1, tick 100: common = 0; table of 2: type 1 (no prediction, 7 k = 0),
		// type 2 (2 k = 0); id 1 whole ("001", gap "1 0" 0001, type index 0, 7 values);
		// id 4 whole (type index 1); end "0000".
		"02010064000000" + "4020000004002c989e904c51c8dc040000c024136109",
		// seq 2, tick 101: common = 1; table: type 1; id 1 common delta "1" (gap 1):
		// X +10 steps (residual 20: class 4 "11110" + 20-8 in 4 bits), Y and Dir "0",
		// HP -10 (residual 19, class 4), Team, Alive, Serial "0"; end.
		"02020065000000" + "21200000168f790b00",
		// seq 3, tick 102: common = 1; no table; id 4 removal "0001", gap "1 0" 0100; end.
		"02030066000000" + "01002300",
		// seq 4, tick 103: common = 1, no table, end, 7 zero bits of padding.
		"02040067000000" + "010000",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d packets: %q", len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	ack := AppendAck(nil, Ack{Latest: 0x1234, Mask: 0x80000001})
	if h := hex.EncodeToString(ack); h != "02341201000080" {
		t.Errorf("ack %s", h)
	}
}
