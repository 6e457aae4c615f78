// Package esindex is the product-search index on Elasticsearch 8: it
// implements productsearch.Index, and with Generations the generations port
// of processors/rebuild (in plain types: it imports neither rebuild nor the
// runtime).
//
// It owns the index mapping, one concrete index per projection generation
// (<IndexPrefix>-g<N>) behind a read alias, the versioned write path and the
// search query. A document Elasticsearch refuses is reported as a
// *batch.Error naming the event that makes it unacceptable (permanent). It
// does not own the consumer loop, offsets or retries of whole batches (the
// processors runtime), nor the HTTP answer (the api package).
//
// # Writes
//
// Writes need no server-side script, update- or delete-by-query: Apply reads
// the batch's documents with their _seq_no/_primary_term (_mget, realtime),
// folds the events in Go (productsearch.Fold) and writes back in one _bulk
// with if_seq_no/if_primary_term, or op_type=create for a new product,
// re-reading and re-folding the products that met a version conflict. An
// event not newer than the stored version is skipped and counted, which makes
// redelivery, concurrent consumers and replays over a live index harmless. A
// discontinued product keeps its document, flagged, so that its version
// survives; every read filters it out.
//
// Most _mget calls are saved by a write-through cache of the documents this
// Index wrote (bounded by Config.CacheDocs and Config.CacheBytes, oldest
// write forgotten first): the conditional write validates the guess,
// and a batch that the cache says holds only duplicates is still confirmed by
// a read, so an index emptied under a running process is rebuilt, not
// skipped.
//
// # Reads
//
// Search builds its query body itself: the text goes through multi_match
// (cross_fields, operator and) over name, brand, category, tags and
// description, which has no syntax a user could break; category, brand and
// price filters are a post_filter so that each facet aggregation can drop its
// own filter (disjunctive facets); sorts end on the keyword id; pages use
// from/size within 10,000 hits and cursors search_after beyond.
package esindex
