// Package storetest is the contract test suite of versioned view stores
// (Run) and the Redis servers tests run against: an in-process miniredis
// always, and the real server named by REDIS_ADDR when set (ForEachBackend).
//
// It owns no production code; only tests import it.
package storetest
