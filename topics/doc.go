// Package topics owns the declared Kafka topology of streamview (topics.yaml)
// and brings a cluster in line with it: it creates missing topics, aligns
// their configs, refuses changes that would break per-aggregate order (the
// partition count of a keyed topic), and checks co-partitioning.
//
// It does not produce or consume records.
package topics
