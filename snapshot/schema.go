package snapshot

import (
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"strconv"
	"strings"
)

// EntityID identifies an entity in a World. IDs are chosen by the game.
type EntityID uint32

// TypeID identifies a registered entity type; it travels on the wire in one byte.
type TypeID uint8

// Kind is how a field is quantized.
type Kind uint8

// Field kinds.
const (
	KindInt   Kind = iota + 1 // integer in [min, max], sent as value-min
	KindFloat                 // float in [min, max] with step prec
	KindAngle                 // angle in radians, wraps, 2^bits steps per turn
	KindBool                  // one bit
)

// String returns the kind's tag name: "int", "float", "angle" or "bool".
func (k Kind) String() string {
	switch k {
	case KindInt:
		return "int"
	case KindFloat:
		return "float"
	case KindAngle:
		return "angle"
	case KindBool:
		return "bool"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Field is one compiled, quantized field of an entity type.
type Field struct {
	Name string // Go struct field name
	Kind Kind   // how the value is quantized
	Bits int    // bits of a quantized value, 1..32
	// Teleport marks a field whose change is a discontinuity (respawn, teleport):
	// interpolators must not blend across it. See Type.Teleported.
	Teleport bool
	Min, Max float64 // declared range (KindInt, KindFloat)
	Prec     float64 // step (KindFloat)

	index int          // struct field index
	gk    reflect.Kind // Go kind of the struct field
	imin  int64        // exact Min for KindInt
	maxQ  uint32       // largest valid quantized value
}

// MaxQ is the largest valid quantized value of the field.
func (f *Field) MaxQ() uint32 { return f.maxQ }

// Type is a compiled entity type. It is immutable once registered.
type Type struct {
	id     TypeID
	name   string
	gotype reflect.Type
	fields []Field
	bits   int // sum of field bits
}

// ID returns the type's wire ID.
func (t *Type) ID() TypeID { return t.id }

// Name returns the Go type name of the registered struct.
func (t *Type) Name() string { return t.name }

// Fields returns the compiled fields in struct order. The caller must not modify it.
func (t *Type) Fields() []Field { return t.fields }

// NumFields is len(t.Fields()).
func (t *Type) NumFields() int { return len(t.fields) }

// Teleported reports whether any Teleport field differs between two quantized versions
// of an entity of this type: interpolation must not blend from old to cur.
func (t *Type) Teleported(old, cur []uint32) bool {
	if len(old) < len(t.fields) || len(cur) < len(t.fields) {
		return false
	}
	for i := range t.fields {
		if t.fields[i].Teleport && old[i] != cur[i] {
			return true
		}
	}
	return false
}

// Registry maps type IDs to compiled types. Register every type before encoders and
// decoders use the registry; after that it is read-only and safe for concurrent use.
type Registry struct {
	types     [256]*Type
	maxFields int
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Type returns the type registered under id, or nil.
func (r *Registry) Type(id TypeID) *Type { return r.types[id] }

// maxFieldCount is an upper bound on the fields of one type (keeps entity records bounded).
const maxFieldCount = 255

// Register compiles the `snap` struct tags of proto (a struct value or pointer to one)
// into type id. The type's name is the Go type name. Supported tags:
//
//	`snap:"int,min=-10,max=100"`               signed or unsigned Go integer; min and max required
//	`snap:"float,min=-50,max=50,prec=0.01"`    float32/float64; min, max and prec required
//	`snap:"angle,bits=10"`                     float32/float64 radians, wraps; bits 1..32
//	`snap:"bool"`                              bool
//
// Any tag may add the flag "teleport". Fields without a snap tag, or tagged "-", are
// ignored. Errors wrap ErrSchema and name the field.
func (r *Registry) Register(id TypeID, proto any) (*Type, error) {
	rt := reflect.TypeOf(proto)
	if rt != nil && rt.Kind() == reflect.Pointer {
		rt = rt.Elem()
	}
	if rt == nil || rt.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%w: %T is not a struct", ErrSchema, proto)
	}
	if r.types[id] != nil {
		return nil, fmt.Errorf("%w: type ID %d already registered as %s", ErrSchema, id, r.types[id].name)
	}
	t := &Type{id: id, name: rt.Name(), gotype: rt}
	for i := 0; i < rt.NumField(); i++ {
		sf := rt.Field(i)
		tag, ok := sf.Tag.Lookup("snap")
		if !ok || tag == "-" {
			continue
		}
		f, err := compileField(sf, tag)
		if err != nil {
			return nil, fmt.Errorf("%w: %s.%s: %v", ErrSchema, rt.Name(), sf.Name, err)
		}
		f.index = i
		t.fields = append(t.fields, f)
		t.bits += f.Bits
	}
	if len(t.fields) > maxFieldCount {
		return nil, fmt.Errorf("%w: %s has %d fields, at most %d", ErrSchema, rt.Name(), len(t.fields), maxFieldCount)
	}
	r.types[id] = t
	r.maxFields = max(r.maxFields, len(t.fields))
	return t, nil
}

func compileField(sf reflect.StructField, tag string) (Field, error) {
	if !sf.IsExported() {
		return Field{}, fmt.Errorf("field is not exported")
	}
	parts := strings.Split(tag, ",")
	f := Field{Name: sf.Name, gk: sf.Type.Kind()}
	opts := map[string]string{}
	for _, p := range parts[1:] {
		p = strings.TrimSpace(p)
		if p == "teleport" {
			f.Teleport = true
			continue
		}
		k, v, ok := strings.Cut(p, "=")
		if !ok || v == "" {
			return f, fmt.Errorf("bad tag option %q", p)
		}
		if _, dup := opts[k]; dup {
			return f, fmt.Errorf("duplicate tag option %q", k)
		}
		opts[k] = v
	}
	num := func(k string) (float64, error) {
		s, ok := opts[k]
		if !ok {
			return 0, fmt.Errorf("%s field needs %s=", parts[0], k)
		}
		delete(opts, k)
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, fmt.Errorf("bad %s=%q", k, s)
		}
		return x, nil
	}
	switch strings.TrimSpace(parts[0]) {
	case "int":
		f.Kind = KindInt
		if !isIntKind(f.gk) {
			return f, fmt.Errorf("int tag on Go type %s", sf.Type)
		}
		smin, smax := opts["min"], opts["max"]
		delete(opts, "min")
		delete(opts, "max")
		if smin == "" || smax == "" {
			return f, fmt.Errorf("int field needs min= and max=")
		}
		lo, err1 := strconv.ParseInt(smin, 10, 64)
		hi, err2 := strconv.ParseInt(smax, 10, 64)
		if err1 != nil || err2 != nil {
			return f, fmt.Errorf("bad int range min=%q max=%q", smin, smax)
		}
		if hi <= lo {
			return f, fmt.Errorf("max=%d must exceed min=%d", hi, lo)
		}
		span := uint64(hi) - uint64(lo)
		if span > math.MaxUint32 {
			return f, fmt.Errorf("range %d..%d needs more than 32 bits", lo, hi)
		}
		tlo, thi := goIntRange(sf.Type)
		if (lo < 0 && lo < tlo) || (hi > 0 && thi >= 0 && hi > thi) || (tlo == 0 && lo < 0) {
			return f, fmt.Errorf("range %d..%d does not fit Go type %s", lo, hi, sf.Type)
		}
		f.imin, f.Min, f.Max = lo, float64(lo), float64(hi)
		f.maxQ = uint32(span)
		f.Bits = bits.Len32(f.maxQ)
	case "float":
		f.Kind = KindFloat
		if f.gk != reflect.Float32 && f.gk != reflect.Float64 {
			return f, fmt.Errorf("float tag on Go type %s", sf.Type)
		}
		var err error
		if f.Min, err = num("min"); err != nil {
			return f, err
		}
		if f.Max, err = num("max"); err != nil {
			return f, err
		}
		if f.Prec, err = num("prec"); err != nil {
			return f, err
		}
		if f.Max <= f.Min || f.Prec <= 0 {
			return f, fmt.Errorf("need max > min and prec > 0")
		}
		steps := math.Round((f.Max - f.Min) / f.Prec)
		if steps > math.MaxUint32 {
			return f, fmt.Errorf("range/prec = %.0f steps needs more than 32 bits", steps)
		}
		if steps < 1 {
			steps = 1
		}
		f.maxQ = uint32(steps)
		f.Bits = bits.Len32(f.maxQ)
	case "angle":
		f.Kind = KindAngle
		if f.gk != reflect.Float32 && f.gk != reflect.Float64 {
			return f, fmt.Errorf("angle tag on Go type %s", sf.Type)
		}
		b, err := num("bits")
		if err != nil {
			return f, err
		}
		if b != math.Trunc(b) || b < 1 || b > 32 {
			return f, fmt.Errorf("bits=%v must be an integer in 1..32", b)
		}
		f.Bits = int(b)
		f.maxQ = uint32(uint64(1)<<f.Bits - 1)
	case "bool":
		f.Kind = KindBool
		if f.gk != reflect.Bool {
			return f, fmt.Errorf("bool tag on Go type %s", sf.Type)
		}
		f.Bits, f.maxQ = 1, 1
	default:
		return f, fmt.Errorf("unknown kind %q (want int, float, angle or bool)", parts[0])
	}
	for k := range opts {
		return f, fmt.Errorf("unknown tag option %q for %s", k, parts[0])
	}
	return f, nil
}

func isIntKind(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return true
	}
	return false
}

