package schemas

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// This file maps Go values onto goavro's native form (map[string]any with
// unions as single-key maps) and back. The Avro field names are the JSON
// names of the Go fields, so one plan per schema, checked when the codec is
// built, replaces hand-written conversions that could drift from the .avsc
// files: a schema field without a Go field, or the reverse, fails NewCodec.

// record maps one Avro record onto the fields of one or more Go structs; a
// message record spans its envelope (Event, Command) and its payload.
type record struct {
	name   string
	types  []reflect.Type // the Go structs, in argument order
	fields []field
}

type field struct {
	name       string
	src, index int     // Go struct (argument position) and its field
	offset     uintptr // the field's offset in its Go struct, for read
	hasDefault bool    // a writer without the field yields dflt
	dflt       any     // the reader's default, in native form
	conv       conv
}

// conv converts one value; dec sets v, which is settable, from native
// form, and read from Avro binary (see binary.go); size is the fewest bytes
// the value takes in Avro binary.
type conv struct {
	enc  func(v reflect.Value) any
	dec  func(n any, v reflect.Value) error
	read readFn
	size int
}

func (r *record) encode(srcs ...reflect.Value) map[string]any {
	m := make(map[string]any, len(r.fields))
	for _, f := range r.fields {
		m[f.name] = f.conv.enc(srcs[f.src].Field(f.index))
	}
	return m
}

// decode sets the Go fields from m, which a writer schema other than the
// reader's may have produced: fields the reader does not know are ignored,
// fields it lacks take the reader's default (Avro's resolution by name).
func (r *record) decode(m map[string]any, srcs ...reflect.Value) error {
	for _, f := range r.fields {
		n, ok := m[f.name]
		if !ok {
			if !f.hasDefault {
				return fmt.Errorf("%s: missing, and the schema has no default", f.name)
			}
			n = f.dflt
		}
		if err := f.conv.dec(n, srcs[f.src].Field(f.index)); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

// planner builds the conversions of one schema, remembering the named
// records it has seen so that later references by name resolve.
type planner struct {
	named map[string]namedDef
}

// namedDef is a named type's definition and the namespace it was declared
// in, which a reference from elsewhere must not change.
type namedDef struct {
	schema map[string]any
	ns     string
}

func newPlan(schema map[string]any, srcs ...reflect.Type) (*record, error) {
	p := planner{named: make(map[string]namedDef)}
	return p.record(schema, "", srcs)
}

func (p *planner) record(schema map[string]any, ns string, srcs []reflect.Type) (*record, error) {
	full, inner := qualifiedName(schema, ns)
	p.named[full] = namedDef{schema, ns}
	type loc struct{ src, index int }
	goFields := make(map[string]loc)
	for s, t := range srcs {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Type.Kind() == reflect.Interface {
				continue // Event.Data, Command.Data: the payload is another src
			}
			if f.Tag.Get("avro") == "-" {
				continue // carried beside the record (CommandResult.Fingerprint)
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				return nil, fmt.Errorf("%s.%s: no JSON name to match an Avro field", t, f.Name)
			}
			if _, dup := goFields[name]; dup {
				return nil, fmt.Errorf("%s: two Go fields named %q", full, name)
			}
			goFields[name] = loc{s, i}
		}
	}
	r := &record{name: full, types: srcs}
	fields, _ := schema["fields"].([]any)
	for _, fa := range fields {
		fm, _ := fa.(map[string]any)
		name, _ := fm["name"].(string)
		l, ok := goFields[name]
		if !ok {
			return nil, fmt.Errorf("%s.%s: no Go field with JSON name %q", full, name, name)
		}
		delete(goFields, name)
		c, err := p.conv(fm["type"], inner, srcs[l.src].Field(l.index).Type)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", full, name, err)
		}
		f := field{name: name, src: l.src, index: l.index, offset: srcs[l.src].Field(l.index).Offset, conv: c}
		f.dflt, f.hasDefault = fm["default"]
		if n, ok := f.dflt.(float64); ok { // JSON numbers: our numeric fields are integers
			f.dflt = int64(n)
		}
		r.fields = append(r.fields, f)
	}
	if len(goFields) > 0 {
		missing := slices.Sorted(maps.Keys(goFields))
		return nil, fmt.Errorf("%s: Go fields without an Avro field: %s", full, strings.Join(missing, ", "))
	}
	return r, nil
}

