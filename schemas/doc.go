// Package schemas owns the wire contract of streamview: the Avro schemas of
// every command, event and command result (embedded from the .avsc files in
// this folder, the one source of truth), their Go values, the codec that
// turns one into the other in both wire formats (Avro single-object encoding
// and Confluent schema-registry framing), and the upcasters that lift old
// event versions to the current shape.
//
// It does not own transport (see producers and processors) nor business
// rules (see producers/product); Validate methods here check only what a
// value must satisfy to be a well-formed message.
package schemas
