package deadletter_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/schemas"
)

// The header keys and reasons are a stored format: dead letters written
// before a change must still parse after it.
func TestFormatIsStable(t *testing.T) {
	keys := []string{deadletter.HeaderError, deadletter.HeaderReason, deadletter.HeaderSourceTopic,
		deadletter.HeaderSourcePartition, deadletter.HeaderSourceOffset, deadletter.HeaderProjection, deadletter.HeaderTime}
	want := []string{"dlq-error", "dlq-reason", "dlq-source-topic", "dlq-source-partition", "dlq-source-offset", "dlq-projection", "dlq-time"}
	if !slices.Equal(keys, want) {
		t.Errorf("header keys %q, want %q", keys, want)
	}
	reasons := []string{deadletter.ReasonUndecodable, deadletter.ReasonUnknownSchema, deadletter.ReasonUnknownEventType,
		deadletter.ReasonInvalid, deadletter.ReasonRejected}
	want = []string{"undecodable", "unknown-schema", "unknown-event-type", "invalid", "rejected"}
	if !slices.Equal(reasons, want) {
		t.Errorf("reasons %q, want %q", reasons, want)
	}
}

func TestReason(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"unknown schema", fmt.Errorf("decode: %w", schemas.ErrUnknownSchema), "unknown-schema"},
		{"unknown event type", fmt.Errorf("decode: %w", schemas.ErrUnknownType), "unknown-event-type"},
		{"invalid", fmt.Errorf("%w: no aggregate ID", deadletter.ErrInvalid), "invalid"},
		{"rejected", fmt.Errorf("%w: %w", deadletter.ErrRejected, errors.New("mapper_parsing_exception")), "rejected"},
		{"anything else", errors.New("short buffer"), "undecodable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := deadletter.Reason(tc.err); got != tc.want {
				t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

// Record writes what FromRecord reads, after the original headers.
func TestRecordRoundTrip(t *testing.T) {
	src := &kgo.Record{
		Topic: "catalog.product-events", Partition: 4, Offset: 1042, Key: []byte("p1"), Value: []byte{1, 2},
		Headers: []kgo.RecordHeader{{Key: "event-type", Value: []byte("ProductCreated")}},
	}
	before := time.Now().UTC()
	rec := deadletter.Record(src, fmt.Errorf("%w: boom", deadletter.ErrRejected), "streamview.product-view.g1", "catalog.product-view.dlq")
	if rec.Topic != "catalog.product-view.dlq" || string(rec.Key) != "p1" || string(rec.Value) != "\x01\x02" {
		t.Fatalf("record %s %q %q: want the dead-letter topic with the source's key and value", rec.Topic, rec.Key, rec.Value)
	}
	if len(rec.Headers) != 8 || rec.Headers[0].Key != "event-type" {
		t.Fatalf("headers %v: want the original one first, then seven dlq-* headers", rec.Headers)
	}
	rec.Offset = 9
	l := deadletter.FromRecord(rec)
	if l.Error != "rejected by the store: boom" || l.Reason != "rejected" || l.Projection != "streamview.product-view.g1" ||
		l.SourceTopic != src.Topic || l.SourcePartition != 4 || l.SourceOffset != 1042 || l.Time.Before(before.Add(-time.Second)) {
		t.Errorf("letter %+v does not say what Record wrote", l)
	}
	if got := l.OriginalHeaders(); len(got) != 1 || got[0].Key != "event-type" {
		t.Errorf("original headers %v, want the source's", got)
	}
}