func (p *planner) conv(s any, ns string, t reflect.Type) (conv, error) {
	switch s := s.(type) {
	case string:
		if def, ok := p.named[qualify(s, ns)]; ok {
			return p.recordConv(def.schema, def.ns, t)
		}
		return primitive(s, "", t)
	case []any:
		return p.union(s, ns, t)
	case map[string]any:
		typ, ok := s["type"].(string)
		if !ok {
			return p.conv(s["type"], ns, t)
		}
		switch typ {
		case "record":
			return p.recordConv(s, ns, t)
		case "array":
			return p.array(s["items"], ns, t)
		}
		lt, _ := s["logicalType"].(string)
		return primitive(typ, lt, t)
	}
	return conv{}, fmt.Errorf("unsupported schema %v", s)
}

func (p *planner) recordConv(def map[string]any, ns string, t reflect.Type) (conv, error) {
	if t.Kind() != reflect.Struct {
		return conv{}, fmt.Errorf("a record needs a Go struct, not %s", t)
	}
	r, err := p.record(def, ns, []reflect.Type{t})
	if err != nil {
		return conv{}, err
	}
	size := 0
	for _, f := range r.fields {
		size += f.conv.size
	}
	return conv{
		enc: func(v reflect.Value) any { return r.encode(v) },
		dec: func(n any, v reflect.Value) error {
			m, ok := n.(map[string]any)
			if !ok {
				return fmt.Errorf("want record %s, got %T", r.name, n)
			}
			return r.decode(m, v)
		},
		read: func(b []byte, p unsafe.Pointer) ([]byte, error) { return r.readAt(b, []unsafe.Pointer{p}) },
		size: size,
	}, nil
}

func (p *planner) array(items any, ns string, t reflect.Type) (conv, error) {
	if t.Kind() != reflect.Slice {
		return conv{}, fmt.Errorf("an array needs a Go slice, not %s", t)
	}
	item, err := p.conv(items, ns, t.Elem())
	if err != nil {
		return conv{}, err
	}
	if item.size == 0 { // arrayReader bounds a block's count by the bytes left
		return conv{}, errors.New("array items that take no bytes are not supported")
	}
	return conv{
		enc: func(v reflect.Value) any {
			a := make([]any, v.Len())
			for i := range a {
				a[i] = item.enc(v.Index(i))
			}
			return a
		},
		// Always a non-nil slice: only a nullable array tells nil from empty.
		dec: func(n any, v reflect.Value) error {
			a, ok := n.([]any)
			if !ok {
				return fmt.Errorf("want array, got %T", n)
			}
			s := reflect.MakeSlice(t, len(a), len(a))
			for i, x := range a {
				if err := item.dec(x, s.Index(i)); err != nil {
					return fmt.Errorf("[%d]: %w", i, err)
				}
			}
			v.Set(s)
			return nil
		},
		read: arrayReader(t, item.read, item.size),
		size: 1,
	}, nil
}

