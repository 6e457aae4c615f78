package schemas

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/linkedin/goavro/v2"
	"github.com/twmb/franz-go/pkg/sr"
)

const v1Fixture = "testdata/product_created.v1.bin"

// TestProductCreatedV1Fixture writes, with -update, bytes as a v1 producer
// wrote them: single-object encoded with the retired schema.
func TestProductCreatedV1Fixture(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite " + v1Fixture)
	}
	text, err := avscFiles.ReadFile("avro/product_created.v1.avsc")
	if err != nil {
		t.Fatal(err)
	}
	gc, err := goavro.NewCodec(string(text))
	if err != nil {
		t.Fatal(err)
	}
	fp, err := Fingerprint(string(text))
	if err != nil {
		t.Fatal(err)
	}
	b := binary.LittleEndian.AppendUint64([]byte{0xC3, 0x01}, fp)
	b, err = gc.BinaryFromNative(b, map[string]any{
		"eventId": eventID, "aggregateType": AggregateProduct, "aggregateId": productID,
		"version": int64(1), "timestamp": at,
		"metadata": map[string]any{"correlationId": correlationID, "causationId": commandID, "userId": "alice"},
		"title":    "Kettle", "description": "1.7 l, steel",
		"price":      map[string]any{"amount": int64(3999), "currency": "EUR"},
		"categoryId": "c1", "categoryName": "Kitchen", "brandId": "b1", "brandName": "Acme",
		"tags": []any{"kitchen"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(v1Fixture), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(v1Fixture, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Bytes written with retired v1 decode into the current ProductCreated,
// in either framing: title becomes name, imageUrls and stock take their
// defaults.
func TestDecodeProductCreatedV1(t *testing.T) {
	fixture, err := os.ReadFile(v1Fixture)
	if err != nil {
		t.Fatal(err)
	}
	text, err := avscFiles.ReadFile("avro/product_created.v1.avsc")
	if err != nil {
		t.Fatal(err)
	}
	conf, reg := registryCodec(t)
	id, _, err := reg.RegisterSchema("io.streamview.catalog.ProductCreated.v1", sr.Schema{Schema: string(text)})
	if err != nil {
		t.Fatal(err)
	}
	want := event(1, &ProductCreated{
		Name: "Kettle", Description: "1.7 l, steel", Price: eur(3999),
		CategoryID: "c1", CategoryName: "Kitchen", BrandID: "b1", BrandName: "Acme",
		Tags: []string{"kitchen"}, ImageURLs: []string{}, Stock: 0,
	})
	tests := []struct {
		name string
		c    *Codec
		b    []byte
	}{
		{"single-object", newCodec(t), fixture},
		{"confluent", conf, append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), fixture[10:]...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.c.DecodeEvent(tc.b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %#v\nwant %#v", got.Data, want.Data)
			}
		})
	}
}

// A retired-schema record whose array claims 2^31-1 items is malformed, not
// a request for tens of gigabytes (goavro reserves a block's room first).
func TestDecodeHugeArrayCountOfRetiredSchema(t *testing.T) {
	b, err := os.ReadFile(v1Fixture)
	if err != nil {
		t.Fatal(err)
	}
	tail := []byte{0x02, 0x0e, 'k', 'i', 't', 'c', 'h', 'e', 'n', 0x00} // tags: ["kitchen"]
	if !bytes.HasSuffix(b, tail) {
		t.Fatalf("fixture does not end with its tags array % x", tail)
	}
	hostile := append(b[:len(b)-len(tail):len(b)-len(tail)], 0xfe, 0xff, 0xff, 0xff, 0x0f) // count 2^31-1, then nothing
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DecodeEvent(hostile); !errors.Is(err, ErrMalformed) {
		t.Fatalf("DecodeEvent = %v, want ErrMalformed", err)
	}
}
