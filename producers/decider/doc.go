// Package decider runs the product aggregate (producers/product) on the
// commands topic: it is the only writer of the events topic.
//
// A Decider is a member of a consumer group on the commands topic. For
// every partition it owns it holds the state of that partition's products,
// a fold of the co-partitioned events partition (same number: partition P
// of the events topic holds the events of exactly the products whose
// commands are on partition P of the commands topic). For each polled batch
// it opens a Kafka transaction, decides every command against that state,
// produces the events (versions state.Version+1, … gap-free) and one
// CommandResult per command, and commits the batch's consumer offsets in
// the same transaction. Consuming a command, its events, its result and the
// offset past it land together or not at all: exactly once.
//
// It does not own the rules (producers/product), the wire format
// (schemas) nor the API's view of results (producers/commandbus).
//
// Categories and brands (producers/reference) are aggregates of their own
// on the same topics: their commands (RenameCategory, RenameBrand) and
// events are keyed by schemas.ReferenceKey ("category:<id>"), so a
// partition's state holds the categories and brands whose keys hash to it
// beside its products (and the products' webhook subscriptions), decided in
// the same transactions, folded on restore and written to the same
// snapshots (a record kind of their own).
//
// # State
//
// A partition's state is built lazily, when the first commands of a newly
// assigned partition arrive: their arrival means the group has fetched the
// partition's committed offset, and franz-go fetches stable offsets only
// (KIP-447), so a previous owner's transaction that committed offsets has
// ended. The decider then lists the events partition's high watermark and
// last stable offset; while a transaction is still open on it (a previous
// owner's commit markers not yet written, or the open transaction of a
// crashed one) it waits, at most Config.StableWait, and then reads the
// partition from its start (or from its latest snapshot, see Snapshots) to
// the last stable offset, read_committed. It drops a partition's state when
// the partition is revoked or lost.
//
// A batch's changes go to an overlay over the partition states and are
// merged only when the transaction committed; an aborted batch leaves the
// states as they were, which is exactly what the log holds, and its
// commands come again. If ending a transaction fails outright (its outcome
// unknown), the decider closes the session, drops every state and starts a
// new session with the same transactional ID, which fences the old producer
// and settles its open transaction before the new one reads anything.
//
// # Snapshots
//
// Replaying a whole events partition at every start and rebalance grows
// with the log (hours at a billion events), so the decider also keeps a
// snapshot of each partition in the compacted state topic
// (Config.StateTopic, co-partitioned with the others), and a restore is the
// latest snapshot plus the events written after it: O(products + recent
// events), not O(events).
//
// A snapshot is written inside a batch's transaction, after the batch's
// events (their offsets are known once produced): one record per product,
// keyed by product ID, holding its state (and, for a product whose events
// did not decode, why it is refused), then a checkpoint record, keyed by a
// reserved key, holding the events offset the products reflect (the offset
// after the batch's last event on that partition). The transaction makes
// the snapshot atomic with the events: if it aborts, neither exists, and the
// previous checkpoint still describes what the log holds. A partition gets
// one when the batch brings its decided commands since the last one to
// Config.SnapshotEvery (10,000), or when products changed and
// Config.SnapshotInterval (1 min) has passed, and at its first batch after
// a restore that found no usable snapshot. That first one writes every
// product of the partition; later ones only the products changed since the
// previous one. Per product rather than one blob per partition: compaction
// then keeps exactly the latest record of each product and the latest
// checkpoint, a snapshot costs what changed, not the whole partition, and
// no record grows with the partition.
//
// A restore reads the state partition, read_committed, up to its last
// stable offset (after waiting for open transactions, as for the events):
// the latest record per key. Every product record of a committed snapshot
// precedes its checkpoint, so the latest checkpoint covers every product
// record read. It then folds the events partition from the checkpoint's
// offset to its last stable offset. read_committed makes "the events after
// the snapshot" exactly the committed ones: the offset right after a
// snapshot's events is its own transaction's commit marker, and records of
// aborted transactions after it are skipped, as in a full replay. A state
// partition without a checkpoint, with a record of another format (an older
// or newer decider's; every value starts with its format number) or one
// that does not decode, or a checkpoint past the end of the events (a
// recreated topic), is not used: the partition is replayed whole, and its
// next snapshot writes every product again. The outcomes a partition
// remembers come, as before, from the events read and from the results
// topic, which holds every outcome of the idempotency window.
//
// What a snapshot does not bound is memory: a partition's state holds
// every product of it (some 400 bytes per product; see the README).
// Config.SnapshotEvery < 0 turns snapshots off; the state topic is then not
// needed.
//
// # Outages
//
// Run does not give up on Kafka: a session that fails (a transaction whose
// end failed, a producer ID that cannot be loaded while the brokers are
// down) is followed by a new one after a pause from Config.Retry, for as
// long as it takes, and a cluster that cannot be reached at start is asked
// again until it answers. Health says meanwhile since when it has been
// retrying and why, for GET /readyz. Only missing or mismatched topics end
// Run: waiting would not fix them.
//
// # Idempotency
//
// A command ID is decided once. The decider remembers each partition's
// decided command IDs with their outcome for Config.IdempotencyWindow; a
// command whose ID it has decided already (the API gives a retried request
// with the same Idempotency-Key the same ID) yields no events and its
// original outcome again. A rebuild restores them: the accepted commands
// from the events' causationId, and every outcome (accepted, accepted
// without events, rejected) from the results partition with the same
// number, read_committed from the first record of the window (by
// timestamp) to its last stable offset, beside the events. The results
// topic's retention (a day) must therefore be at least the window. Results
// written before results were co-partitioned (hashed by product ID) may
// sit on another partition and are then not found.
//
// # Routing
//
// A command record's key must be its productId, and its events and its
// result go to the command's own partition number of the events and
// results topics, so a product's state, its outcomes and its commands
// always meet in one owner, whatever partitioner the commands' producer
// used. Run refuses topics that are not co-partitioned.
//
// # Metrics and traces
//
// Config.Hooks let internal/telemetry count transactions (commit latency,
// commands per transaction), give each session's client its kprom and
// kotel hooks, and start a decide span per command whose context the
// produced records carry in their traceparent headers. The decider imports
// neither Prometheus nor OpenTelemetry.
package decider
