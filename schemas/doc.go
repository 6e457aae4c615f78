// Package schemas owns the wire contract of streamview: the Avro schemas of
// every command, event and command result (embedded from the .avsc files in
// avro/, the one source of truth), their Go values, the codec that turns
// one into the other in both wire formats (Avro single-object encoding and
// Confluent schema-registry framing), and the upcasters that lift old
// event versions to the current shape.
//
// The Avro field names are the JSON names of the Go fields; NewCodec fails
// if a schema and its Go type disagree. Shared records (Metadata, Money)
// live in their own .avsc file and are inlined into each schema at first
// use when the codec is built. Single-object fingerprints follow the Avro
// specification (see Fingerprint), not goavro's own, so that other Avro
// implementations resolve them.
//
// It also owns the one reading of the product details an event carries,
// which every fold shares: ProductCreated sets them all, and
// ProductDetailsUpdated changes the non-nil ones (EachChange, ApplyTo).
//
// It does not own transport (see producers and processors) nor business
// rules (see producers/product); Validate methods here check only what a
// value must satisfy to be a well-formed message.
package schemas
