// Package eventlog reads one product's events back from the events topic,
// in version order, at the offsets the history index
// (processors/producthistory) recorded: GET /v1/products/{id}/events and
// ?asOfVersion= read through it. The cost of a read grows with the events
// asked for, never with the partition (topics.ReadAt fetches only the
// batches that hold them).
//
// It owns the lookup (index, then Kafka, then decode and check that each
// record is the event the index promised). It does not own the index
// (producthistory and its store) nor the codec (schemas).
package eventlog