// goIntRange returns the range of a Go integer type; thi < 0 means "beyond int64".
func goIntRange(t reflect.Type) (lo, hi int64) {
	n := t.Bits()
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return -1 << (n - 1), 1<<(n-1) - 1
	}
	if n == 64 {
		return 0, -1
	}
	return 0, 1<<n - 1
}

// quantizeValue converts one struct field to its quantized value, clamping to the range.
func (f *Field) quantizeValue(v reflect.Value) uint32 {
	switch f.Kind {
	case KindInt:
		var d uint64
		if f.gk >= reflect.Uint && f.gk <= reflect.Uintptr {
			// Register guarantees imin >= 0 for unsigned Go types.
			u := v.Uint()
			if u <= uint64(f.imin) {
				return 0
			}
			d = u - uint64(f.imin)
		} else {
			x := v.Int()
			if x <= f.imin {
				return 0
			}
			d = uint64(x) - uint64(f.imin)
		}
		if d > uint64(f.maxQ) {
			return f.maxQ
		}
		return uint32(d)
	case KindFloat:
		x := v.Float()
		q := math.Round((x - f.Min) / f.Prec)
		if !(q > 0) { // also NaN
			return 0
		}
		if q >= float64(f.maxQ) {
			return f.maxQ
		}
		return uint32(q)
	case KindAngle:
		x := v.Float()
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0
		}
		turns := x / (2 * math.Pi)
		turns -= math.Floor(turns)
		q := uint64(math.Round(turns * float64(uint64(1)<<f.Bits)))
		return uint32(q & uint64(f.maxQ))
	case KindBool:
		if v.Bool() {
			return 1
		}
	}
	return 0
}

