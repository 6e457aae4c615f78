package producers

import (
	"encoding/hex"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/schemas"
)

// Header keys on every event record. The IDs repeat what the Avro envelope
// holds so that tools can route, trace and dead-letter without decoding.
const (
	HeaderEventType     = "event-type"
	HeaderEventID       = "event-id"
	HeaderAggregateID   = "aggregate-id"
	HeaderCorrelationID = "correlation-id"
	HeaderCausationID   = "causation-id"
	HeaderContentType   = "content-type"
	HeaderTraceparent   = "traceparent"
)

// ContentTypeAvro names the record value's encoding.
const ContentTypeAvro = "application/avro"

// EventHeaders returns the record headers of e.
func EventHeaders(e schemas.Event) []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: HeaderEventType, Value: []byte(e.Type())},
		{Key: HeaderEventID, Value: []byte(e.ID)},
		{Key: HeaderAggregateID, Value: []byte(e.AggregateID)},
		{Key: HeaderCorrelationID, Value: []byte(e.Metadata.CorrelationID)},
		{Key: HeaderCausationID, Value: []byte(e.Metadata.CausationID)},
		{Key: HeaderContentType, Value: []byte(ContentTypeAvro)},
		{Key: HeaderTraceparent, Value: []byte(Traceparent(e.Metadata.CorrelationID, e.ID))},
	}
}

// Traceparent builds a W3C trace context header (version 00, sampled) whose
// trace ID derives from the correlation ID and whose span ID derives from the
// message ID, so every message of one request shares a trace without any
// tracing backend. Non-UUID IDs are hashed into shape.
func Traceparent(correlationID, messageID string) string {
	trace := hexID(correlationID, 32)
	span := hexID(messageID, 16)
	return "00-" + trace + "-" + span + "-01"
}

// hexID returns n lower-case hex digits taken from id's hex digits (a UUID
// has 32), or from an FNV-style mix of id when it has too few; never all
// zeros, which W3C forbids.
func hexID(id string, n int) string {
	digits := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9', r >= 'a' && r <= 'f':
			return r
		case r >= 'A' && r <= 'F':
			return r + ('a' - 'A')
		}
		return -1
	}, id)
	if len(digits) < n {
		var h uint64 = 14695981039346656037
		buf := make([]byte, 0, n/2)
		for len(buf) < n/2 {
			for i := 0; i < len(id); i++ {
				h ^= uint64(id[i])
				h *= 1099511628211
			}
			h ^= uint64(len(buf))
			buf = append(buf, byte(h), byte(h>>8), byte(h>>16), byte(h>>24))
		}
		digits = hex.EncodeToString(buf)
	}
	digits = digits[:n]
	if strings.Trim(digits, "0") == "" {
		digits = digits[:n-1] + "1"
	}
	return digits
}

// Header returns the value of the first header called key, or "".
func Header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
