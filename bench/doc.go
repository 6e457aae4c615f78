// Package bench measures a projection's throughput against the raw limits it
// runs between, on the real servers and on one data set, in one run.
//
// A run makes a fresh events topic (6 partitions), pre-produces a
// deterministic product event stream into it (internal/eventgen), and then
// times, one after the other on the same records:
//
//   - raw consume: a bare franz-go client, no consumer group, reading every
//     partition from the start to its end offset without decoding;
//   - raw sink: the sink written directly, as many writes as there are
//     events, in the projection's batch size (for Redis: pipelined HSETs of
//     the same fields into as many hashes);
//   - projection: the real path, a processors runtime with the projection
//     on a fresh generation from offset 0 until it has caught up with the
//     end of the topic: what a rebuild does.
//
// The report sets the projection's events/s beside the smaller raw figure;
// the target is half of it or more. Everything a run creates (topics,
// consumer group, keys) is removed at its end.
//
// The harness is sink-agnostic: a Sink supplies the raw writes, the
// projection and the stored count. RedisProjection measures the product view
// on Redis; another store (the search index on Elasticsearch, with raw
// esutil.BulkIndexer writes) plugs in as one more Sink passed to Run.
//
// Soak is the other kind of run: a steady open-model load (commands, view
// reads with minVersion, searches) at a fixed rate through a running API for
// a long time, reporting latency per kind, errors by status, projection lag
// over time and the process's RSS and goroutines at the start, middle and
// end. It drives HTTP only; cmd/streamview starts the stack it soaks
// (`streamview bench soak`).
//
// It does not own the projections, the runtime or the stores; it only wires
// them as cmd/ does and times them.
package bench
