// Package runtimetest runs a projection through the real projection runtime
// (processors) on Kafka, real brokers in the integration tier and kfake
// otherwise: what the stores' contract suites use to show that an event a
// store refuses for good ends in the dead-letter topic while the rest of its
// batch is applied.
//
// It owns no production code; only tests import it.
package runtimetest
