package schemas

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
)

func newCodec(t testing.TB, opts ...Option) *Codec {
	t.Helper()
	c, err := NewCodec(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// registryCodec is a codec on an in-process fake registry, registered.
func registryCodec(t testing.TB) (*Codec, *srfake.Registry) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	c := newCodec(t, WithRegistry(cl))
	if err := c.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, reg
}

// wireFormats are a codec per framing; each case checks its header.
func wireFormats(t *testing.T) []struct {
	name   string
	c      *Codec
	header func(SchemaInfo) []byte
} {
	reg, _ := registryCodec(t)
	return []struct {
		name   string
		c      *Codec
		header func(SchemaInfo) []byte
	}{
		{"single-object", newCodec(t), func(s SchemaInfo) []byte {
			return binary.LittleEndian.AppendUint64([]byte{0xC3, 0x01}, s.Fingerprint)
		}},
		{"confluent", reg, func(s SchemaInfo) []byte {
			return binary.BigEndian.AppendUint32([]byte{0x00}, uint32(s.ID))
		}},
	}
}

func checkHeader(t *testing.T, c *Codec, typ string, b []byte, header func(SchemaInfo) []byte) {
	t.Helper()
	info, ok := c.SchemaFor(typ)
	if !ok {
		t.Fatalf("no schema for %s", typ)
	}
	if h := header(info); !bytes.HasPrefix(b, h) {
		t.Fatalf("header % x, want % x", b[:min(len(b), len(h))], h)
	}
}

func TestEventRoundTrip(t *testing.T) {
	for _, wf := range wireFormats(t) {
		for _, tc := range sampleEvents {
			t.Run(wf.name+"/"+tc.name, func(t *testing.T) {
				b, err := wf.c.EncodeEvent(tc.e)
				if err != nil {
					t.Fatal(err)
				}
				checkHeader(t, wf.c, tc.e.Type(), b, wf.header)
				got, err := wf.c.DecodeEvent(b)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.e) {
					t.Fatalf("round trip\n got %#v\nwant %#v", got.Data, tc.e.Data)
				}
			})
		}
	}
}

func TestCommandRoundTrip(t *testing.T) {
	for _, wf := range wireFormats(t) {
		for _, tc := range sampleCommands {
			t.Run(wf.name+"/"+tc.name, func(t *testing.T) {
				b, err := wf.c.EncodeCommand(tc.c)
				if err != nil {
					t.Fatal(err)
				}
				checkHeader(t, wf.c, tc.c.Type(), b, wf.header)
				got, err := wf.c.DecodeCommand(b)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.c) {
					t.Fatalf("round trip\n got %#v\nwant %#v", got, tc.c)
				}
			})
		}
	}
}

func TestResultRoundTrip(t *testing.T) {
	for _, wf := range wireFormats(t) {
		for _, tc := range sampleResults {
			t.Run(wf.name+"/"+tc.name, func(t *testing.T) {
				b, err := wf.c.EncodeResult(tc.r)
				if err != nil {
					t.Fatal(err)
				}
				checkHeader(t, wf.c, TypeCommandResult, b, wf.header)
				got, err := wf.c.DecodeResult(b)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, tc.r) {
					t.Fatalf("round trip\n got %#v\nwant %#v", got, tc.r)
				}
			})
		}
	}
}

