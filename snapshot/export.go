package snapshot

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// SchemaVersion is the version of the schema descriptor format (Schema.Version).
const SchemaVersion = 1

// Schema is the language-neutral descriptor of a Registry: everything a decoder in any
// language needs to read snapshots of its types. Registry.Schema builds it; JSON gives
// its canonical bytes, Fingerprint their hash, TypeScript declarations for a JS game.
//
// The canonical JSON has no whitespace and its keys in this order:
//
//	{"version":1,"types":[{"id":1,"name":"Ship","fields":[
//	  {"name":"X","kind":"float","bits":15,"maxq":20000,"min":-100,"max":100,"prec":0.01},
//	  {"name":"Health","kind":"int","bits":7,"maxq":100,"min":0,"max":100,"teleport":true},
//	  {"name":"Heading","kind":"angle","bits":10,"maxq":1023},
//	  {"name":"Boost","kind":"bool","bits":1,"maxq":1}]}]}
//
// (shown wrapped). Types ascend by id, fields are in struct order. "min" and "max"
// appear for int and float fields, "prec" for float fields, "teleport" only when true.
// The fingerprint hashes the same bytes without the "name" members (see Fingerprint).
// Numbers are written as ECMAScript's JSON.stringify and Go's encoding/json both write
// an IEEE-754 double (the shortest form that reads back exactly), so a client that
// parses the descriptor can rebuild the same bytes.
type Schema struct {
	Version int          `json:"version"` // the descriptor format's version
	Types   []SchemaType `json:"types"`   // ascending by ID
}

// SchemaType describes one registered entity type.
type SchemaType struct {
	ID     TypeID        `json:"id"`     // as registered
	Name   string        `json:"name"`   // the Go type name
	Fields []SchemaField `json:"fields"` // in struct order
}

// SchemaField describes one quantized field (see Field and the package doc's
// Quantization section).
type SchemaField struct {
	Name string `json:"name"` // the Go struct field name
	Kind string `json:"kind"` // "int", "float", "angle" or "bool"
	Bits int    `json:"bits"` // bits of a quantized value
	// MaxQ is the largest valid quantized value (Field.MaxQ).
	MaxQ     uint32   `json:"maxq"`
	Min      *float64 `json:"min,omitempty"`      // int and float fields
	Max      *float64 `json:"max,omitempty"`      // int and float fields
	Prec     *float64 `json:"prec,omitempty"`     // float fields
	Teleport bool     `json:"teleport,omitempty"` // a change is a discontinuity (Field.Teleport)
}

// Schema returns the registry's descriptor.
func (r *Registry) Schema() Schema {
	s := Schema{Version: SchemaVersion, Types: []SchemaType{}}
	for _, t := range r.types {
		if t == nil {
			continue
		}
		st := SchemaType{ID: t.id, Name: t.name, Fields: make([]SchemaField, 0, len(t.fields))}
		for _, f := range t.fields {
			sf := SchemaField{Name: f.Name, Kind: f.Kind.String(), Bits: f.Bits, MaxQ: f.maxQ, Teleport: f.Teleport}
			switch f.Kind {
			case KindInt:
				sf.Min, sf.Max = ptr(f.Min), ptr(f.Max)
			case KindFloat:
				sf.Min, sf.Max, sf.Prec = ptr(f.Min), ptr(f.Max), ptr(f.Prec)
			}
			st.Fields = append(st.Fields, sf)
		}
		s.Types = append(s.Types, st)
	}
	return s
}

func ptr(x float64) *float64 { return &x }

// Fingerprint is the registry's schema fingerprint: Schema().Fingerprint().
func (r *Registry) Fingerprint() string { return r.Schema().Fingerprint() }

// JSON returns the canonical descriptor bytes (see Schema).
func (s Schema) JSON() []byte { return s.canonical(true) }

// Fingerprint returns the first 8 bytes of the SHA-256 of the canonical JSON with every
// "name" member left out (type and field names do not change a byte on the wire, so a
// host and a client may name things differently), as 16 lowercase hex digits. Hosts
// announce it in their welcome and clients refuse a host whose fingerprint differs
// from their own.
func (s Schema) Fingerprint() string {
	sum := sha256.Sum256(s.canonical(false))
	return hex.EncodeToString(sum[:8])
}

// canonical writes the descriptor as Schema documents, with or without names.
func (s Schema) canonical(names bool) []byte {
	b := []byte(`{"version":`)
	b = strconv.AppendInt(b, int64(s.Version), 10)
	b = append(b, `,"types":[`...)
	for i, t := range s.Types {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendUint(b, uint64(t.ID), 10)
		if names {
			b = appendJSON(append(b, `,"name":`...), t.Name)
		}
		b = append(b, `,"fields":[`...)
		for j, f := range t.Fields {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			if names {
				b = appendJSON(append(b, `"name":`...), f.Name)
				b = append(b, ',')
			}
			b = appendJSON(append(b, `"kind":`...), f.Kind)
			b = strconv.AppendInt(append(b, `,"bits":`...), int64(f.Bits), 10)
			b = strconv.AppendUint(append(b, `,"maxq":`...), uint64(f.MaxQ), 10)
			for _, o := range []struct {
				key string
				v   *float64
			}{{`,"min":`, f.Min}, {`,"max":`, f.Max}, {`,"prec":`, f.Prec}} {
				if o.v != nil {
					b = appendJSON(append(b, o.key...), *o.v)
				}
			}
			if f.Teleport {
				b = append(b, `,"teleport":true`...)
			}
			b = append(b, '}')
		}
		b = append(b, "]}"...)
	}
	return append(b, "]}"...)
}

