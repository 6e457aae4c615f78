// Package processors is the projection runtime. A Runner runs one
// generation of one projection as a member of its Kafka consumer group over
// the events topic: one lane per partition applies the partition's records
// in order and in batches (several partitions at once, the next batch
// decoded while one is applied), hands the events to the Projection, retries
// a failing sink with the one backoff policy (internal/backoff), dead-letters
// what can never be applied and commits offsets only after the sink has
// everything before them: in the background, one commit request for every
// lane's progress at a time, so that no lane waits for a commit.
//
// The names say what each part is: a Projection is the port the runtime
// drives (Apply a batch of events, idempotently), implemented by a
// projection package (productview.Writer, any productsearch.Index); a Runner
// is the runtime running one generation of it. A sink reports which events
// of a batch failed, and whether for good, with a *batch.Error (package
// batch): permanent ones are dead-lettered, the rest retried.
//
// It owns no store and no event semantics: the projections live in
// sub-packages and know nothing of Kafka; the dead-letter record's format
// belongs to package deadletter; topic names to package topics. Generations,
// replays and rebuilds are package rebuild's. Metrics and traces are not
// its either: Config.Hooks lets internal/telemetry time each sink call,
// trace it, and give the runner's Kafka client its kprom and kotel hooks;
// Stats (with each partition's high watermark, for the lag) is read at each
// scrape.
package processors
