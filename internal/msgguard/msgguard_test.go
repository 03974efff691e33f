package msgguard

import (
	"encoding/hex"
	"errors"
	"fmt"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		hex  string
		want error
	}{
		{"fixint", "05", nil},
		{"nil", "c0", nil},
		{"str", "a3616263", nil},
		{"map", "81a16101", nil},
		{"nested", "9291019202c3", nil},
		{"empty array", "90", nil},
		{"float64", "cb3ff0000000000000", nil},
		{"fixext4", "d6ff00000001", nil},
		{"huge array32", "dd01000000", ErrLength},
		{"max array32", "ddffffffff", ErrLength},
		{"huge map16", "deffff01", ErrLength},
		{"huge str32", "dbffffffff", ErrLength},
		{"huge bin8", "c4ff00", ErrLength},
		{"reserved", "c1", ErrMalformed},
		{"truncated", "cd01", ErrLength},
		{"missing element", "920101" + "", nil},
		{"missing element 2", "9301", ErrLength},
		{"trailing", "0101", ErrTrailing},
		{"empty", "", ErrMalformed},
		{"truncated length", "dc00", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := hex.DecodeString(tt.hex)
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(b, 0); !errors.Is(err, tt.want) {
				t.Fatalf("Check(%s) = %v, want %v", tt.hex, err, tt.want)
			}
		})
	}
}

func TestCheckDepthAndSize(t *testing.T) {
	deep := make([]byte, 0, 100)
	for range MaxDepth + 1 {
		deep = append(deep, 0x91)
	}
	deep = append(deep, 0x01)
	if err := Check(deep, 0); !errors.Is(err, ErrDepth) {
		t.Fatalf("deep: %v", err)
	}
	if err := Check(deep[1:], 0); err != nil {
		t.Fatalf("depth %d: %v", MaxDepth, err)
	}
	if err := Check(make([]byte, 100), 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("size cap: %v", err)
	}
}

type sample struct {
	Name  string
	Vals  []int64
	Flags map[string]bool
	F     float64
	Raw   []byte
}

func TestUnmarshalRoundTrip(t *testing.T) {
	in := sample{Name: "a", Vals: []int64{1, -2, 1 << 40}, Flags: map[string]bool{"x": true}, F: 1.5, Raw: []byte{1, 2}}
	b, err := msgpack.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out sample
	if err := Unmarshal(b, 0, &out); err != nil {
		t.Fatal(err)
	}
	if out.Name != in.Name || len(out.Vals) != 3 || out.Vals[2] != 1<<40 || !out.Flags["x"] || out.F != 1.5 {
		t.Fatalf("got %+v", out)
	}
	var ints []int64
	if err := Unmarshal([]byte{0xdd, 0x01, 0, 0, 0}, 0, &ints); !errors.Is(err, ErrLength) {
		t.Fatalf("guard: %v", err)
	}
}

func TestCheckAllocs(t *testing.T) {
	b, _ := msgpack.Marshal(sample{Name: "abc", Vals: []int64{1, 2, 3}})
	if n := testing.AllocsPerRun(100, func() { _ = Check(b, 0) }); n != 0 {
		t.Fatalf("Check allocates %v times", n)
	}
}

// FuzzUnmarshal checks that nothing decodes into more than a small multiple of the input
// (the guard's promise) and that Check never panics.
func FuzzUnmarshal(f *testing.F) {
	for _, h := range []string{"05", "dd01000000", "ddffffffff", "81a16101", "9291019202c3", "c1", "dbffffffff"} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	good, _ := msgpack.Marshal(sample{Name: "a", Vals: []int64{1}, Flags: map[string]bool{"y": false}})
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		var s sample
		_ = Unmarshal(b, 4096, &s)
		var v any
		err := Unmarshal(b, 4096, &v)
		if err == nil {
			if Check(b, 4096) != nil {
				t.Fatal("Unmarshal accepted what Check rejects")
			}
		}
		var ints []int64
		_ = Unmarshal(b, 4096, &ints)
	})
}

func ExampleUnmarshal() {
	var v []int64
	err := Unmarshal([]byte{0xdd, 0xff, 0xff, 0xff, 0xff}, 0, &v)
	fmt.Println(errors.Is(err, ErrLength))
	b, _ := msgpack.Marshal([]int64{1, 2, 3})
	err = Unmarshal(b, 0, &v)
	fmt.Println(v, err)
	// Output:
	// true
	// [1 2 3] <nil>
}
