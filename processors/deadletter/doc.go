// Package deadletter reads a projection's dead-letter topic and re-drives
// its records to the topics they came from.
//
// The projection runtime (package processors) writes dead letters: the
// original key, value and headers plus dlq-* headers saying why and where
// from. This package is the other side: Letter parses one, Reader reads a
// dead-letter topic without a consumer group (it commits nothing, so reading
// never disturbs a projection), and Redrive publishes letters back to their
// source topics once the cause is fixed.
//
// It does not delete dead letters (Kafka cannot delete single records; they
// leave with the topic's retention) and it does not print anything: the
// `streamview dlq` command does.
package deadletter
