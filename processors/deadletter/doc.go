// Package deadletter owns the dead-letter record of a projection: its format
// (the original key, value and headers plus the dlq-* headers saying why and
// where from), the classification of why (Reason, over ErrInvalid,
// ErrRejected and the schemas errors), and the tools on the other side of
// the dead-letter topic.
//
// The projection runtime (package processors) builds each dead letter with
// Record and produces it; this package does not import the runtime. Letter
// parses a dead letter, Reader reads a dead-letter topic without a consumer
// group (it commits nothing, so reading never disturbs a projection), and
// Redrive publishes letters back to their source topics once the cause is
// fixed.
//
// It does not delete dead letters (Kafka cannot delete single records; they
// leave with the topic's retention) and it does not print anything: the
// `streamview dlq` command does.
package deadletter
