package snapshot

import (
	"errors"
	"math"
	"strings"
	"testing"
)

type allKinds struct {
	I    int     `snap:"int,min=-10,max=100"`
	U8   uint8   `snap:"int,min=0,max=255,teleport"`
	F    float32 `snap:"float,min=-50,max=50,prec=0.01"`
	D    float64 `snap:"float,min=0,max=1,prec=0.001"`
	A    float32 `snap:"angle,bits=10"`
	B    bool    `snap:"bool"`
	Big  int64   `snap:"int,min=-2147483648,max=2147483647"`
	Skip string
	No   int `snap:"-"`
}

func TestRegister(t *testing.T) {
	r := NewRegistry()
	typ, err := r.Register(3, &allKinds{})
	if err != nil {
		t.Fatal(err)
	}
	if typ.ID() != 3 || typ.Name() != "allKinds" || r.Type(3) != typ || r.Type(4) != nil {
		t.Fatal("identity")
	}
	want := []struct {
		name     string
		kind     Kind
		bits     int
		teleport bool
	}{
		{"I", KindInt, 7, false}, {"U8", KindInt, 8, true}, {"F", KindFloat, 14, false},
		{"D", KindFloat, 10, false}, {"A", KindAngle, 10, false}, {"B", KindBool, 1, false},
		{"Big", KindInt, 32, false},
	}
	f := typ.Fields()
	if len(f) != len(want) {
		t.Fatalf("%d fields", len(f))
	}
	for i, w := range want {
		if f[i].Name != w.name || f[i].Kind != w.kind || f[i].Bits != w.bits || f[i].Teleport != w.teleport {
			t.Errorf("field %d = %+v, want %+v", i, f[i], w)
		}
	}
	if _, err := r.Register(3, allKinds{}); !errors.Is(err, ErrSchema) {
		t.Fatal("duplicate ID accepted")
	}
}

func TestRegisterErrors(t *testing.T) {
	tests := []struct {
		name  string
		proto any
		field string
	}{
		{"no range", struct {
			X int `snap:"int"`
		}{}, "X"},
		{"no max", struct {
			X int `snap:"int,min=0"`
		}{}, "X"},
		{"empty range", struct {
			X int `snap:"int,min=5,max=5"`
		}{}, "X"},
		{"range over 32 bits", struct {
			X int64 `snap:"int,min=0,max=4294967296"`
		}{}, "X"},
		{"range beyond Go type", struct {
			X uint8 `snap:"int,min=0,max=256"`
		}{}, "X"},
		{"negative unsigned", struct {
			X uint `snap:"int,min=-1,max=5"`
		}{}, "X"},
		{"float no prec", struct {
			Y float32 `snap:"float,min=0,max=1"`
		}{}, "Y"},
		{"precision over 32 bits", struct {
			Y float64 `snap:"float,min=0,max=1000,prec=0.0000001"`
		}{}, "Y"},
		{"zero prec", struct {
			Y float64 `snap:"float,min=0,max=1,prec=0"`
		}{}, "Y"},
		{"angle bits 33", struct {
			Z float32 `snap:"angle,bits=33"`
		}{}, "Z"},
		{"angle no bits", struct {
			Z float32 `snap:"angle"`
		}{}, "Z"},
		{"unsupported Go type", struct {
			S string `snap:"int,min=0,max=1"`
		}{}, "S"},
		{"bool on int", struct {
			S int `snap:"bool"`
		}{}, "S"},
		{"unknown kind", struct {
			S int `snap:"vec3"`
		}{}, "S"},
		{"unknown option", struct {
			S int `snap:"int,min=0,max=3,speed=2"`
		}{}, "S"},
		{"unexported", struct {
			s int `snap:"int,min=0,max=3"`
		}{}, "s"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRegistry().Register(TypeID(i), tt.proto)
			if !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), "."+tt.field+":") {
				t.Fatalf("err = %v, want ErrSchema naming %s", err, tt.field)
			}
		})
	}
	if _, err := NewRegistry().Register(1, 5); !errors.Is(err, ErrSchema) {
		t.Fatal("non-struct accepted")
	}
}

