package schemas

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

// The direct read (binary.go) must give what goavro and the native
// conversion give: the same values for every message, the same errors for
// every malformed one. decodeEvent(b, false) and its siblings are the
// reference, the decode path as it was before the direct read.

// gen makes random values that reach the corners of each Avro type.
type gen struct{ r *rand.Rand }

func newGen(seed uint64) gen { return gen{rand.New(rand.NewPCG(seed, 0x5eed))} }

func (g gen) str() string {
	switch g.r.IntN(7) {
	case 0:
		return ""
	case 1: // multi-byte UTF-8, up to four bytes a rune
		runes := []rune{'a', 'é', '☕', '日', '𝄞', 0x10FFFF, 0}
		s := make([]rune, 1+g.r.IntN(10))
		for i := range s {
			s[i] = runes[g.r.IntN(len(runes))]
		}
		return string(s)
	case 2: // not UTF-8: Avro strings are bytes to goavro
		b := make([]byte, 1+g.r.IntN(10))
		for i := range b {
			b[i] = byte(g.r.UintN(256))
		}
		return string(b)
	case 3: // a length of two or three varint bytes
		return string(bytes.Repeat([]byte{'x'}, 64+g.r.IntN(20000)))
	case 4:
		return FormatUUID([16]byte{byte(g.r.UintN(256)), 1, 2, 3})
	}
	b := make([]byte, g.r.IntN(20))
	for i := range b {
		b[i] = byte(' ' + g.r.IntN(95))
	}
	return string(b)
}

func (g gen) long() int64 {
	switch g.r.IntN(6) {
	case 0:
		return []int64{0, 1, -1, 63, 64, -64, -65, math.MaxInt64, math.MinInt64, math.MaxInt32, math.MinInt32}[g.r.IntN(11)]
	case 1:
		return g.r.Int64N(1000) - 500
	case 2:
		return -g.r.Int64()
	}
	return g.r.Int64()
}

func (g gen) time() time.Time {
	if g.r.IntN(2) == 0 {
		return time.UnixMilli(g.r.Int64N(4e12)).In(time.FixedZone("X", 3600))
	}
	return time.UnixMilli(g.long()) // far outside year 0..9999 too
}

// fill sets v, a struct, slice, pointer or scalar of our message types, to
// random values: nil and empty slices and pointers included.
func (g gen) fill(v reflect.Value) {
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(g.time()))
	case v.Kind() == reflect.String:
		v.SetString(g.str())
	case v.Kind() == reflect.Int64:
		v.SetInt(g.long())
	case v.Kind() == reflect.Int32:
		v.SetInt(int64(int32(g.long())))
	case v.Kind() == reflect.Slice:
		n := g.r.IntN(4)
		switch g.r.IntN(5) {
		case 0:
			return // nil
		case 1:
			n = 64 + g.r.IntN(100) // a two-byte count
		}
		v.Set(reflect.MakeSlice(v.Type(), n, n))
		for i := range n {
			g.fill(v.Index(i))
		}
	case v.Kind() == reflect.Pointer:
		if g.r.IntN(3) > 0 {
			v.Set(reflect.New(v.Type().Elem()))
			g.fill(v.Elem())
		}
	case v.Kind() == reflect.Struct:
		for i := range v.NumField() {
			if v.Field(i).Kind() != reflect.Interface && v.Type().Field(i).Tag.Get("avro") != "-" {
				g.fill(v.Field(i))
			}
		}
	default:
		panic("gen: no values for " + v.Type().String())
	}
}

func (g gen) event(typ string) Event {
	var e Event
	g.fill(reflect.ValueOf(&e).Elem())
	data := eventTypes[typ]()
	g.fill(reflect.ValueOf(data).Elem())
	e.Data = data
	return e
}

func (g gen) command(typ string) Command {
	var cmd Command
	g.fill(reflect.ValueOf(&cmd).Elem())
	data := commandTypes[typ]()
	g.fill(reflect.ValueOf(data).Elem())
	cmd.Data = data
	return cmd
}

func (g gen) result() CommandResult {
	var r CommandResult
	g.fill(reflect.ValueOf(&r).Elem())
	return r
}

// readsDirectly reports whether b's writer is the current schema of its
// message type (applies) and, if so, whether the direct read takes the
// whole of b without falling back to goavro.
func readsDirectly(c *Codec, b []byte) (applies, ok bool) {
	w, body, err := c.writerOf(b)
	if err != nil {
		return false, false
	}
	m := c.cat.byName[w.name]
	if m == nil || w != m.w {
		return false, false
	}
	srcs := make([]reflect.Value, len(m.rec.types))
	for i, t := range m.rec.types {
		srcs[i] = reflect.New(t).Elem()
	}
	return true, m.rec.readAll(body, srcs...) == nil
}

