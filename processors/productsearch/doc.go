// Package productsearch is the product-search projection: the pure part that
// every search index shares.
//
// It owns the search document (Doc) and its fold over product events (Fold),
// the query model of GET /v1/products/search (Query, Result, Facets, the
// price facet edges, the labelling and order of term facet buckets
// (TermFacet) for an index that cannot do them itself, and the opaque
// cursor), and the port that a search index implements (Index), which
// reports refused documents as a *batch.Error, and a bad query as a
// ValidationError.
//
// It also owns the reference join (reference.go): a category's or brand's
// newest name (Ref, from CategoryRenamed and BrandRenamed) wins over the name
// a product's own events carried. Doc records the reference version each
// name shows (CategoryRefVersion, BrandRefVersion), so that Join is
// idempotent and order-free: a name is replaced only by a newer reference
// version, and a product event that sets a category or brand makes the name
// the product's own again (version 0) until the index joins it once more.
// SplitReferences separates a batch's reference events from its product
// events; Aggregates lists the aggregate types the projection takes.
//
// It does no I/O: Elasticsearch lives in sinks/esindex, the embedded
// index in its own sink, and the consumer loop in the processors runtime.
// Package indextest is the contract suite every Index implementation passes.
package productsearch
