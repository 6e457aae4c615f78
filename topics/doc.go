// Package topics owns streamview's Kafka topics: their names (Events,
// Commands, CommandResults, State, DeadLetter), the declared topology
// (topics.yaml, adapted to an environment by an Overlay such as
// topics.cluster.yaml) and bringing a cluster in line with it: it creates missing topics, aligns
// their configs, refuses changes that would break per-aggregate order (the
// partition count of a keyed topic), and checks co-partitioning.
//
// It also owns the one bounded partition reader, ReadBounded: every reader
// of "a partition from offset A up to the end it had when I started" (the
// rebuild's log count, the dead-letter reader, the decider's state restore,
// the command results catch-up, the bench) uses it, so that the end, the
// transaction markers and aborted transactions are handled in one place.
//
// It imports nothing of streamview, so that every other package can take
// its topic names and reader from here. It does not produce records.
package topics
