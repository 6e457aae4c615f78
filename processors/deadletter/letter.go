package deadletter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// HeaderPrefix starts every header the runtime adds to a dead letter.
// Re-driving strips all headers with it.
const HeaderPrefix = "dlq-"

// HeaderRedrivenFrom marks a re-driven record with the dead letter it came
// from, "<dlq topic>/<position>", so that a reader of the source topic can
// tell it from the original.
const HeaderRedrivenFrom = "dlq-redriven-from"

// HeaderRedrivenOrigin gives a re-driven record the position its record
// first had in the source topic, "<partition>/<offset>" (ParsePosition
// reads it), kept through later re-drives of the same record. A reader of
// the source topic that judges an event by its position (the notifier: an
// event notifies the subscriptions live at its offset) takes a re-driven
// copy to be where the event first was, not where the copy landed.
const HeaderRedrivenOrigin = "dlq-redriven-origin"

// RedrivenOrigin is the position that HeaderRedrivenOrigin in hs gives:
// where a re-driven record's event first sat in its source topic. ok is
// false for a record that was not re-driven (or by a build without the
// header).
func RedrivenOrigin(hs []kgo.RecordHeader) (Position, bool) {
	v := lastHeader(hs, HeaderRedrivenOrigin)
	if v == "" {
		return Position{}, false
	}
	p, err := ParsePosition(v)
	return p, err == nil
}

// Origin is where l's record first sat in its source topic: its source
// position, or, for a re-driven record dead-lettered again, the position
// its first re-drive recorded (HeaderRedrivenOrigin). ok is false when the
// letter does not say.
func (l Letter) Origin() (Position, bool) {
	if p, ok := RedrivenOrigin(l.Headers); ok {
		return p, true
	}
	if l.SourcePartition < 0 || l.SourceOffset < 0 {
		return Position{}, false
	}
	return Position{Partition: l.SourcePartition, Offset: l.SourceOffset}, true
}

// Position is where a record sits in a topic.
type Position struct {
	Partition int32
	Offset    int64
}

// String writes the offset alone for partition 0, which is all that the
// one-partition dead-letter topics have, and "partition/offset" otherwise.
func (p Position) String() string {
	if p.Partition == 0 {
		return strconv.FormatInt(p.Offset, 10)
	}
	return fmt.Sprintf("%d/%d", p.Partition, p.Offset)
}

// ParsePosition reads what Position.String writes: "OFFSET" (partition 0)
// or "PARTITION/OFFSET".
func ParsePosition(s string) (Position, error) {
	part, off, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		part, off = "0", part
	}
	p, err := strconv.ParseInt(part, 10, 32)
	if err != nil || p < 0 {
		return Position{}, fmt.Errorf("position %q: partition must be a number 0 or more", s)
	}
	o, err := strconv.ParseInt(off, 10, 64)
	if err != nil || o < 0 {
		return Position{}, fmt.Errorf("position %q: offset must be a number 0 or more", s)
	}
	return Position{Partition: int32(p), Offset: o}, nil
}

// Letter is one dead letter as the runtime wrote it. Fields a header does
// not give are zero, or -1 for the source partition and offset.
type Letter struct {
	// Topic and Position locate the letter in the dead-letter topic.
	Topic string
	Position

	// Key, Value and Headers are the record as stored: the original key
	// and value, the original headers followed by the dlq-* headers.
	Key, Value []byte
	Headers    []kgo.RecordHeader

	Error      string // dlq-error: the full error, may span lines
	Reason     string // dlq-reason: undecodable, unknown-schema, unknown-event-type, invalid, rejected
	Projection string // dlq-projection: the consumer group, e.g. streamview.product-view.g1

	SourceTopic     string // dlq-source-topic
	SourcePartition int32  // dlq-source-partition
	SourceOffset    int64  // dlq-source-offset

	// Time is when the record was dead-lettered (dlq-time), or the
	// record's timestamp when that header is missing or malformed.
	Time time.Time
}

// FromRecord parses a record of a dead-letter topic. It never fails: a
// letter with missing headers is still worth showing.
func FromRecord(r *kgo.Record) Letter {
	l := Letter{
		Topic:    r.Topic,
		Position: Position{Partition: r.Partition, Offset: r.Offset},
		Key:      r.Key, Value: r.Value, Headers: r.Headers,
		Error:           lastHeader(r.Headers, HeaderError),
		Reason:          lastHeader(r.Headers, HeaderReason),
		Projection:      lastHeader(r.Headers, HeaderProjection),
		SourceTopic:     lastHeader(r.Headers, HeaderSourceTopic),
		SourcePartition: -1,
		SourceOffset:    -1,
		Time:            r.Timestamp,
	}
	if p, err := strconv.ParseInt(lastHeader(r.Headers, HeaderSourcePartition), 10, 32); err == nil {
		l.SourcePartition = int32(p)
	}
	if o, err := strconv.ParseInt(lastHeader(r.Headers, HeaderSourceOffset), 10, 64); err == nil {
		l.SourceOffset = o
	}
	if t, err := time.Parse(time.RFC3339Nano, lastHeader(r.Headers, HeaderTime)); err == nil {
		l.Time = t
	}
	return l
}

// lastHeader returns the value of the last header called key: the runtime
// appends its headers after the original ones, so the last is its own.
func lastHeader(hs []kgo.RecordHeader, key string) string {
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].Key == key {
			return string(hs[i].Value)
		}
	}
	return ""
}

// ID names the letter: "<dlq topic>/<position>".
func (l Letter) ID() string { return l.Topic + "/" + l.Position.String() }

// OriginalHeaders returns the headers of the record that failed: the
// stored ones without any dlq-* header.
func (l Letter) OriginalHeaders() []kgo.RecordHeader {
	out := make([]kgo.RecordHeader, 0, len(l.Headers))
	for _, h := range l.Headers {
		if !strings.HasPrefix(h.Key, HeaderPrefix) {
			out = append(out, h)
		}
	}
	return out
}

// ErrNoSource means a letter does not say which topic it came from, so it
// cannot be re-driven.
var ErrNoSource = errors.New("dead letter has no " + HeaderSourceTopic + " header")

// RedriveRecord returns the record that puts l back on its source topic:
// the original key, value and headers, plus HeaderRedrivenFrom and, when
// the letter says where its record first was, HeaderRedrivenOrigin. Its
// partition is left to the producer's partitioner, which puts a keyed
// record on its aggregate's partition as the publisher did.
func (l Letter) RedriveRecord() (*kgo.Record, error) {
	if l.SourceTopic == "" {
		return nil, fmt.Errorf("%s: %w", l.ID(), ErrNoSource)
	}
	hs := append(l.OriginalHeaders(), kgo.RecordHeader{Key: HeaderRedrivenFrom, Value: []byte(l.ID())})
	if o, ok := l.Origin(); ok {
		hs = append(hs, kgo.RecordHeader{Key: HeaderRedrivenOrigin, Value: fmt.Appendf(nil, "%d/%d", o.Partition, o.Offset)})
	}
	return &kgo.Record{Topic: l.SourceTopic, Key: l.Key, Value: l.Value, Headers: hs}, nil
}