func TestQuantize(t *testing.T) {
	r := NewRegistry()
	typ, _ := r.Register(1, allKinds{})
	in := allKinds{I: 42, U8: 200, F: -12.345, D: 0.5, A: -math.Pi / 2, B: true, Big: -5, Skip: "x", No: 9}
	q := make([]uint32, typ.NumFields())
	if err := typ.Quantize(in, q); err != nil {
		t.Fatal(err)
	}
	var out allKinds
	if err := typ.Dequantize(q, &out); err != nil {
		t.Fatal(err)
	}
	if out.I != 42 || out.U8 != 200 || math.Abs(float64(out.F+12.345)) > 0.006 || out.D != 0.5 || !out.B || out.Big != -5 {
		t.Fatalf("round trip: %+v", out)
	}
	if math.Abs(float64(out.A)+math.Pi/2) > 2*math.Pi/1024 {
		t.Fatalf("angle %v", out.A)
	}
	if out.Skip != "" || out.No != 0 {
		t.Fatal("untagged fields written")
	}
	// Clamping, wrapping, NaN.
	in = allKinds{I: -1000, U8: 255, F: 1e9, D: float64(math.NaN()), A: 5 * math.Pi, Big: math.MaxInt64}
	typ.Quantize(&in, q)
	typ.Dequantize(q, &out)
	if out.I != -10 || out.F != 50 || out.D != 0 || out.Big != math.MaxInt32 || math.Abs(math.Abs(float64(out.A))-math.Pi) > 0.01 {
		t.Fatalf("clamp: %+v", out)
	}
	if err := typ.Quantize(struct{}{}, q); !errors.Is(err, ErrWrongType) {
		t.Fatal(err)
	}
	if err := typ.Dequantize(q, out); !errors.Is(err, ErrWrongType) {
		t.Fatal("non-pointer accepted")
	}
	q[0] = 111
	if err := typ.Dequantize(q, &out); !errors.Is(err, ErrValueRange) {
		t.Fatal(err)
	}
	if !typ.Teleported([]uint32{0, 1, 0, 0, 0, 0, 0}, []uint32{5, 2, 0, 0, 0, 0, 0}) || typ.Teleported([]uint32{0, 1, 0, 0, 0, 0, 0}, []uint32{5, 1, 3, 0, 0, 0, 0}) {
		t.Fatal("Teleported")
	}
}

func TestWorld(t *testing.T) {
	r := NewRegistry()
	r.Register(1, allKinds{})
	w := NewWorld(r)
	for _, id := range []EntityID{5, 1, 9, 3} {
		if err := w.Set(id, 1, allKinds{I: int(id)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Set(2, 7, allKinds{}); !errors.Is(err, ErrUnknownType) {
		t.Fatal(err)
	}
	if err := w.SetQuantized(2, 1, []uint32{1}); !errors.Is(err, ErrFieldCount) {
		t.Fatal(err)
	}
	var ids []EntityID
	w.Range(func(id EntityID, _ TypeID, _ []uint32) bool { ids = append(ids, id); return true })
	if len(ids) != 4 || ids[0] != 1 || ids[3] != 9 {
		t.Fatal(ids)
	}
	if !w.Remove(3) || w.Remove(3) || w.Len() != 3 {
		t.Fatal("remove")
	}
	var a allKinds
	if ok, err := w.Get(9, &a); !ok || err != nil || a.I != 9 {
		t.Fatal(ok, err, a)
	}
	if ok, _ := w.Get(3, &a); ok {
		t.Fatal("removed entity found")
	}
	c := NewWorld(r)
	c.CopyFrom(w)
	if !c.Equal(w) {
		t.Fatal("copy differs")
	}
	c.Set(9, 1, allKinds{I: 8})
	if c.Equal(w) {
		t.Fatal("equal after change")
	}
}