// appendJSON appends a string or a finite float64 as encoding/json writes it (which,
// for these, is also what ECMAScript's JSON.stringify writes).
func appendJSON(b []byte, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// Strings and finite floats (Register rejects NaN and infinities) always encode.
	_ = enc.Encode(v)
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}

// ParseSchema decodes a descriptor (canonical or not) and checks that it is one this
// package could have produced: known version and kinds, bits and maxq consistent with
// the ranges, types ascending. Errors wrap ErrSchema.
func ParseSchema(b []byte) (Schema, error) {
	var s Schema
	if err := json.Unmarshal(b, &s); err != nil {
		return Schema{}, fmt.Errorf("%w: %v", ErrSchema, err)
	}
	if s.Version != SchemaVersion {
		return Schema{}, fmt.Errorf("%w: descriptor version %d, want %d", ErrSchema, s.Version, SchemaVersion)
	}
	for i, t := range s.Types {
		if i > 0 && t.ID <= s.Types[i-1].ID {
			return Schema{}, fmt.Errorf("%w: type ids not ascending at %d", ErrSchema, t.ID)
		}
		if len(t.Fields) > maxFieldCount {
			return Schema{}, fmt.Errorf("%w: type %d has %d fields", ErrSchema, t.ID, len(t.Fields))
		}
		for _, f := range t.Fields {
			if err := f.check(); err != nil {
				return Schema{}, fmt.Errorf("%w: type %d field %q: %v", ErrSchema, t.ID, f.Name, err)
			}
		}
	}
	return s, nil
}

func (f SchemaField) check() error {
	if f.Bits < 1 || f.Bits > 32 {
		return fmt.Errorf("bits %d", f.Bits)
	}
	if uint64(f.MaxQ) >= uint64(1)<<f.Bits || (f.Bits > 1 && uint64(f.MaxQ) < uint64(1)<<(f.Bits-1)) {
		return fmt.Errorf("maxq %d does not take %d bits", f.MaxQ, f.Bits)
	}
	need := func(ps ...*float64) error {
		for _, p := range ps {
			if p == nil {
				return fmt.Errorf("%s field without min, max or prec", f.Kind)
			}
		}
		return nil
	}
	switch f.Kind {
	case "int":
		if err := need(f.Min, f.Max); err != nil {
			return err
		}
	case "float":
		if err := need(f.Min, f.Max, f.Prec); err != nil {
			return err
		}
	case "angle":
		if f.MaxQ != uint32(uint64(1)<<f.Bits-1) {
			return fmt.Errorf("angle maxq %d", f.MaxQ)
		}
	case "bool":
		if f.Bits != 1 {
			return fmt.Errorf("bool of %d bits", f.Bits)
		}
	default:
		return fmt.Errorf("unknown kind %q", f.Kind)
	}
	return nil
}

// TypeScript returns TypeScript declarations for the schema's entity types: one
// interface per type (field names as in Go; int, float and angle fields are numbers,
// bool fields booleans, as the JS client dequantizes them), and EntityTypes mapping
// type IDs to them. The header names the fingerprint; the module declares types only.
func (s Schema) TypeScript() []byte {
	var b strings.Builder
	b.WriteString("// Code generated from a Volley snapshot schema; DO NOT EDIT.\n")
	fmt.Fprintf(&b, "// Schema fingerprint %s (descriptor version %d).\n", s.Fingerprint(), s.Version)
	b.WriteString("// Type declarations only: the JS client dequantizes entities into these shapes.\n")
	names := make([]string, len(s.Types))
	for i, t := range s.Types {
		names[i] = tsName(t)
		fmt.Fprintf(&b, "\n/** %s: entity type %d. */\nexport interface %s {\n", t.Name, t.ID, names[i])
		for _, f := range t.Fields {
			fmt.Fprintf(&b, "  /** %s */\n  %s: %s;\n", f.describe(), tsKey(f.Name), f.tsType())
		}
		b.WriteString("}\n")
	}
	b.WriteString("\n/** Entity type IDs and their shapes. */\nexport interface EntityTypes {\n")
	for i, t := range s.Types {
		fmt.Fprintf(&b, "  %d: %s;\n", t.ID, names[i])
	}
	b.WriteString("}\n")
	fmt.Fprintf(&b, "\n/** The fingerprint of this schema, as hosts announce it. */\nexport type Fingerprint = %q;\n", s.Fingerprint())
	return []byte(b.String())
}

func (f SchemaField) tsType() string {
	if f.Kind == "bool" {
		return "boolean"
	}
	return "number"
}

func (f SchemaField) describe() string {
	g := func(p *float64) string {
		if p == nil {
			return "?"
		}
		return strconv.FormatFloat(*p, 'f', -1, 64)
	}
	var d string
	switch f.Kind {
	case "int":
		d = fmt.Sprintf("int in [%s, %s]", g(f.Min), g(f.Max))
	case "float":
		d = fmt.Sprintf("float in [%s, %s], step %s", g(f.Min), g(f.Max), g(f.Prec))
	case "angle":
		d = fmt.Sprintf("angle in radians [-π, π), %d bits", f.Bits)
	case "bool":
		d = "bool"
	default:
		d = f.Kind
	}
	if f.Teleport {
		d += "; a change is a teleport"
	}
	return d
}

// tsName is the interface name of a type: its Go name, or Type<id> when that is not
// an identifier (an unnamed struct).
func tsName(t SchemaType) string {
	if isIdent(t.Name) {
		return t.Name
	}
	return "Type" + strconv.Itoa(int(t.ID))
}

func tsKey(name string) string {
	if isIdent(name) {
		return name
	}
	return strconv.Quote(name)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r == '_' || r == '$' || unicode.IsLetter(r) || (i > 0 && unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}
