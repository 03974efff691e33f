package snapshot

import (
	"errors"
	"strings"
	"testing"
)

type exportShip struct {
	X       float32 `snap:"float,min=-100,max=100,prec=0.01"`
	Health  int     `snap:"int,min=0,max=100,teleport"`
	Heading float32 `snap:"angle,bits=10"`
	Boost   bool    `snap:"bool"`
	Name    string
}

func TestSchemaCanonical(t *testing.T) {
	r := NewRegistry()
	if _, err := r.Register(7, exportShip{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Register(2, struct {
		N int `snap:"int,min=-5,max=5"`
	}{}); err != nil {
		t.Fatal(err)
	}
	s := r.Schema()
	const want = `{"version":1,"types":[` +
		`{"id":2,"name":"","fields":[{"name":"N","kind":"int","bits":4,"maxq":10,"min":-5,"max":5}]},` +
		`{"id":7,"name":"exportShip","fields":[` +
		`{"name":"X","kind":"float","bits":15,"maxq":20000,"min":-100,"max":100,"prec":0.01},` +
		`{"name":"Health","kind":"int","bits":7,"maxq":100,"min":0,"max":100,"teleport":true},` +
		`{"name":"Heading","kind":"angle","bits":10,"maxq":1023},` +
		`{"name":"Boost","kind":"bool","bits":1,"maxq":1}]}]}`
	if got := string(s.JSON()); got != want {
		t.Fatalf("canonical JSON\n got %s\nwant %s", got, want)
	}
	// sha256 of the bytes above without the "name" members, first 8 bytes.
	if fp := r.Fingerprint(); fp != "7ff68a411281f8fd" {
		t.Errorf("fingerprint %s", fp)
	}
	back, err := ParseSchema(s.JSON())
	if err != nil {
		t.Fatal(err)
	}
	if string(back.JSON()) != want {
		t.Errorf("round trip changed the descriptor: %s", back.JSON())
	}
	ts := string(s.TypeScript())
	for _, frag := range []string{
		"// Schema fingerprint 7ff68a411281f8fd",
		"export interface Type2 {\n  /** int in [-5, 5] */\n  N: number;\n}",
		"/** exportShip: entity type 7. */\nexport interface exportShip {",
		"  /** int in [0, 100]; a change is a teleport */\n  Health: number;",
		"  Boost: boolean;",
		"export interface EntityTypes {\n  2: Type2;\n  7: exportShip;\n}",
		`export type Fingerprint = "7ff68a411281f8fd";`,
	} {
		if !strings.Contains(ts, frag) {
			t.Errorf("TypeScript lacks %q:\n%s", frag, ts)
		}
	}
}

func TestSchemaFingerprintDiffers(t *testing.T) {
	a, b := NewRegistry(), NewRegistry()
	a.Register(1, exportShip{})
	b.Register(2, exportShip{}) // same struct, other type ID
	if a.Fingerprint() == b.Fingerprint() {
		t.Fatal("type ID does not change the fingerprint")
	}
	if NewRegistry().Fingerprint() == a.Fingerprint() {
		t.Fatal("empty registry")
	}
	type renamed struct { // exportShip with other names: the same wire format
		PosX float32 `snap:"float,min=-100,max=100,prec=0.01"`
		HP   int     `snap:"int,min=0,max=100,teleport"`
		Dir  float32 `snap:"angle,bits=10"`
		On   bool    `snap:"bool"`
	}
	c := NewRegistry()
	c.Register(1, renamed{})
	if c.Fingerprint() != a.Fingerprint() {
		t.Fatal("names change the fingerprint")
	}
	if string(c.Schema().JSON()) == string(a.Schema().JSON()) {
		t.Fatal("names missing from the descriptor")
	}
}

func TestParseSchemaRejects(t *testing.T) {
	for _, bad := range []string{
		``,
		`[]`,
		`{"version":2,"types":[]}`,
		`{"version":1,"types":[{"id":2,"fields":[]},{"id":1,"fields":[]}]}`,
		`{"version":1,"types":[{"id":1,"fields":[{"name":"a","kind":"int","bits":4,"maxq":10}]}]}`,
		`{"version":1,"types":[{"id":1,"fields":[{"name":"a","kind":"int","bits":4,"maxq":3,"min":0,"max":3}]}]}`,
		`{"version":1,"types":[{"id":1,"fields":[{"name":"a","kind":"angle","bits":4,"maxq":14}]}]}`,
		`{"version":1,"types":[{"id":1,"fields":[{"name":"a","kind":"bool","bits":2,"maxq":3}]}]}`,
		`{"version":1,"types":[{"id":1,"fields":[{"name":"a","kind":"text","bits":2,"maxq":3}]}]}`,
		`{"version":1,"types":[{"id":1,"fields":[{"name":"a","kind":"float","bits":33,"maxq":3}]}]}`,
	} {
		if _, err := ParseSchema([]byte(bad)); !errors.Is(err, ErrSchema) {
			t.Errorf("ParseSchema(%s) = %v, want ErrSchema", bad, err)
		}
	}
}

func FuzzParseSchema(f *testing.F) {
	r := testRegistry(f)
	f.Add(r.Schema().JSON())
	f.Add([]byte(`{"version":1,"types":[{"id":3,"fields":[{"kind":"angle","bits":32,"maxq":4294967295}]}]}`))
	f.Add([]byte(`{"version":1,"types":[{"id":1,"fields":[{"kind":"float","bits":1,"maxq":1,"min":0,"max":1,"prec":1e308}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseSchema(b)
		if err != nil {
			return
		}
		// A descriptor that checks writes canonical JSON that parses to itself.
		back, err := ParseSchema(s.JSON())
		if err != nil {
			t.Fatalf("canonical form of an accepted descriptor is refused: %v", err)
		}
		if string(back.JSON()) != string(s.JSON()) || back.Fingerprint() != s.Fingerprint() {
			t.Fatalf("canonical form not stable: %s vs %s", back.JSON(), s.JSON())
		}
	})
}
