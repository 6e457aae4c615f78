// Package bleveindex is the embedded product-search index of the all-in-one
// `streamview dev` mode: it implements productsearch.Index on
// github.com/blevesearch/bleve/v2, on disk (Open) or in memory (NewMemory),
// with the query semantics of the Elasticsearch index, and passes the same
// contract suite (productsearch/indextest).
//
// Each product is one bleve document whose ID is the product ID. Besides the
// fields it is searched, filtered, sorted and faceted by, it stores the whole
// productsearch.Doc as JSON: Apply reads it back to fold the batch's events
// (productsearch.Fold) and skips events not newer than its version, and
// Search builds hits from it. A discontinued product stays as a tombstone
// (its stored Doc and nothing searchable) so that its version survives and a
// redelivered older event cannot bring it back. A document bleve refuses,
// or a stored one that does not decode, is reported as a *batch.Error
// naming the event (permanent), after the rest of the batch is written.
//
// Reference names (productsearch.Ref) live in the index's internal
// key-value store, not as documents, so no search sees them. Apply holds
// one lock, so the join needs no re-check: a rename stores the name and
// rewrites every document of its category or brand in the same bleve
// batch, and product documents are joined with the stored names as they
// are folded.
//
// It does not own the consumer loop, offsets or retries (the processors
// runtime), generations and their swap (one Index per generation, opened by
// cmd/), nor the HTTP answer (the api package).
package bleveindex
