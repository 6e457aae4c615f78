// Package indextest is the contract of productsearch.Index: one suite that
// every search index implementation (Elasticsearch, the embedded index)
// passes, with the fixed test catalogue it runs on and the brute-force model
// it checks against. The model folds events with its own fold, not with
// productsearch.Fold, so that it can catch a bug there.
//
// An implementation's test calls Run with a constructor of empty indexes:
//
//	func TestContract(t *testing.T) {
//		indextest.Run(t, indextest.Backend{New: newTestIndex, Refresh: refreshTestIndex, Refuse: plantUnreadable})
//	}
//
// The suite covers the reference join too: a rename before a category's
// first product, product events with stale names, older renames
// redelivered, and random interleavings of product and reference events
// applied by concurrent lanes with redeliveries, which must end with every
// document, search and facet label showing the newest names (the Model
// joins them its own way).
//
// It owns no index: it only calls the port.
package indextest