var sentinels = []error{ErrMalformed, ErrUnknownSchema, ErrUnknownType, ErrNoRegistry, ErrNotRegistered}

// sameOutcome fails unless the direct and the goavro decode of one message
// gave equal values and errors equal in text and sentinel.
func sameOutcome(t testing.TB, what string, b []byte, fast any, ferr error, slow any, serr error) {
	t.Helper()
	if (ferr == nil) != (serr == nil) || ferr != nil && ferr.Error() != serr.Error() {
		t.Fatalf("%s % x:\n direct err %v\n goavro err %v", what, b, ferr, serr)
	}
	for _, s := range sentinels {
		if errors.Is(ferr, s) != errors.Is(serr, s) {
			t.Fatalf("%s % x: errors.Is(%v): direct %v, goavro %v", what, b, s, errors.Is(ferr, s), errors.Is(serr, s))
		}
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%s % x:\n direct %#v\n goavro %#v", what, b, fast, slow)
	}
}

// compareDecode decodes b as an event, a command and a result, directly
// and through goavro, and fails unless both agree. When goavro decodes b
// and its writer is current, the direct read must have taken it: falling
// back is for errors only.
func compareDecode(t testing.TB, c *Codec, b []byte) {
	t.Helper()
	var ok bool
	fe, ferr := c.decodeEvent(b, true)
	se, serr := c.decodeEvent(b, false)
	sameOutcome(t, "event", b, fe, ferr, se, serr)
	ok = ok || serr == nil
	fc, ferr := c.decodeCommand(b, true)
	sc, serr := c.decodeCommand(b, false)
	sameOutcome(t, "command", b, fc, ferr, sc, serr)
	ok = ok || serr == nil
	fr, ferr := c.decodeResult(b, true)
	sr, serr := c.decodeResult(b, false)
	sameOutcome(t, "result", b, fr, ferr, sr, serr)
	ok = ok || serr == nil
	if applies, direct := readsDirectly(c, b); ok && applies && !direct {
		t.Fatalf("% x: goavro decodes it, the direct read fell back", b)
	}
}

// randomMessages encodes n random messages of every type with c.
func randomMessages(t testing.TB, c *Codec, g gen, n int) [][]byte {
	t.Helper()
	var out [][]byte
	add := func(b []byte, err error) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	for range n {
		for _, typ := range slices.Sorted(maps.Keys(eventTypes)) {
			add(c.EncodeEvent(g.event(typ)))
		}
		for _, typ := range slices.Sorted(maps.Keys(commandTypes)) {
			add(c.EncodeCommand(g.command(typ)))
		}
		add(c.EncodeResult(g.result()))
	}
	return out
}

// Random messages of every type, in both framings, decode to the same
// values directly as through goavro, and directly in fact.
func TestDirectReadEquivalence(t *testing.T) {
	for i, wf := range wireFormats(t) {
		t.Run(wf.name, func(t *testing.T) {
			for _, b := range randomMessages(t, wf.c, newGen(uint64(i)), 60) {
				if _, direct := readsDirectly(wf.c, b); !direct {
					t.Fatalf("% x: not read directly", b)
				}
				compareDecode(t, wf.c, b)
			}
		})
	}
}

// avroBuf writes Avro binary by hand, to make what EncodeEvent never
// writes: blocks with byte sizes, overlong varints.
type avroBuf []byte

func (a avroBuf) long(n int64) avroBuf {
	return binary.AppendUvarint(a, uint64(n<<1)^uint64(n>>63))
}

// longVarint writes n in exactly width bytes (width >= its length), with
// continuation bytes of zero payload, which goavro accepts.
func (a avroBuf) longVarint(n int64, width int) avroBuf {
	v := binary.AppendUvarint(nil, uint64(n<<1)^uint64(n>>63))
	for len(v) < width {
		v[len(v)-1] |= 0x80
		v = append(v, 0)
	}
	return append(a, v...)
}

func (a avroBuf) str(s string) avroBuf { return append(a.long(int64(len(s))), s...) }

func (a avroBuf) append(b ...byte) avroBuf { return append(a, b...) }

// strs writes an array in the given blocks, each block with its byte size
// (a negative count) when sized.
func (a avroBuf) strs(sized bool, blocks ...[]string) avroBuf {
	for _, blk := range blocks {
		var items avroBuf
		for _, s := range blk {
			items = items.str(s)
		}
		if sized {
			a = a.long(-int64(len(blk))).long(int64(len(items)))
		} else {
			a = a.long(int64(len(blk)))
		}
		a = append(a, items...)
	}
	return a.long(0)
}

// envelope writes an event's envelope fields.
func (a avroBuf) envelope() avroBuf {
	return a.str(eventID).str(AggregateProduct).str(productID).long(7).long(at.UnixMilli()).
		str(correlationID).str(commandID).str("alice")
}

