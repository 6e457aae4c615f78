// Package redistest is the test scaffolding of the Redis view store: the
// servers its tests run against (an in-process miniredis always, the real
// server named by REDIS_ADDR and the real Redis Cluster named by
// REDIS_CLUSTER_ADDRS when set: ForEachBackend) and stores of a
// projection name of their own on them (NewStore).
//
// It owns no production code; only tests import it.
package redistest
