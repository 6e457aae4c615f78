package deadletter_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/schemas"
)

func TestParsePosition(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want deadletter.Position
		err  bool
	}{
		{in: "0", want: deadletter.Position{Offset: 0}},
		{in: "42", want: deadletter.Position{Offset: 42}},
		{in: " 7 ", want: deadletter.Position{Offset: 7}},
		{in: "2/42", want: deadletter.Position{Partition: 2, Offset: 42}},
		{in: "", err: true},
		{in: "-1", err: true},
		{in: "x", err: true},
		{in: "1/", err: true},
		{in: "/1", err: true},
		{in: "1/2/3", err: true},
	} {
		got, err := deadletter.ParsePosition(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParsePosition(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err == nil {
			if back, _ := deadletter.ParsePosition(got.String()); back != got {
				t.Errorf("%v does not round-trip through %q", got, got.String())
			}
		}
	}
}

func TestFromRecord(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 123e6, time.UTC)
	r := &kgo.Record{
		Topic: "catalog.product-view.dlq", Partition: 0, Offset: 9, Key: []byte("p1"), Value: []byte{1, 2},
		Timestamp: at.Add(time.Hour),
		Headers: []kgo.RecordHeader{
			{Key: "event-type", Value: []byte("ProductCreated")},
			{Key: deadletter.HeaderRedrivenFrom, Value: []byte("catalog.product-view.dlq/3")}, // an earlier redrive
			{Key: deadletter.HeaderError, Value: []byte("boom\nmore")},
			{Key: deadletter.HeaderReason, Value: []byte("rejected")},
			{Key: deadletter.HeaderSourceTopic, Value: []byte("catalog.product-events")},
			{Key: deadletter.HeaderSourcePartition, Value: []byte("4")},
			{Key: deadletter.HeaderSourceOffset, Value: []byte("1042")},
			{Key: deadletter.HeaderProjection, Value: []byte("streamview.product-view.g1")},
			{Key: deadletter.HeaderTime, Value: []byte(at.Format(time.RFC3339Nano))},
		},
	}
	l := deadletter.FromRecord(r)
	if l.ID() != "catalog.product-view.dlq/9" || l.Error != "boom\nmore" || l.Reason != "rejected" ||
		l.SourceTopic != "catalog.product-events" || l.SourcePartition != 4 || l.SourceOffset != 1042 ||
		l.Projection != "streamview.product-view.g1" || !l.Time.Equal(at) {
		t.Fatalf("parsed %+v", l)
	}
	rec, err := l.RedriveRecord()
	if err != nil {
		t.Fatal(err)
	}
	if rec.Topic != "catalog.product-events" || string(rec.Key) != "p1" || string(rec.Value) != "\x01\x02" {
		t.Fatalf("redrive record %+v", rec)
	}
	want := []string{"event-type=ProductCreated", deadletter.HeaderRedrivenFrom + "=catalog.product-view.dlq/9",
		deadletter.HeaderRedrivenOrigin + "=4/1042"}
	checkHeaders := func(hs []kgo.RecordHeader, want []string) {
		t.Helper()
		if len(hs) != len(want) {
			t.Fatalf("redrive headers %v, want %v", hs, want)
		}
		for i, h := range hs {
			if h.Key+"="+string(h.Value) != want[i] {
				t.Errorf("header %d: %s=%s, want %s", i, h.Key, h.Value, want[i])
			}
		}
	}
	checkHeaders(rec.Headers, want)
	if o, ok := deadletter.RedrivenOrigin(rec.Headers); !ok || o != (deadletter.Position{Partition: 4, Offset: 1042}) {
		t.Errorf("RedrivenOrigin = %v, %v; want 4/1042", o, ok)
	}

	// The re-driven copy, dead-lettered again from where it landed and
	// re-driven again, keeps the position of the first record.
	again := deadletter.FromRecord(&kgo.Record{
		Topic: "catalog.product-view.dlq", Offset: 15, Key: []byte("p1"), Value: []byte{1, 2},
		Headers: append(rec.Headers,
			kgo.RecordHeader{Key: deadletter.HeaderSourceTopic, Value: []byte("catalog.product-events")},
			kgo.RecordHeader{Key: deadletter.HeaderSourcePartition, Value: []byte("4")},
			kgo.RecordHeader{Key: deadletter.HeaderSourceOffset, Value: []byte("2077")}),
	})
	if o, ok := again.Origin(); !ok || o != (deadletter.Position{Partition: 4, Offset: 1042}) {
		t.Errorf("Origin of a re-driven record dead-lettered again = %v, %v; want 4/1042", o, ok)
	}
	rec2, err := again.RedriveRecord()
	if err != nil {
		t.Fatal(err)
	}
	checkHeaders(rec2.Headers, []string{"event-type=ProductCreated", deadletter.HeaderRedrivenFrom + "=catalog.product-view.dlq/15",
		deadletter.HeaderRedrivenOrigin + "=4/1042"})

	// A letter without the runtime's headers still parses, and says why it
	// cannot be re-driven.
	bare := deadletter.FromRecord(&kgo.Record{Topic: "t", Partition: 1, Offset: 2, Timestamp: at})
	if bare.SourcePartition != -1 || bare.SourceOffset != -1 || !bare.Time.Equal(at) || bare.ID() != "t/1/2" {
		t.Fatalf("bare letter %+v", bare)
	}
	if _, err := bare.RedriveRecord(); err == nil {
		t.Fatal("a letter without a source topic re-drives")
	}
}

// Decodes leaves a letter out only when its record still fails for the
// reason it was dead-lettered for: a caller without what the projections
// have (a schema registry) fails otherwise, and cannot tell.
func TestDecodes(t *testing.T) {
	invalid := fmt.Errorf("%w: version: must be >= 1", deadletter.ErrInvalid)
	unknown := fmt.Errorf("%w: id 7", schemas.ErrUnknownSchema)
	for _, tt := range []struct {
		reason string
		err    error // decode's now
		out    bool
	}{
		{deadletter.ReasonUndecodable, errors.New("no single-object or Confluent header"), true},
		{deadletter.ReasonUndecodable, nil, false},
		{deadletter.ReasonInvalid, invalid, true},
		{deadletter.ReasonInvalid, unknown, false}, // no registry here: cannot tell
		{deadletter.ReasonUnknownSchema, unknown, true},
		{deadletter.ReasonRejected, invalid, false}, // only applying it tells
	} {
		err := deadletter.Decodes(func([]byte) error { return tt.err })(deadletter.Letter{Reason: tt.reason})
		if out := errors.Is(err, deadletter.ErrStillBad); out != tt.out {
			t.Errorf("%s letter, decode now %v: left out %v (%v), want %v", tt.reason, tt.err, out, err, tt.out)
		}
	}
}
