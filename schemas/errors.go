package schemas

import (
	"errors"
	"fmt"
)

// Errors of the codec, for errors.Is. ErrUnknownSchema, ErrMalformed and
// ErrUnknownType are permanent: the same bytes will fail the same way again,
// so a consumer should dead-letter the record. Any other decode error (a
// registry that cannot be reached) is worth a retry.
var (
	// ErrUnknownSchema: the writer schema's fingerprint or registry ID
	// names no schema this codec knows or can fetch. The error is an
	// *UnknownSchemaError carrying the fingerprint or ID.
	ErrUnknownSchema = errors.New("schemas: unknown writer schema")

	// ErrMalformed: the bytes are too short, have no known framing, or do
	// not decode with their writer schema.
	ErrMalformed = errors.New("schemas: malformed message")

	// ErrUnknownType: the value is not one of the known events, commands or
	// results, or not of the kind asked for (a command given to
	// DecodeEvent).
	ErrUnknownType = errors.New("schemas: unknown message type")

	// ErrNoRegistry: Confluent framing, or Register, without a registry
	// client (see WithRegistry).
	ErrNoRegistry = errors.New("schemas: no schema registry configured")

	// ErrNotRegistered: a codec with a registry encodes before Register
	// has given it the schema IDs to write.
	ErrNotRegistered = errors.New("schemas: schemas not registered; call Codec.Register first")
)

// UnknownSchemaError says which writer schema could not be resolved.
type UnknownSchemaError struct {
	// Fingerprint is the CRC-64-AVRO fingerprint from a single-object
	// encoding header; 0 when ID is set.
	Fingerprint uint64
	// ID is the schema ID from Confluent framing; 0 when Fingerprint is
	// set.
	ID int
	// Err is the underlying cause, if any (the registry's "not found").
	Err error
}

func (e *UnknownSchemaError) Error() string {
	var s string
	if e.ID != 0 {
		s = fmt.Sprintf("%v: schema ID %d", ErrUnknownSchema, e.ID)
	} else {
		s = fmt.Sprintf("%v: fingerprint %#016x", ErrUnknownSchema, e.Fingerprint)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Is makes errors.Is(err, ErrUnknownSchema) hold.
func (e *UnknownSchemaError) Is(target error) bool { return target == ErrUnknownSchema }

func (e *UnknownSchemaError) Unwrap() error { return e.Err }

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}