// dequantizeValue stores a quantized value (already range-checked) into a struct field.
func (f *Field) dequantizeValue(q uint32, v reflect.Value) {
	switch f.Kind {
	case KindInt:
		x := f.imin + int64(q)
		if f.gk >= reflect.Uint && f.gk <= reflect.Uintptr {
			v.SetUint(uint64(x))
		} else {
			v.SetInt(x)
		}
	case KindFloat:
		v.SetFloat(f.Min + float64(q)*f.Prec)
	case KindAngle:
		// [-pi, pi): the upper half of the circle maps to negative angles.
		s := int64(q)
		if f.Bits > 0 && q >= uint32(uint64(1)<<(f.Bits-1)) {
			s -= int64(1) << f.Bits
		}
		v.SetFloat(float64(s) * (2 * math.Pi) / float64(uint64(1)<<f.Bits))
	case KindBool:
		v.SetBool(q != 0)
	}
}

func (t *Type) structValue(x any, settable bool) (reflect.Value, error) {
	v := reflect.ValueOf(x)
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}, fmt.Errorf("%w: nil %T", ErrWrongType, x)
		}
		v = v.Elem()
	} else if settable {
		return reflect.Value{}, fmt.Errorf("%w: need *%s, got %T", ErrWrongType, t.name, x)
	}
	if v.Type() != t.gotype {
		return reflect.Value{}, fmt.Errorf("%w: type %d is %s, got %T", ErrWrongType, t.id, t.name, x)
	}
	return v, nil
}

// Quantize converts src (a value of, or pointer to, the registered struct) into quantized
// field values in dst, which must have len(t.Fields()) elements. Out-of-range values are
// clamped; angles wrap.
func (t *Type) Quantize(src any, dst []uint32) error {
	if len(dst) != len(t.fields) {
		return fmt.Errorf("%w: %s has %d fields, dst has %d", ErrFieldCount, t.name, len(t.fields), len(dst))
	}
	v, err := t.structValue(src, false)
	if err != nil {
		return err
	}
	for i := range t.fields {
		f := &t.fields[i]
		dst[i] = f.quantizeValue(v.Field(f.index))
	}
	return nil
}

// Dequantize stores quantized values src into dst, a pointer to the registered struct.
// Fields without a snap tag are left alone.
func (t *Type) Dequantize(src []uint32, dst any) error {
	if err := t.check(src); err != nil {
		return err
	}
	v, err := t.structValue(dst, true)
	if err != nil {
		return err
	}
	for i := range t.fields {
		f := &t.fields[i]
		f.dequantizeValue(src[i], v.Field(f.index))
	}
	return nil
}

// check validates a quantized slice against the type.
func (t *Type) check(q []uint32) error {
	if len(q) != len(t.fields) {
		return fmt.Errorf("%w: %s has %d fields, got %d", ErrFieldCount, t.name, len(t.fields), len(q))
	}
	for i := range t.fields {
		if q[i] > t.fields[i].maxQ {
			return fmt.Errorf("%w: %s.%s = %d > %d", ErrValueRange, t.name, t.fields[i].Name, q[i], t.fields[i].maxQ)
		}
	}
	return nil
}
