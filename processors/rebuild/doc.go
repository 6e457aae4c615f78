// Package rebuild replays and rebuilds projection generations: what
// `streamview replay`, `streamview rebuild` and `streamview projections` do,
// and what the projector of `streamview serve` calls to follow a rebuild.
//
// It owns the life of a generation (ARCHITECTURE.md, Rebuilds): building
// generation N+1 beside the live generation N, checking it, swapping the
// read pointers, handing the live stream over to the running projectors
// and retiring N. It does not own the consumer loop (the runtime in
// processors/), the events' meaning (productview, productsearch) nor the
// stores: it knows them through ports only. A store's generations implement
// Generations (sinks/redisview and sinks/esindex do, in plain types, without
// importing this package); a Target pairs them with the projection of a
// generation, which the wiring (cmd/streamview) supplies; the rebuild state
// is kept through StateStore (sinks/redisview keeps it in a Redis hash).
//
// # Replay
//
// Replay is in place and has downtime: the live generation's group must have
// no members (processors.ResetToStart names them otherwise); its offsets go
// back to each partition's start offset and its store is emptied, so the
// next projector start rebuilds it.
//
// # Where a rebuild runs
//
// The new generation is built in the process that runs `streamview rebuild`,
// not inside the running projector service. The build is a batch job with
// its own life: it is started, watched (progress on the terminal), killed
// and resumed by an operator, and its load is where the operator starts it.
// Running it in the CLI needs no protocol to start a build inside a service
// or to report back, cannot take the live projector down with it, and works
// when no service runs at all. The running projector keeps serving the live
// generation throughout and learns about the rebuild only at the very end,
// for the handover.
//
// # State
//
// A rebuild keeps its state in one Redis hash per projection,
// sv:<projection>:rebuild (Control, through redisview.RebuildState): the
// generation being built, the one it replaces, the phase (building,
// handover, swapped) and the progress. Redis holds it for both projections
// because it is the one store every streamview service and the CLI talk
// to, and the projectors must read it to follow a handover. Progress itself is the new generation's consumer
// group, streamview.<projection>.g<N+1>: a killed rebuild that is started
// again continues from the group's committed offsets; --abort deletes the
// group and the generation's documents (Redis keys, Elasticsearch index) and
// the state. A killed rebuild never touches the live generation: it has
// written only under the new generation's names. An abort from a process
// that does not run the rebuild asks the one that does to stop, through
// the state (State.AbortRequested, read once a second), waits for its group
// to empty, and then removes what it built; a rebuild that is retiring the
// old generation beats the state's Updated, so other processes leave it
// to finish.
//
// # Checks before the swap
//
// Caught up means the new group has read the log as it was when the build
// began (all of it, however short: the check counts what it read), and is
// then at most Config.CaughtUpLag records behind the end of the topic, or
// less than a second behind at the rate it consumes (the
// runtime commits past transaction markers, so the lag of an idle group
// reaches 0; under steady load it may never). Then the new generation
// is checked: its writes are paused (between batches, with the batch's
// offsets committed), its documents counted, and the log is read from the
// start up to exactly the committed offsets to count the products it must
// hold (for the search index, those not discontinued). The counts must be
// equal; the live generation's count is reported beside them.
//
// # Swap and handover without a gap or a step back
//
// Queries read the live pointers (the Redis live key, the Elasticsearch
// alias) on every request, so one SetLive and one alias swap move them. A
// reader must never see an older version after the swap than before it, so
// at the swap the new generation must hold every event the old one holds.
// While the old generation's projector runs, the old generation keeps
// moving, and checking offsets first and swapping after leaves a window in
// which it can get ahead. So the rebuild asks the projectors of the old
// generation to stop first (phase handover): a Follower (the projector role
// of serve) sees the request, stops its processor, which leaves the old
// group; once the old group is empty the old generation is frozen, the
// rebuild waits until the new group has committed the end offsets read after
// that, and swaps. The old generation is stale for that moment (well under
// a second when caught up), never wrong. With no projector running, the old
// generation is frozen anyway and the rebuild swaps at once.
//
// After the swap the Followers see the new live generation and start its
// processor, which joins the new group and continues from its committed
// offsets: no record is skipped, and records of a batch the rebuild
// abandoned when it stopped are applied again, which the stores tolerate.
// The rebuild stops its own processor once a projector has joined (or after
// Config.TakeoverTimeout, when none runs: the next projector start reads the
// live pointer and continues from the same offsets).
//
// A projector that does not follow rebuilds (an old binary) never leaves
// the old group; the rebuild then gives up the handover after
// Config.HandoverTimeout, names the members, and keeps its state: stop them
// and start the rebuild again. A Follower that was asked to hand over and
// sees no swap within its FreezeTimeout resumes the old generation. A
// rebuild moves its state's Updated every second of the handover; a
// Follower that finds a handover already asked for at its start obeys it
// only once it sees that, so the request a rebuild that crashed during its
// handover leaves behind stops no projector that starts later.
//
// # Retiring
//
// After the swap the old group is deleted (it is empty), and after
// Config.Grace (for queries that read the old pointer just before the swap)
// the old generation's documents are removed, unless Config.KeepOld.
package rebuild
