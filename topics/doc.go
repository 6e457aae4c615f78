// Package topics owns streamview's Kafka topics: their names (Events,
// Commands, CommandResults, DeadLetter), the declared topology (topics.yaml)
// and bringing a cluster in line with it: it creates missing topics, aligns
// their configs, refuses changes that would break per-aggregate order (the
// partition count of a keyed topic), and checks co-partitioning.
//
// It imports nothing of streamview, so that every other package can take
// its topic names from here. It does not produce records.
package topics
