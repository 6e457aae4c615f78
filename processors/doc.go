// Package processors is the projection runtime: it runs one projection
// generation as a Kafka consumer group over the events topic, in partition
// order and in batches (one lane per partition, several partitions applied
// at once, the next batch decoded while one is applied), decodes records, dead-letters what can never be
// applied, hands the rest to the projection, retries a failing sink with
// exponential backoff and jitter, and commits offsets only after the sink has
// everything before them.
//
// Projections themselves live in sub-packages (productview, productsearch)
// and know nothing of Kafka. The dead-letter record's format belongs to
// package deadletter, which the runtime uses to build it.
package processors