// soe frames body as single-object encoding of typ's current schema.
func soe(t testing.TB, c *Codec, typ string, body []byte) []byte {
	t.Helper()
	info, ok := c.SchemaFor(typ)
	if !ok {
		t.Fatalf("no schema for %s", typ)
	}
	return append(binary.LittleEndian.AppendUint64([]byte{0xC3, 0x01}, info.Fingerprint), body...)
}

// created writes a ProductCreated body with tags and imageUrls as given.
func created(tags, images func(avroBuf) avroBuf) avroBuf {
	a := avroBuf(nil).envelope().str("Kettle").str("").long(3999).str("EUR").
		str("c1").str("Kitchen").str("b1").str("Acme")
	return images(tags(a)).long(12)
}

// Bytes EncodeEvent never writes but other Avro writers may: arrays in
// several blocks, with and without byte sizes, overlong varints.
func TestDirectReadHandBuilt(t *testing.T) {
	c := newCodec(t)
	plain := func(a avroBuf) avroBuf { return a.strs(false, []string{"a"}) }
	tests := []struct {
		name string
		typ  string
		body avroBuf
	}{
		{"tags in sized blocks", TypeProductCreated, created(
			func(a avroBuf) avroBuf {
				return a.strs(true, []string{"a", "b"}, []string{"c"}, []string{"d", "e", "☕"})
			},
			func(a avroBuf) avroBuf { return a.strs(true, []string{"u"}) })},
		{"tags in unsized blocks", TypeProductCreated, created(
			func(a avroBuf) avroBuf { return a.strs(false, []string{"a"}, []string{"b", "c"}) }, plain)},
		{"tags in mixed blocks", TypeProductCreated, created(
			func(a avroBuf) avroBuf {
				return a.long(-2).long(4).str("a").str("b").long(1).str("c").long(-1).long(2).str("d").long(0)
			}, plain)},
		{"block size wrong (goavro ignores it)", TypeProductCreated, created(
			func(a avroBuf) avroBuf { return a.long(-2).long(1000).str("a").str("b").long(0) }, plain)},
		{"empty arrays", TypeProductCreated, created(
			func(a avroBuf) avroBuf { return a.long(0) },
			func(a avroBuf) avroBuf { return a.long(0) })},
		{"overlong varints", TypeProductCreated, avroBuf(nil).
			str(eventID).str(AggregateProduct).str(productID).longVarint(7, 12).longVarint(at.UnixMilli(), 15).
			longVarint(3, 11).append('r', 'e', 'q').str(commandID).str("alice").
			str("Kettle").str("").longVarint(-3999, 10).str("EUR").
			str("c1").str("Kitchen").str("b1").str("Acme").
			longVarint(-1, 20).longVarint(1, 13).str("a").long(0).long(0).longVarint(12, 30)},
		{"varint bits past 64", TypeProductStockChanged, avroBuf(nil).envelope().
			append(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f).
			append(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0xff, 0x01)},
		{"int wider than 32 bits", TypeProductReviewAdded, avroBuf(nil).envelope().
			str(reviewID).long(1<<40 + 5).str("bob").str("")},
		{"int overlong", TypeProductReviewAdded, avroBuf(nil).envelope().
			str(reviewID).longVarint(-3, 14).str("bob").str("")},
		{"details, arrays in blocks", TypeProductDetailsUpdated, avroBuf(nil).envelope().
			long(1).str("n").long(0).
			long(1).strs(true, []string{"a"}, []string{"b"}).
			long(1).long(0).
			long(0).long(1).str("").long(0).long(1).str("z")},
		{"details, union index overlong", TypeProductDetailsUpdated, avroBuf(nil).envelope().
			longVarint(1, 5).str("n").longVarint(0, 3).long(0).long(0).long(0).long(0).long(0).long(0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := soe(t, c, tc.typ, tc.body)
			if _, direct := readsDirectly(c, b); !direct {
				t.Fatalf("% x: not read directly", b)
			}
			if _, err := c.decodeEvent(b, false); err != nil {
				t.Fatalf("goavro: %v", err)
			}
			compareDecode(t, c, b)
		})
	}
}

