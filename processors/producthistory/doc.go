// Package producthistory is the product-history projection: an index that
// keeps, for each product, where each of its events lies in the events
// topic (partition and offset by version), so that a product's history is
// read from Kafka at those offsets instead of by scanning a partition.
//
// It owns the index entry (Entry), the Indexer that the projection runtime
// calls with each batch and its positions (processors.PositionedProjection),
// and the port its store implements (Store). It does not own reading the
// events back (processors/eventlog does that with the index), consuming
// Kafka (the runtime), nor Redis (sinks/redishistory implements Store). It
// imports only schemas and the batch error.
//
// The index is idempotent like every projection: an entry is keyed by the
// product and the version, the first position recorded for a version stays
// (a redelivered, replayed or re-driven record of the same event is a
// duplicate and is counted as one).
package producthistory
