package schemas

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"time"
	"unsafe"

	"github.com/linkedin/goavro/v2"
)

// This file reads the Avro binary of a message written with its current
// schema straight into the Go structs, skipping goavro's native form
// (a map per record, an interface per value), which cost most of the time
// of a decode. The same planner that builds the native conversions builds
// the readers (conv.read), so both follow one walk of schema and Go types.
//
// The direct read is only a shortcut: it gives the values goavro and the
// native conversion give (the equivalence tests and FuzzDecodeEvent hold it
// to that) and stops where goavro would fail, on truncated bytes, a
// negative or too long length, a union index out of range, trailing bytes,
// with errFallback: the codec then decodes the bytes again through goavro,
// whose error the caller gets, as before.

// errFallback says the direct read gave up: goavro decodes the bytes again
// and reports what is wrong with them, if anything.
var errFallback = errors.New("schemas: not read directly")

// readFn reads one value from the front of b into the Go value at p, of
// the conv's Go type, which holds its zero value, and returns the rest of
// b. It writes through the pointer rather than a reflect.Value: a field's
// reflect.Value (Value.Field checks the field's name is exported, every
// time) and its setters cost a quarter of a decode. The planner takes each
// pointer's type and offset from reflect once (newPlan), so that p is
// always a value of the type the reader writes.
type readFn func(b []byte, p unsafe.Pointer) ([]byte, error)

// read sets the Go fields from b, the Avro binary of exactly r's schema,
// field after field in schema order. Each src must be addressable.
func (r *record) read(b []byte, srcs ...reflect.Value) ([]byte, error) {
	var held [4]unsafe.Pointer // a record is made of one or two Go structs
	bases := held[:0]
	for _, v := range srcs {
		bases = append(bases, v.Addr().UnsafePointer())
	}
	return r.readAt(b, bases)
}

// readAt is read with the address of each Go struct.
func (r *record) readAt(b []byte, bases []unsafe.Pointer) ([]byte, error) {
	for _, f := range r.fields {
		var err error
		if b, err = f.conv.read(b, unsafe.Add(bases[f.src], f.offset)); err != nil {
			if err != errFallback {
				err = fmt.Errorf("%s: %w", f.name, err)
			}
			return nil, err
		}
	}
	return b, nil
}

// readAll reads a whole message body, which must hold the record and
// nothing after it.
func (r *record) readAll(body []byte, srcs ...reflect.Value) error {
	rest, err := r.read(body, srcs...)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errFallback
	}
	return nil
}

// varint reads an unsigned varint exactly as goavro does: with no limit on
// its length, ignoring what a byte past the tenth would add (a Go shift of
// 64 or more gives 0), so that the direct read fails only where goavro
// fails. (goavro's own bound on an array block, maxBlockCount in codec.go,
// keeps a hostile count from making it allocate gigabytes.)
func varint(b []byte) (uint64, []byte, bool) {
	var u uint64
	var shift uint
	for i, c := range b {
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return u, b[i+1:], true
		}
		shift += 7
	}
	return 0, nil, false
}

// long reads a zig-zag encoded long.
func long(b []byte) (int64, []byte, bool) {
	u, b, ok := varint(b)
	return int64(u>>1) ^ -int64(u&1), b, ok
}

// lengthPrefixed reads a length and that many bytes, the encoding of bytes
// and string; the result aliases b.
func lengthPrefixed(b []byte) ([]byte, []byte, bool) {
	n, b, ok := long(b)
	if !ok || n < 0 || n > int64(len(b)) {
		return nil, nil, false
	}
	return b[:n], b[n:], true
}

func readString(b []byte, p unsafe.Pointer) ([]byte, error) {
	s, b, ok := lengthPrefixed(b)
	if !ok {
		return nil, errFallback
	}
	*(*string)(p) = string(s)
	return b, nil
}

func readLong(b []byte, p unsafe.Pointer) ([]byte, error) {
	n, b, ok := long(b)
	if !ok {
		return nil, errFallback
	}
	*(*int64)(p) = n
	return b, nil
}

// readInt truncates to 32 bits as goavro does.
func readInt(b []byte, p unsafe.Pointer) ([]byte, error) {
	u, b, ok := varint(b)
	if !ok {
		return nil, errFallback
	}
	*(*int32)(p) = int32(u>>1) ^ -int32(u&1)
	return b, nil
}

// readTimestampMillis gives the time goavro gives, in UTC, to a time.Time.
func readTimestampMillis(b []byte, p unsafe.Pointer) ([]byte, error) {
	ms, b, ok := long(b)
	if !ok {
		return nil, errFallback
	}
	sec := ms / 1e3
	*(*time.Time)(p) = time.Unix(sec, (ms-sec*1e3)*1e6).UTC()
	return b, nil
}

// arrayReader reads an array in blocks into a Go slice of type t: a count,
// negative when a byte size follows (skipped, as goavro does), that many
// items, until a count of 0. The slice is never nil, as in the native
// conversion. size is the fewest bytes an item takes.
func arrayReader(t reflect.Type, item readFn, size int) readFn {
	empty := reflect.MakeSlice(t, 0, 0)
	itemSize := t.Elem().Size()
	return func(b []byte, p unsafe.Pointer) ([]byte, error) {
		v := reflect.NewAt(t, p).Elem()
		v.Set(empty)
		for {
			n, rest, ok := long(b)
			if !ok {
				return nil, errFallback
			}
			if n == 0 {
				return rest, nil
			}
			if n < 0 {
				if n == math.MinInt64 {
					return nil, errFallback
				}
				n = -n
				if _, rest, ok = long(rest); !ok {
					return nil, errFallback
				}
			}
			if n > goavro.MaxBlockCount {
				return nil, errFallback
			}
			if n > int64(len(rest)/size) { // too few bytes left: malformed
				return nil, errFallback
			}
			b = rest
			l := v.Len()
			v.Grow(int(n))
			v.SetLen(l + int(n))
			data := v.UnsafePointer() // after Grow: the items' array
			for i := l; i < l+int(n); i++ {
				var err error
				if b, err = item(b, unsafe.Add(data, uintptr(i)*itemSize)); err != nil {
					return nil, err
				}
			}
		}
	}
}

// unionReader reads a ["null", T] union into a Go pointer (nil is null)
// or slice (nil is null) of type t.
func unionReader(t reflect.Type, inner readFn) readFn {
	ptr := t.Kind() == reflect.Pointer
	return func(b []byte, p unsafe.Pointer) ([]byte, error) {
		i, b, ok := long(b)
		switch {
		case !ok || i < 0 || i > 1:
			return nil, errFallback
		case i == 0:
			reflect.NewAt(t, p).Elem().SetZero()
			return b, nil
		case !ptr:
			return inner(b, p)
		}
		e := reflect.New(t.Elem())
		b, err := inner(b, e.UnsafePointer())
		if err != nil {
			return nil, err
		}
		reflect.NewAt(t, p).Elem().Set(e)
		return b, nil
	}
}
