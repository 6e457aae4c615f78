package deadletter

import (
	"errors"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/schemas"
)

// The headers the runtime adds to a dead letter, after the original ones.
// Their keys are a format that stored dead letters and tools rely on:
// never change them.
const (
	HeaderError           = "dlq-error"            // the full error
	HeaderReason          = "dlq-reason"           // one of the Reason* values
	HeaderSourceTopic     = "dlq-source-topic"     // where the record came from
	HeaderSourcePartition = "dlq-source-partition" // decimal
	HeaderSourceOffset    = "dlq-source-offset"    // decimal
	HeaderProjection      = "dlq-projection"       // the consumer group, e.g. streamview.product-view.g1
	HeaderTime            = "dlq-time"             // RFC 3339 with nanoseconds, UTC
)

// The values of HeaderReason, as Reason classifies errors.
const (
	ReasonUndecodable      = "undecodable"
	ReasonUnknownSchema    = "unknown-schema"
	ReasonUnknownEventType = "unknown-event-type"
	ReasonInvalid          = "invalid"
	ReasonRejected         = "rejected"
)

// Reasons lists every reason above.
func Reasons() []string {
	return []string{ReasonUndecodable, ReasonUnknownSchema, ReasonUnknownEventType, ReasonInvalid, ReasonRejected}
}

// ErrInvalid marks an event that decoded but fails validation; the runtime
// wraps validation errors with it (processors.ErrInvalid is this value).
var ErrInvalid = errors.New("invalid event")

// ErrRejected marks an event the projection's store rejected permanently;
// the runtime wraps the projection's permanent error with it.
var ErrRejected = errors.New("rejected by the store")

// Reason classifies why a record was dead-lettered, for HeaderReason: an
// unknown schema or event type, an invalid event (ErrInvalid), one the
// store rejected (ErrRejected), and otherwise undecodable.
func Reason(err error) string {
	switch {
	case errors.Is(err, schemas.ErrUnknownSchema):
		return ReasonUnknownSchema
	case errors.Is(err, schemas.ErrUnknownType):
		return ReasonUnknownEventType
	case errors.Is(err, ErrInvalid):
		return ReasonInvalid
	case errors.Is(err, ErrRejected):
		return ReasonRejected
	}
	return ReasonUndecodable
}

// Record returns the dead letter of src, which projection (its consumer
// group) could not apply because of err: src's key, value and headers,
// followed by the dlq-* headers saying why and where from, for topic (the
// dead-letter topic).
func Record(src *kgo.Record, err error, projection, topic string) *kgo.Record {
	headers := make([]kgo.RecordHeader, 0, len(src.Headers)+7)
	headers = append(headers, src.Headers...)
	headers = append(headers,
		kgo.RecordHeader{Key: HeaderError, Value: []byte(err.Error())},
		kgo.RecordHeader{Key: HeaderReason, Value: []byte(Reason(err))},
		kgo.RecordHeader{Key: HeaderSourceTopic, Value: []byte(src.Topic)},
		kgo.RecordHeader{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(int(src.Partition)))},
		kgo.RecordHeader{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(src.Offset, 10))},
		kgo.RecordHeader{Key: HeaderProjection, Value: []byte(projection)},
		kgo.RecordHeader{Key: HeaderTime, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
	)
	return &kgo.Record{Topic: topic, Key: src.Key, Value: src.Value, Headers: headers}
}
