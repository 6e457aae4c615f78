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
// It does no I/O: Elasticsearch lives in sinks/esindex, the embedded
// index in its own sink, and the consumer loop in the processors runtime.
// Package indextest is the contract suite every Index implementation passes.
package productsearch
