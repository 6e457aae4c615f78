package commandbus

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
)

// Header keys on command and result records, beside the shared ones in
// package producers (aggregate-id, correlation-id, content-type,
// traceparent). They let the decider name a command it cannot decode, and
// let Results track commands without decoding them.
const (
	HeaderCommandID   = "command-id"
	HeaderCommandType = "command-type"
	HeaderStatus      = "status"
	// HeaderKeyID (KeyID of the Idempotency-Key) and HeaderFingerprint
	// (Request.Fingerprint) bind a keyed command to the request that made
	// it; Results reads them from the commands topic. A result record
	// carries the HeaderFingerprint of the command its outcome was first
	// decided for (CommandResult.Fingerprint), also when it answers a
	// retry.
	HeaderKeyID       = "idempotency-key-id"
	HeaderFingerprint = "request-fingerprint"
)

// CommandHeaders returns the record headers of c.
func CommandHeaders(c schemas.Command) []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: HeaderCommandID, Value: []byte(c.ID)},
		{Key: HeaderCommandType, Value: []byte(c.Type())},
		{Key: producers.HeaderAggregateID, Value: []byte(c.ProductID)},
		{Key: producers.HeaderCorrelationID, Value: []byte(c.Metadata.CorrelationID)},
		{Key: producers.HeaderContentType, Value: []byte(producers.ContentTypeAvro)},
		{Key: producers.HeaderTraceparent, Value: []byte(producers.Traceparent(c.Metadata.CorrelationID, c.ID))},
	}
}

// ResultHeaders returns the record headers of r, the outcome of a command
// with the given correlation ID.
func ResultHeaders(r schemas.CommandResult, correlationID string) []kgo.RecordHeader {
	h := []kgo.RecordHeader{
		{Key: HeaderCommandID, Value: []byte(r.CommandID)},
		{Key: HeaderStatus, Value: []byte(r.Status)},
		{Key: producers.HeaderAggregateID, Value: []byte(r.ProductID)},
		{Key: producers.HeaderCorrelationID, Value: []byte(correlationID)},
		{Key: producers.HeaderContentType, Value: []byte(producers.ContentTypeAvro)},
		{Key: producers.HeaderTraceparent, Value: []byte(producers.Traceparent(correlationID, r.CommandID))},
	}
	if r.Fingerprint != "" {
		h = append(h, kgo.RecordHeader{Key: HeaderFingerprint, Value: []byte(r.Fingerprint)})
	}
	return h
}