// union supports the one union the contract uses: ["null", T] for an
// optional value, a Go pointer (nil is null) or slice (nil is null, empty
// is an empty array).
func (p *planner) union(members []any, ns string, t reflect.Type) (conv, error) {
	if len(members) != 2 || members[0] != "null" {
		return conv{}, errors.New(`only ["null", T] unions are supported`)
	}
	key, err := unionKey(members[1], ns)
	if err != nil {
		return conv{}, err
	}
	var inner conv
	switch t.Kind() {
	case reflect.Pointer:
		inner, err = p.conv(members[1], ns, t.Elem())
	case reflect.Slice:
		inner, err = p.conv(members[1], ns, t)
	default:
		return conv{}, fmt.Errorf("an optional value needs a Go pointer or slice, not %s", t)
	}
	if err != nil {
		return conv{}, err
	}
	ptr := t.Kind() == reflect.Pointer
	return conv{
		enc: func(v reflect.Value) any {
			if v.IsNil() {
				return nil
			}
			if ptr {
				v = v.Elem()
			}
			return map[string]any{key: inner.enc(v)}
		},
		dec: func(n any, v reflect.Value) error {
			if n == nil {
				v.SetZero()
				return nil
			}
			// goavro wraps a union value as {branch: value}; a writer
			// whose field is not a union gives the bare value.
			if m, ok := n.(map[string]any); ok && len(m) == 1 {
				if x, ok := m[key]; ok {
					n = x
				}
			}
			if !ptr {
				return inner.dec(n, v)
			}
			e := reflect.New(t.Elem())
			if err := inner.dec(n, e.Elem()); err != nil {
				return err
			}
			v.Set(e)
			return nil
		},
		read: unionReader(t, inner.read),
		size: 1,
	}, nil
}

// unionKey is the name goavro gives a union branch.
func unionKey(s any, ns string) (string, error) {
	switch s := s.(type) {
	case string:
		if primitives[s] {
			return s, nil
		}
		return qualify(s, ns), nil
	case map[string]any:
		typ, _ := s["type"].(string)
		switch typ {
		case "array", "map":
			return typ, nil
		case "record", "enum", "fixed":
			full, _ := qualifiedName(s, ns)
			return full, nil
		}
		if _, ok := s["logicalType"]; !ok && primitives[typ] {
			return typ, nil
		}
	}
	return "", fmt.Errorf("unsupported union branch %v", s)
}

var timeType = reflect.TypeFor[time.Time]()

func primitive(typ, logical string, t reflect.Type) (conv, error) {
	switch {
	case typ == "string" && t.Kind() == reflect.String:
		return conv{
			enc: func(v reflect.Value) any { return v.String() },
			dec: func(n any, v reflect.Value) error {
				s, ok := n.(string)
				if !ok {
					return fmt.Errorf("want string, got %T", n)
				}
				v.SetString(s)
				return nil
			},
			read: readString,
			size: 1,
		}, nil
	case typ == "long" && logical == "timestamp-millis" && t == timeType:
		return conv{
			enc: func(v reflect.Value) any { return v.Interface().(time.Time).UnixMilli() },
			dec: func(n any, v reflect.Value) error {
				switch n := n.(type) {
				case time.Time:
					v.Set(reflect.ValueOf(n.UTC()))
				case int64: // a writer without the logical type
					v.Set(reflect.ValueOf(time.UnixMilli(n).UTC()))
				default:
					return fmt.Errorf("want timestamp-millis, got %T", n)
				}
				return nil
			},
			read: readTimestampMillis,
			size: 1,
		}, nil
	case typ == "long" && t.Kind() == reflect.Int64:
		return conv{
			enc: func(v reflect.Value) any { return v.Int() },
			dec: func(n any, v reflect.Value) error {
				switch n := n.(type) {
				case int64:
					v.SetInt(n)
				case int32: // Avro promotes int to long
					v.SetInt(int64(n))
				default:
					return fmt.Errorf("want long, got %T", n)
				}
				return nil
			},
			read: readLong,
			size: 1,
		}, nil
	case typ == "int" && t.Kind() == reflect.Int32:
		return conv{
			enc: func(v reflect.Value) any { return int32(v.Int()) },
			dec: func(n any, v reflect.Value) error {
				switch n := n.(type) {
				case int32:
					v.SetInt(int64(n))
				case int64: // only from a default
					if n < math.MinInt32 || n > math.MaxInt32 {
						return fmt.Errorf("%d overflows int", n)
					}
					v.SetInt(n)
				default:
					return fmt.Errorf("want int, got %T", n)
				}
				return nil
			},
			read: readInt,
			size: 1,
		}, nil
	}
	if logical != "" {
		typ += " (" + logical + ")"
	}
	return conv{}, fmt.Errorf("Avro %s cannot hold Go %s", typ, t)
}
