// Package batch owns the one error that a projection or a sink returns when
// some events of a batch failed: Error names each failed event by its index
// in the batch and says whether the failure is permanent (no retry can store
// it: the runtime dead-letters the event) or transient (the runtime retries
// it with backoff).
//
// It is a leaf: it imports nothing of this module, so projections
// (processors/productview, processors/productsearch) and sinks return it
// without knowing the runtime, and the runtime (processors) reads it
// without knowing them. It owns neither retrying nor dead-lettering.
package batch
