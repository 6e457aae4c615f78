package eventgen_test

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/schemas"
)

func TestJSONLRoundTrip(t *testing.T) {
	events := eventgen.Stream(eventgen.Options{Products: 40, Seed: 9, Updates: eventgen.Range{Max: 6}, Discontinue: true, ManyDetails: true})
	var b bytes.Buffer
	if err := eventgen.WriteJSONL(&b, events); err != nil {
		t.Fatal(err)
	}
	got, err := eventgen.ReadJSONL(&b)
	if err != nil {
		t.Fatal(err)
	}
	// Timestamps keep their nanoseconds; compare them as instants.
	for i := range got {
		if !got[i].Timestamp.Equal(events[i].Timestamp) {
			t.Fatalf("event %d: timestamp %v, wrote %v", i, got[i].Timestamp, events[i].Timestamp)
		}
		got[i].Timestamp = events[i].Timestamp
	}
	if !reflect.DeepEqual(got, events) {
		t.Fatal("ReadJSONL does not give back what WriteJSONL wrote")
	}
}

func TestReadJSONL(t *testing.T) {
	const created = `"data":{"name":"n","description":"","price":{"amount":1,"currency":"EUR"},"categoryId":"c","categoryName":"C","brandId":"b","brandName":"B","tags":[],"imageUrls":[],"stock":1}`
	tests := []struct {
		name, in, err string
		want          int
	}{
		{name: "comments and blank lines", want: 1,
			in: "# a comment\n\n  \n" + `{"eventType":"ProductCreated","eventId":"e","aggregateId":"p","version":1,"timestamp":"2026-01-01T00:00:00.0001Z",` + created + "}\n"},
		{name: "unknown envelope field", err: "line 1", in: `{"eventType":"ProductCreated","eventKey":"e","aggregateId":"p","version":1,"timestamp":"2026-01-01T00:00:00Z",` + created + "}\n"},
		{name: "unknown payload field", err: "line 2: ProductStockChanged data",
			in: "# x\n" + `{"eventType":"ProductStockChanged","eventId":"e","aggregateId":"p","version":2,"timestamp":"2026-01-01T00:00:00Z","data":{"qty":1}}` + "\n"},
		{name: "unknown event type", err: `unknown event type "ProductPainted"`,
			in: `{"eventType":"ProductPainted","eventId":"e","aggregateId":"p","version":2,"timestamp":"2026-01-01T00:00:00Z","data":{}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := eventgen.ReadJSONL(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want || got[0].AggregateType != schemas.AggregateProduct || got[0].Timestamp.Nanosecond() != 100_000 {
				t.Fatalf("got %+v", got)
			}
		})
	}
}
