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
// partition from its start to the last stable offset, read_committed. It
// drops a partition's state when the partition is revoked or lost.
//
// A batch's changes go to an overlay over the partition states and are
// merged only when the transaction committed; an aborted batch leaves the
// states as they were, which is exactly what the log holds, and its
// commands come again. If ending a transaction fails outright (its outcome
// unknown), the decider closes the session, drops every state and starts a
// new session with the same transactional ID, which fences the old producer
// and settles its open transaction before the new one reads anything.
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