// A plain Avro array cannot say null: a nil slice comes back empty, and a
// time comes back in UTC at millisecond precision.
func TestEncodeNormalizes(t *testing.T) {
	c := newCodec(t)
	in := event(1, &ProductCreated{Name: "n", Price: eur(1)})
	in.Timestamp = time.Date(2026, 3, 14, 16, 9, 26, 535_999_999, time.FixedZone("CET", 3600))
	b, err := c.EncodeEvent(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.DecodeEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Timestamp.Equal(at) || got.Timestamp.Location() != time.UTC {
		t.Errorf("timestamp %v, want %v", got.Timestamp, at)
	}
	d := got.Data.(*ProductCreated)
	if d.Tags == nil || len(d.Tags) != 0 || d.ImageURLs == nil || len(d.ImageURLs) != 0 {
		t.Errorf("tags %#v, imageUrls %#v: want empty, non-nil", d.Tags, d.ImageURLs)
	}
}

// One codec reads both framings, whichever it writes.
func TestDecodeBothFramings(t *testing.T) {
	soe := newCodec(t)
	conf, _ := registryCodec(t)
	e := sampleEvents[0].e
	for _, enc := range []struct {
		name string
		c    *Codec
	}{{"single-object", soe}, {"confluent", conf}} {
		b, err := enc.c.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, dec := range []struct {
			name string
			c    *Codec
		}{{"single-object", soe}, {"confluent", conf}} {
			t.Run(enc.name+" read by "+dec.name, func(t *testing.T) {
				got, err := dec.c.DecodeEvent(b)
				if enc.name == "confluent" && dec.name == "single-object" {
					if !errors.Is(err, ErrNoRegistry) {
						t.Fatalf("err %v, want ErrNoRegistry", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, e) {
					t.Fatalf("got %#v", got)
				}
			})
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	soe := newCodec(t)
	conf, reg := registryCodec(t)
	valid, err := soe.EncodeEvent(sampleEvents[0].e)
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := soe.EncodeCommand(sampleCommands[0].c)
	if err != nil {
		t.Fatal(err)
	}
	const unknownFP = 0x0123456789abcdef
	tests := []struct {
		name   string
		c      *Codec
		b      []byte
		want   error
		wantFP uint64
		wantID int
	}{
		{"empty", soe, nil, ErrMalformed, 0, 0},
		{"garbage", soe, []byte("hello, world"), ErrMalformed, 0, 0},
		{"short single-object header", soe, []byte{0xC3, 0x01, 1, 2}, ErrMalformed, 0, 0},
		{"bad single-object version", soe, append([]byte{0xC3, 0x02}, valid[2:]...), ErrMalformed, 0, 0},
		{"short Confluent header", conf, []byte{0, 0, 1}, ErrMalformed, 0, 0},
		{"truncated body", soe, valid[:len(valid)-3], ErrMalformed, 0, 0},
		{"trailing bytes", soe, append(bytes.Clone(valid), 0, 0), ErrMalformed, 0, 0},
		{"unknown fingerprint", soe, binary.LittleEndian.AppendUint64([]byte{0xC3, 0x01}, unknownFP), ErrUnknownSchema, unknownFP, 0},
		{"unknown schema ID", conf, []byte{0, 0, 0, 0x30, 0x39, 2}, ErrUnknownSchema, 0, 12345},
		{"Confluent framing without registry", soe, []byte{0, 0, 0, 0, 1, 2}, ErrNoRegistry, 0, 0},
		{"a command read as an event", soe, cmd, ErrUnknownType, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.DecodeEvent(tc.b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			var use *UnknownSchemaError
			if errors.As(err, &use) && (use.Fingerprint != tc.wantFP || use.ID != tc.wantID) {
				t.Fatalf("fingerprint %#x, ID %d; want %#x, %d", use.Fingerprint, use.ID, tc.wantFP, tc.wantID)
			}
		})
	}

	// A registry that cannot be reached is not an unknown schema: retry.
	reg.Close()
	_, err = conf.DecodeEvent([]byte{0, 0, 0, 0x30, 0x3a, 2})
	if err == nil || errors.Is(err, ErrUnknownSchema) || errors.Is(err, ErrMalformed) {
		t.Fatalf("registry down: err %v, want a retryable error", err)
	}
}

func TestDecodeWrongKind(t *testing.T) {
	c := newCodec(t)
	ev, _ := c.EncodeEvent(sampleEvents[0].e)
	res, _ := c.EncodeResult(sampleResults[0].r)
	if _, err := c.DecodeCommand(ev); !errors.Is(err, ErrUnknownType) {
		t.Errorf("event as command: %v", err)
	}
	if _, err := c.DecodeResult(ev); !errors.Is(err, ErrUnknownType) {
		t.Errorf("event as result: %v", err)
	}
	if _, err := c.DecodeEvent(res); !errors.Is(err, ErrUnknownType) {
		t.Errorf("result as event: %v", err)
	}
}

// foreignData implements EventData but is not one of ours.
type foreignData struct{}

func (*foreignData) EventType() string { return TypeProductCreated }

func TestEncodeErrors(t *testing.T) {
	c := newCodec(t)
	reg := srfake.New()
	defer reg.Close()
	cl, err := sr.NewClient(sr.URLs(reg.URL()))
	if err != nil {
		t.Fatal(err)
	}
	unregistered := newCodec(t, WithRegistry(cl))
	tests := []struct {
		name string
		c    *Codec
		e    Event
		want error
	}{
		{"no data", c, event(1, nil), ErrUnknownType},
		{"typed nil data", c, event(1, (*ProductCreated)(nil)), ErrUnknownType},
		{"foreign data type", c, event(1, &foreignData{}), ErrUnknownType},
		{"registry codec before Register", unregistered, sampleEvents[0].e, ErrNotRegistered},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.c.EncodeEvent(tc.e); !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	if err := c.Register(context.Background()); !errors.Is(err, ErrNoRegistry) {
		t.Errorf("Register without registry: %v", err)
	}
}

// A writer schema the codec does not embed (a newer producer's, with a
// field this reader does not know) is fetched, compiled and resolved by
// field name.
func TestDecodeForeignRegistrySchema(t *testing.T) {
	c, reg := registryCodec(t)
	newer := `{"type":"record","name":"ProductStockChanged","namespace":"io.streamview.catalog","fields":[
		{"name":"eventId","type":"string"},{"name":"aggregateType","type":"string"},
		{"name":"aggregateId","type":"string"},{"name":"version","type":"long"},
		{"name":"timestamp","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"metadata","type":{"type":"record","name":"Metadata","fields":[
			{"name":"correlationId","type":"string"},{"name":"causationId","type":"string"},{"name":"userId","type":"string"}]}},
		{"name":"oldQuantity","type":"long"},{"name":"quantity","type":"long"},
		{"name":"warehouse","type":"string"}]}`
	id, _, err := reg.RegisterSchema("io.streamview.catalog.ProductStockChanged", sr.Schema{Schema: newer})
	if err != nil {
		t.Fatal(err)
	}
	gc, err := goavro.NewCodec(newer)
	if err != nil {
		t.Fatal(err)
	}
	body, err := gc.BinaryFromNative(nil, map[string]any{
		"eventId": eventID, "aggregateType": AggregateProduct, "aggregateId": productID,
		"version": int64(4), "timestamp": at, "oldQuantity": int64(12), "quantity": int64(7), "warehouse": "west",
		"metadata": map[string]any{"correlationId": correlationID, "causationId": commandID, "userId": "alice"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.DecodeEvent(append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), body...))
	if err != nil {
		t.Fatal(err)
	}
	if want := event(4, &ProductStockChanged{OldQuantity: 12, Quantity: 7}); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v", got)
	}
}

func TestSchemaFor(t *testing.T) {
	c, _ := registryCodec(t)
	for _, typ := range []string{TypeProductCreated, "io.streamview.catalog.ProductCreated"} {
		info, ok := c.SchemaFor(typ)
		if !ok || info.Type != TypeProductCreated || info.Kind != KindEvent || info.ID == 0 || info.Fingerprint == 0 {
			t.Errorf("SchemaFor(%q) = %+v, %v", typ, info, ok)
		}
	}
	if _, ok := c.SchemaFor("Money"); ok {
		t.Error("Money is not a message")
	}
	if n := len(c.Schemas()); n != len(eventTypes)+len(commandTypes)+1 {
		t.Errorf("%d schemas", n)
	}
}

func BenchmarkEncodeDecodeEvent(b *testing.B) {
	c := newCodec(b)
	e := sampleEvents[0].e
	b.ReportAllocs()
	for b.Loop() {
		buf, err := c.EncodeEvent(e)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.DecodeEvent(buf); err != nil {
			b.Fatal(err)
		}
	}
}