// Every truncation and many random corruptions of valid messages give the
// error goavro gives, and never a panic.
func TestDirectReadMalformed(t *testing.T) {
	c := newCodec(t)
	g := newGen(7)
	var valid [][]byte
	for _, s := range sampleEvents {
		b, err := c.EncodeEvent(s.e)
		if err != nil {
			t.Fatal(err)
		}
		valid = append(valid, b)
	}
	for _, s := range sampleCommands {
		b, err := c.EncodeCommand(s.c)
		if err != nil {
			t.Fatal(err)
		}
		valid = append(valid, b)
	}
	for _, b := range randomMessages(t, c, g, 6) {
		if len(b) < 800 { // every truncation costs a decode a byte
			valid = append(valid, b)
		}
	}
	for _, b := range valid {
		for i := range len(b) {
			compareDecode(t, c, b[:i])
		}
		compareDecode(t, c, append(slices.Clip(b), 0))
		compareDecode(t, c, append(slices.Clip(b), 2, 'x'))
		for range 300 {
			m := bytes.Clone(b)
			for range 1 + g.r.IntN(3) {
				i := soeHeaderLen + g.r.IntN(len(m)-soeHeaderLen)
				switch g.r.IntN(3) {
				case 0:
					m[i] = byte(g.r.UintN(256))
				case 1:
					m[i] ^= 1 << g.r.IntN(8)
				case 2:
					m[i] |= 0x80 // a varint runs on
				}
			}
			compareDecode(t, c, m)
		}
	}
}

// Lengths and counts that the bytes cannot hold.
func TestDirectReadHugeLengths(t *testing.T) {
	c := newCodec(t)
	plain := func(a avroBuf) avroBuf { return a.strs(false, []string{"a"}) }
	count := func(n int64, sized bool) func(avroBuf) avroBuf {
		return func(a avroBuf) avroBuf {
			if sized {
				return a.long(-n).long(10).str("a").long(0)
			}
			return a.long(n).str("a").long(0)
		}
	}
	for _, tc := range []struct {
		name string
		body avroBuf
	}{
		{"string length 2^62", avroBuf(nil).str(eventID).long(1 << 62)},
		{"string length -1", avroBuf(nil).str(eventID).long(-1)},
		{"string length MinInt64", avroBuf(nil).str(eventID).long(math.MinInt64)},
		{"string length one past the end", avroBuf(nil).str(eventID).long(3).append('a', 'b')},
		{"tags count 1000", created(count(1000, false), plain)},
		{"tags count 2^16, sized", created(count(1<<16, true), plain)},
		{"imageUrls count 3, sized", created(plain, count(3, true))},
		{"tags count MinInt64", created(count(math.MinInt64, false), plain)},
		{"tags count over MaxBlockCount", created(count(1<<40, false), plain)},
		{"tags count -(2^40)", created(count(1<<40, true), plain)},
		{"tags count 2^31-1", created(count(math.MaxInt32, false), plain)},
		{"imageUrls count -(2^31-1), sized", created(plain, count(math.MaxInt32, true))},
		{"tags count 2^16+1", created(count(1<<16+1, false), plain)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := soe(t, c, TypeProductCreated, tc.body)
			_, err := c.decodeEvent(b, true)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err %v, want ErrMalformed", err)
			}
			compareDecode(t, c, b)
		})
	}
	// A huge count inside a nullable array, in a later block, too.
	details := avroBuf(nil).envelope().long(0).long(0).long(1).long(math.MaxInt32).str("a")
	if _, err := c.DecodeEvent(soe(t, c, TypeProductDetailsUpdated, details)); !errors.Is(err, ErrMalformed) {
		t.Errorf("nullable array: err %v, want ErrMalformed", err)
	}
	later := created(func(a avroBuf) avroBuf { return a.long(1).str("a").long(math.MaxInt32).str("b") }, plain)
	if _, err := c.DecodeEvent(soe(t, c, TypeProductCreated, later)); !errors.Is(err, ErrMalformed) {
		t.Errorf("huge later block: err %v, want goavro's ErrMalformed", err)
	}
}

// The fuzzer mutates valid messages of every type; the direct read must
// agree with goavro on all of them. Run with
// go test -run '^$' -fuzz FuzzDecodeEvent -fuzztime 30s ./schemas/
func FuzzDecodeEvent(f *testing.F) {
	c := newCodec(f)
	for _, s := range sampleEvents {
		b, err := c.EncodeEvent(s.e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range sampleCommands[:3] {
		b, err := c.EncodeCommand(s.c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, b := range randomMessages(f, c, newGen(3), 1) {
		if len(b) < 2000 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		compareDecode(t, c, b)
	})
}

func BenchmarkDecodeEvent(b *testing.B) {
	c := newCodec(b)
	for _, tc := range []struct {
		typ string
		e   Event
	}{
		{TypeProductCreated, sampleEvents[0].e},
		{TypeProductReviewAdded, sampleEvents[7].e},
	} {
		buf, err := c.EncodeEvent(tc.e)
		if err != nil {
			b.Fatal(err)
		}
		for _, mode := range []struct {
			name   string
			direct bool
		}{{"fast", true}, {"goavro", false}} {
			b.Run(tc.typ+"/"+mode.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := c.decodeEvent(buf, mode.direct); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
