// Package eventgen makes valid, deterministic product event streams for
// tests and benchmarks: per product a ProductCreated followed by random
// updates, with gap-free versions, products interleaved as one partition's
// log interleaves them.
//
// It is the one generator of synthetic streams. Options say how many
// products and events, which kinds of update (Mix), how the events are
// spread (over random products, or as whole lives per product), and which
// vocabulary the payloads use: a plain one for spread streams (benchmarks,
// runtime tests) and a catalogue for lives, whose disjoint word lists,
// category renames, skewed brands and prices at the facet edges exercise a
// search index (the productsearch contract suite's fixed catalogue).
//
// It also owns the JSON Lines form of event fixture files (WriteJSONL,
// ReadJSONL), which keeps timestamps at full precision. It owns no fixture
// file and no reference fold; callers fold with what they test against.
package eventgen
