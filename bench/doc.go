// Package bench measures a projection's throughput against the raw limits it
// runs between, on the real servers and on one data set, in one run.
//
// A run makes a fresh events topic (6 partitions), pre-produces a
// deterministic product event stream into it (internal/eventgen; updates
// spread over the products by Config.Distribution: zipf, the default, or
// uniform), and then times, one after the other on the same records:
//
//   - raw consume: a bare franz-go client, no consumer group, reading every
//     partition from the start to its end offset without decoding;
//   - raw sink: the very writes the projection makes, without its version
//     guard, runtime or Kafka, at its concurrency: one lane per partition,
//     all at once, each lane's batches in order, per batch the writes of
//     the batch folded per product (Redis: redisview.Writes, pipelines of
//     the store's size at once; search: the folded documents, a bulk
//     request per batch of each lane, as the projection sends them), timed
//     from the first event to the last write; as a second figure, shown and
//     not compared with, Redis gives the same writes on one connection and
//     search through one esutil.BulkIndexer whose 5 MiB buffers fill
//     across batches (fewer, larger requests than a projection that
//     commits after each batch can send);
//   - projection: the real path, a processors runtime with the projection
//     on a fresh generation from offset 0 until it has caught up with the
//     end of the topic: what a rebuild does.
//
// The report sets the projection's events/s beside the smaller raw figure,
// with the sink's target (Redis 0.8, search 0.9), and the CPU each step
// cost this process and (Redis) the server. It states the data set, the
// lanes and the two sides of every ratio. Everything a run creates
// (topics, consumer group, keys) is removed at its end.
//
// The harness is sink-agnostic: a Sink supplies the raw writes, the
// projection and the stored count. RedisProjection measures the product view
// on Redis; SearchProjection the search index on Elasticsearch.
//
// API drives a running API with commands at fixed rates (vegeta, an open
// model), with and without Prefer: wait, and reports per rate the rate
// achieved, latency, errors by status and freshness: from a command's
// accepted answer until the view (?minVersion=) and a search show it
// (`streamview bench api`, which starts the stack). Beside each rate with
// Prefer: wait it measures the raw EOS round trip at the same rate: the
// bare Kafka loop the write path is built on (a produce, a
// consume-transform-produce transaction copying it to an events and a
// results topic, a read_committed reader of the results), with the
// producer, session and reader settings of commandbus and the decider and
// nothing of streamview, on topics of its own.
//
// Soak is the other kind of run: a steady open-model load (commands, view
// reads with minVersion, searches) at a fixed rate through a running API for
// a long time, reporting latency per kind, errors by status, projection lag
// over time and the process's RSS and goroutines at the start, middle and
// end. It drives HTTP only; cmd/streamview starts the stack it soaks
// (`streamview bench soak`).
//
// Rename measures reference data end to end: one category of many products
// through the view and search projections (processors runtimes, as serve
// wires them), then a CategoryRenamed, timed until every view read through
// productview.Reader and every search document shows the new name and a
// search for it finds them all, beside a read of every view and a bare bulk
// write of the renamed documents (`streamview bench rename`).
//
// It does not own the projections, the runtime or the stores; it only wires
// them as cmd/ does and times them.
package bench
