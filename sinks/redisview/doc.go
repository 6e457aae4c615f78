// Package redisview is the Redis view store: a generic store of versioned
// documents, one Redis hash per document, each change applied only when its
// version is newer than the version the hash holds (the rule of
// ARCHITECTURE.md, Idempotency and order): by a Lua script that checks and
// writes atomically (Apply), or, for the changes of one partition on a
// single server, by a writer that knows the partition's versions and sends
// the bare writes in MULTI/EXEC under the partition's fence (ApplyIn).
//
// Key layout, for projection P, generation N and document ID:
//
//	sv:P:gN:{ID}   hash: the document's fields plus "_v", its version
//	sv:P:gN:ref:{K} hash: a reference record (productview.IsReference: K
//	               is "category:<id>" or "brand:<id>"), versioned the
//	               same way; not counted by Count
//	sv:P:live      string: the generation that queries read
//	sv:P:live-epoch string: Redis's epoch (Epoch) when a generation was last
//	               made live; a miss under another epoch is ErrNoLive
//	sv:P:live-epoch:{T}
//	               strings: on a cluster, its copies, one beside each
//	               sentinel sv:epoch:{T}, in its slot (LiveEpochCopyKeys):
//	               a miss with one missing or of another epoch is
//	               ErrNoLive, whichever master was lost
//	sv:epoch, sv:epoch:{T}
//	               strings: the epoch and, on a cluster, its sentinels
//	               (Epoch)
//	sv:P:rebuild   hash: a rebuild's state (RebuildState; its fields are
//	               processors/rebuild's)
//	sv:P:gN:fence:<partition>
//	               string: the value of the last ApplyIn transaction of
//	               that partition (its writer's, unique); not counted
//	sv:P:gN:epoch  integer: bumped by each transaction of Apply's script
//	               calls on a single server; not counted
//
// Apply sends a batch in pipelined script calls; on a single server one call
// carries many documents (the script's start-up cost, not its writes, would
// otherwise bound the throughput), on a Redis Cluster the documents of one
// hash slot (a script's keys must share a slot), pipelined per node. The
// changes of one document in a batch (a hot product) are folded into one
// guarded write: the last value of each field and the counters' deltas
// summed, applied whole only when the hash is older than the first change;
// a redelivery that meets a version inside the span sends them again one by
// one. Writes gives the same writes without the guard, for benchmarks.
//
// ApplyIn (the product view's writer calls it with the partition the
// runtime names) skips the script on a single server: what Redis spends
// per document is then about what the bare writes cost, where the script
// costs it twice that (receiving the arguments in Lua, and the read). The
// versions it remembers are trusted only while the partition's fence and
// the generation's epoch hold what they held when it read them: every
// ApplyIn transaction sets the fence, every transaction of script calls
// bumps the epoch, Clear deletes both, and each ApplyIn transaction
// WATCHes both, so any other writer (a new owner after a rebalance, a
// replay, a script call) makes it read again, and a write decided from
// what another writer changed is never made.
//
// The ID is a hash tag, so every key of one document lands in one cluster
// slot; the live pointer and the rebuild state are single keys, read and
// written alone (no command or script spans them and a document), so they
// live in whichever slot their name hashes to. Count and Clear scan every
// master of a cluster. A generation owns everything under its prefix "sv:P:gN:", so a
// rebuild writes generation N+1 beside the live one and SetLive swaps the
// pointer in one step; Clear wipes one generation for a replay.
//
// It implements the port of processors/productview (productview.Store) in
// that package's vocabulary (productview.Change, Doc, Result and errors), and
// passes its contract suite (productview/storetest) on miniredis, on a
// real server and on a real Redis Cluster (redistest holds the test servers). A document whose key
// holds another type is reported as a *batch.Error naming its changes
// (permanent). Generations and RebuildState implement the ports of
// processors/rebuild in plain types, without importing it. It owns neither the
// meaning of the fields (productview maps events to Changes and hashes back
// to views) nor the consumption of Kafka (the projection runtime in
// processors/).
package redisview
