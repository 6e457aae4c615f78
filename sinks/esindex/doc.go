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
// Writes need no server-side script, update- or delete-by-query (this
// server has none): Apply reads
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
// skipped. A product the cache does not hold whose batch starts with its
// creation (version 1) is not read either: it is written with
// op_type=create, which conflicts, and so is read, if it exists after all.
//
// # Reference names
//
// A category's or brand's newest name (productsearch.Ref) is a document of
// the generation's own index, at _id "category:<id>" or "brand:<id>"
// (schemas.ReferenceKey, which no product UUID can be), holding only a
// "ref" object that the mapping stores but does not index. Same index
// rather than a sibling index per generation: the names are part of the
// generation, so a rebuild builds them from the log with the products, the
// alias swap, ResetIndex and DeleteIndex carry them along with no second
// index to keep in step, and _mget reads products and names from one place.
// Reads never see them: every read filters on discontinued:false, a field a
// name document does not have.
//
// A product write joins the folded documents with the names read (realtime
// _mget) per chunk. A rename stores the name (if_seq_no, skipped when a
// newer one is stored) and fans it out: this Elasticsearch has neither
// update_by_query nor scripts, so FanOut refreshes the index, pages with
// search_after through the documents of that category or brand whose
// reference version is older than the rename's (an indexed field), and
// rewrites each with if_seq_no; conflicts are left for the next pass, and
// a pass that finds none ends it. Redelivered renames fan out again, which
// finds nothing when the first fan-out ended.
//
// The race between lanes: a product joined with the old name before the
// rename was stored, and written after the fan-out searched, would keep
// the old name. So after its writes are acknowledged, Apply reads the names
// it joined again; any newer one makes it join those products again
// (conditionally). Either that read sees the rename, or the rename was
// stored after the product write, and the fan-out's refresh, which comes
// after storing, makes the product visible to its search.
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
