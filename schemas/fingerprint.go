package schemas

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Single-object encoding names the writer schema by the CRC-64-AVRO
// fingerprint of its Parsing Canonical Form, so any Avro implementation can
// resolve it, and so must we compute it exactly as the specification says.
// goavro's own CanonicalSchema and Rabin get nested namespaces and logical
// types wrong (it writes io.streamview.catalog.io.streamview.catalog.Money
// and {"type":"long"}; linkedin/goavro issues 138, 267 and 307), which
// would make our fingerprints unreadable elsewhere. Hence this file.

// Fingerprint is the CRC-64-AVRO fingerprint of the Parsing Canonical Form
// of schema, the value single-object encoding writes.
func Fingerprint(schema string) (uint64, error) {
	pcf, err := CanonicalForm(schema)
	if err != nil {
		return 0, err
	}
	return crc64Avro([]byte(pcf)), nil
}

// CanonicalForm is the Parsing Canonical Form of schema: full names, no
// namespace, doc, aliases, defaults or logical types, primitives as plain
// strings, attributes in the order name, type, fields, symbols, items,
// values, size, and no whitespace.
func CanonicalForm(schema string) (string, error) {
	var tree any
	dec := json.NewDecoder(strings.NewReader(schema))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return "", fmt.Errorf("schemas: schema is not JSON: %w", err)
	}
	var b strings.Builder
	if err := writePCF(&b, tree, ""); err != nil {
		return "", fmt.Errorf("schemas: %w", err)
	}
	return b.String(), nil
}

func writePCF(b *strings.Builder, s any, ns string) error {
	switch s := s.(type) {
	case string:
		if primitives[s] {
			writePCFString(b, s)
		} else {
			writePCFString(b, qualify(s, ns))
		}
		return nil
	case []any:
		b.WriteByte('[')
		for i, m := range s {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writePCF(b, m, ns); err != nil {
				return err
			}
		}
		b.WriteByte(']')
		return nil
	case map[string]any:
		t, ok := s["type"].(string)
		if !ok {
			return writePCF(b, s["type"], ns)
		}
		switch t {
		case "record", "error", "enum", "fixed":
			full, inner := qualifiedName(s, ns)
			b.WriteString(`{"name":`)
			writePCFString(b, full)
			b.WriteString(`,"type":`)
			writePCFString(b, t)
			switch t {
			case "enum":
				b.WriteString(`,"symbols":[`)
				symbols, _ := s["symbols"].([]any)
				for i, sym := range symbols {
					if i > 0 {
						b.WriteByte(',')
					}
					name, _ := sym.(string)
					writePCFString(b, name)
				}
				b.WriteString(`]}`)
				return nil
			case "fixed":
				n, err := pcfInt(s["size"])
				if err != nil {
					return fmt.Errorf("fixed %s: size: %w", full, err)
				}
				b.WriteString(`,"size":` + n + `}`)
				return nil
			}
			b.WriteString(`,"fields":[`)
			fields, _ := s["fields"].([]any)
			for i, f := range fields {
				fm, ok := f.(map[string]any)
				if !ok {
					return fmt.Errorf("record %s: field %d is not an object", full, i)
				}
				name, _ := fm["name"].(string)
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(`{"name":`)
				writePCFString(b, name)
				b.WriteString(`,"type":`)
				if err := writePCF(b, fm["type"], inner); err != nil {
					return err
				}
				b.WriteByte('}')
			}
			b.WriteString(`]}`)
			return nil
		case "array":
			b.WriteString(`{"type":"array","items":`)
			if err := writePCF(b, s["items"], ns); err != nil {
				return err
			}
			b.WriteByte('}')
			return nil
		case "map":
			b.WriteString(`{"type":"map","values":`)
			if err := writePCF(b, s["values"], ns); err != nil {
				return err
			}
			b.WriteByte('}')
			return nil
		}
		return writePCF(b, t, ns) // a primitive, or a name, with attributes
	case nil:
		return fmt.Errorf("missing type")
	}
	return fmt.Errorf("unexpected %T in schema", s)
}

// writePCFString writes s as a JSON string with only the escapes JSON
// requires: the canonical form has UTF-8, not \u escapes.
func writePCFString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

// pcfInt writes an integer literal without quotes or leading zeros.
func pcfInt(v any) (string, error) {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	case float64:
		if v != math.Trunc(v) {
			return "", fmt.Errorf("not an integer: %v", v)
		}
		return strconv.FormatInt(int64(v), 10), nil
	default:
		return "", fmt.Errorf("not an integer: %v", v)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(n, 10), nil
}

// crc64Empty is the Avro specification's CRC-64-AVRO seed, also its
// polynomial.
const crc64Empty = 0xc15d213aa4d7a795

var crc64Table = func() (t [256]uint64) {
	for i := range t {
		fp := uint64(i)
		for range 8 {
			fp = fp>>1 ^ crc64Empty&-(fp&1)
		}
		t[i] = fp
	}
	return t
}()

// crc64Avro is the fingerprint algorithm of the Avro specification.
func crc64Avro(b []byte) uint64 {
	fp := uint64(crc64Empty)
	for _, c := range b {
		fp = fp>>8 ^ crc64Table[byte(fp)^c]
	}
	return fp
}
