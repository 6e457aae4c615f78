package decider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/schemas"
)

// Codec is the wire format the decider reads and writes; *schemas.Codec
// is one.
type Codec interface {
	DecodeCommand([]byte) (schemas.Command, error)
	EncodeEvent(schemas.Event) ([]byte, error)
	DecodeEvent([]byte) (schemas.Event, error)
	EncodeResult(schemas.CommandResult) ([]byte, error)
	// DecodeResult reads the results topic back when a partition's state
	// is rebuilt, to remember rejected and no-op outcomes too.
	DecodeResult([]byte) (schemas.CommandResult, error)
}

// Decider runs the product aggregate on the commands topic; see the
// package documentation.
type Decider struct {
	cfg    Config
	codec  Codec
	log    *slog.Logger
	reg    *registry
	stats  counters
	health health

	// crash, when set (tests only), is asked after a batch's records are
	// produced and before its transaction ends; true makes the session
	// vanish there, as a killed process would.
	crash func() bool
}

// New returns a decider for cfg.
func New(cfg Config, codec Codec) (*Decider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if codec == nil {
		return nil, errors.New("decider: nil codec")
	}
	cfg = cfg.withDefaults()
	return &Decider{cfg: cfg, codec: codec, log: cfg.Logger, reg: newRegistry()}, nil
}

// Config is the decider's configuration with defaults filled in.
func (d *Decider) Config() Config { return d.cfg }

// ErrNotCopartitioned is returned by Run when the commands, events,
// results and state topics have different partition counts.
var ErrNotCopartitioned = errors.New("decider: commands, events, results and state topics are not co-partitioned")

// errCrashed ends a session that the crash hook killed.
var errCrashed = errors.New("decider: crashed (test hook)")

// Run decides commands until ctx ends, then finishes the batch in hand,
// leaves the group and returns nil. It returns an error only when the
// topics are missing or not co-partitioned: a Kafka it cannot reach, or a
// session that fails, is retried for as long as it takes, with the backoff
// of Config.Retry, and reported by Health meanwhile.
func (d *Decider) Run(ctx context.Context) error {
	if err := d.checkTopics(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	retry := d.cfg.Retry.Start()
	for {
		progressed, err := d.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errCrashed) {
			return err
		}
		if progressed {
			retry.Reset()
		}
		d.health.fail(err)
		wait := retry.Next()
		d.log.Error("decider session failed; starting a new one", "err", err, "in", wait, "attempt", retry.Attempt())
		if !backoff.Sleep(ctx, wait) {
			return nil
		}
	}
}

// checkTopics makes sure the topics exist and that commands and events are
// co-partitioned. A topic just created may take a moment to show up
// everywhere, so missing topics are asked for again for a while; a cluster
// that does not answer at all is asked again until it does.
func (d *Decider) checkTopics(ctx context.Context) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(d.cfg.Brokers...)}, d.cfg.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("decider: client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(topicWait)
	retry := d.cfg.Retry.Start()
	for {
		err := d.topicsReady(ctx, adm)
		var unreachable *listError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &unreachable):
			d.health.fail(err)
			deadline = time.Now().Add(topicWait) // the topics have not been seen missing yet
			wait := retry.Next()
			d.log.Error("decider cannot list its topics; trying again", "err", err, "in", wait, "attempt", retry.Attempt())
			if !backoff.Sleep(ctx, wait) {
				return ctx.Err()
			}
			continue
		case errors.Is(err, ErrNotCopartitioned) || time.Now().After(deadline):
			return err
		}
		if !backoff.Sleep(ctx, 250*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// listError is a failure to list the topics at all: Kafka unreachable.
type listError struct{ err error }

func (e *listError) Error() string { return "decider: list topics: " + e.err.Error() }
func (e *listError) Unwrap() error { return e.err }

// topicWait bounds how long Run waits for its topics to show up.
const topicWait = 15 * time.Second

func (d *Decider) topicsReady(ctx context.Context, adm *kadm.Client) error {
	topics := []string{d.cfg.CommandsTopic, d.cfg.EventsTopic, d.cfg.ResultsTopic}
	if d.cfg.snapshots() {
		topics = append(topics, d.cfg.StateTopic)
	}
	tds, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return &listError{err}
	}
	var errs []error
	for _, t := range topics {
		td, ok := tds[t]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("decider: topic %s does not exist (run `streamview topics apply`)", t))
		case td.Err != nil:
			errs = append(errs, fmt.Errorf("decider: topic %s: %w (run `streamview topics apply`)", t, td.Err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	c := len(tds[d.cfg.CommandsTopic].Partitions)
	for _, t := range topics[1:] {
		if n := len(tds[t].Partitions); n != c {
			return fmt.Errorf("%w: %s has %d partitions, %s has %d", ErrNotCopartitioned, d.cfg.CommandsTopic, c, t, n)
		}
	}
	return nil
}

// session runs one group membership with one transactional producer. It
// reports whether any transaction committed.
func (d *Decider) session(ctx context.Context) (progressed bool, err error) {
	d.stats.sessions.Add(1)
	drop := func(_ context.Context, _ *kgo.Client, m map[string][]int32) { d.reg.drop(m[d.cfg.CommandsTopic]) }
	opts := []kgo.Opt{
		kgo.SeedBrokers(d.cfg.Brokers...),
		kgo.ConsumerGroup(d.cfg.Group),
		kgo.ConsumeTopics(d.cfg.CommandsTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.TransactionalID(d.cfg.TransactionalID),
		kgo.TransactionTimeout(d.cfg.TransactionTimeout),
		kgo.RecordPartitioner(partitioner{events: d.cfg.EventsTopic, results: d.cfg.ResultsTopic, state: d.cfg.StateTopic}),
		kgo.ProducerLinger(0),
		kgo.MetadataMinAge(MetadataMinAge),
		// A transaction carries one poll's commands' events and results:
		// small batches that compression hardly shrinks, and that the
		// broker would decompress to validate, on every command's path (as
		// the command sender's). The trade: a backlog's transactions (up to
		// MaxBatch commands) and a full snapshot's state records would
		// shrink, and the events topic is kept for ever; a team short of
		// disk can pass kgo.ProducerBatchCompression in ClientOpts.
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		// Commands are read with read_committed (a transactional
		// session); an empty fetch is not always answered when a
		// command lands, so the bound is a command's worst wait before
		// its batch starts (see commandbus.ResultsFetchMaxWait).
		kgo.FetchMaxWait(25 * time.Millisecond),
		// A newly assigned partition starts without state; a revoked or
		// lost one forgets it (another member may change it now).
		kgo.OnPartitionsAssigned(drop),
		kgo.OnPartitionsRevoked(drop),
		kgo.OnPartitionsLost(drop),
	}
	if d.cfg.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(d.cfg.SessionTimeout), kgo.HeartbeatInterval(d.cfg.SessionTimeout/4))
	}
	if d.cfg.RebalanceTimeout > 0 {
		opts = append(opts, kgo.RebalanceTimeout(d.cfg.RebalanceTimeout))
	}
	opts = append(opts, d.cfg.ClientOpts...)
	if d.cfg.Hooks.Session != nil {
		opts = append(opts, d.cfg.Hooks.Session()...)
	}
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return false, fmt.Errorf("decider: group session: %w", err)
	}
	crashed := false
	defer func() {
		d.reg.dropAll()
		if crashed {
			go sess.Close() // its connections are gone; let it give up on its own
			return
		}
		sess.Close()
	}()

	// Loading the producer ID with our transactional ID fences an earlier
	// producer with the same ID and ends its open transaction, so nothing
	// of it can commit after we have read the events.
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	_, _, err = sess.Client().ProducerID(pctx)
	cancel()
	if err != nil {
		return false, fmt.Errorf("decider: init producer %s: %w", d.cfg.TransactionalID, err)
	}
	d.log.Info("decider session started", "group", d.cfg.Group, logkey.Topic, d.cfg.CommandsTopic, "transactional_id", d.cfg.TransactionalID)
	d.health.ok()

	cl := sess.Client()
	adm := kadm.NewClient(cl)
	retry := d.cfg.Retry.Start()
	for {
		// The commands topic was paused while the last batch was decided
		// (see below): fetch now, all that landed meanwhile in one go.
		cl.ResumeFetchTopics(d.cfg.CommandsTopic)
		fetches := sess.PollRecords(ctx, d.cfg.MaxBatch)
		if ctx.Err() != nil {
			return progressed, nil
		}
		if fetches.IsClientClosed() {
			return progressed, errors.New("decider: client closed")
		}
		fetches.EachError(func(t string, p int32, err error) {
			d.log.Warn("fetch error", logkey.Topic, t, logkey.Partition, p, "err", err)
		})
		recs := fetches.Records()
		if len(recs) == 0 {
			continue
		}
		// No fetch while the batch is decided. franz-go sends the next
		// fetch soon after a poll takes the last one and holds what it
		// returns until the next poll, so the commands that land after
		// that early answer wait for this batch and all of the next.
		// Paused before that fetch is built (usually: it is built on
		// another goroutine), the next fetch goes out when the batch is
		// done and takes all that landed meanwhile. bench api measured it:
		// from a command's send to the decider's poll, p50 10-29 ms
		// before, 5-15 ms after, at 250-2,000 commands/s. A fetch that
		// went out before the pause is only slower, as before: what it
		// holds is read at the next poll, or fetched again.
		cl.PauseFetchTopics(d.cfg.CommandsTopic)
		committed, err := d.batch(ctx, sess, adm, recs, retry)
		if errors.Is(err, errCrashed) {
			crashed = true
			return progressed, err
		}
		if err != nil {
			return progressed, err
		}
		if committed {
			retry.Reset()
		}
		progressed = progressed || committed
	}
}

// batchTimeout bounds finishing a batch once it is under way.
const batchTimeout = time.Minute

// batch decides recs in one transaction. An error means the session must
// end: the transaction's outcome is unknown or the producer is fenced. A
// batch that cannot be decided now is aborted, to come again after a pause
// from retry.
func (d *Decider) batch(ctx context.Context, sess *kgo.GroupTransactSession, adm *kadm.Client, recs []*kgo.Record, retry *backoff.Sequence) (bool, error) {
	// A shutdown lets the transaction in hand finish, for as long as the
	// broker would keep it open anyway.
	work, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	defer cancel()
	defer context.AfterFunc(ctx, func() { time.AfterFunc(d.cfg.TransactionTimeout, cancel) })()

	began := time.Now()
	overlays, err := d.states(ctx, adm, recs)
	if err != nil {
		// Without state nothing can be decided: rewind to the committed
		// offsets (an empty aborted transaction does that) and retry.
		if ctx.Err() == nil {
			d.log.Warn("cannot build partition state; retrying the batch", logkey.Topic, d.cfg.EventsTopic, "err", err)
		}
		if err := sess.Begin(); err != nil {
			return false, fmt.Errorf("decider: begin transaction: %w", err)
		}
		if _, err := d.end(work, sess, kgo.TryAbort, len(recs)); err != nil {
			return false, fmt.Errorf("decider: abort transaction: %w", err)
		}
		d.stats.aborted.Add(1)
		backoff.Sleep(ctx, retry.Next())
		return false, nil
	}

	if err := sess.Begin(); err != nil {
		return false, fmt.Errorf("decider: begin transaction: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	var (
		out  []*kgo.Record
		t    tally
		ends []func()
	)
	defer func() {
		for _, end := range ends {
			end()
		}
	}()
	// Each command's records are produced as soon as it is decided, so
	// the first produce requests are on the wire while the rest of the
	// batch is decided: on a loaded machine deciding 1,000 commands takes
	// a while (mostly waiting for a core), and the produce round trip
	// overlaps it. All of it is in the one transaction: nothing becomes
	// visible before the commit, and an abort drops it all.
	promise := kgo.AbortingFirstErrPromise(sess.Client())
	for _, r := range recs {
		rs, err := d.decide(r, overlays[r.Partition], now, &t)
		if err == nil && d.cfg.Hooks.Command != nil {
			ctx, end := d.cfg.Hooks.Command(work, r)
			ends = append(ends, end)
			for _, o := range rs {
				o.Context = ctx
			}
		}
		if err != nil {
			// A decode that may work later (a schema registry that does
			// not answer): abort, and the batch comes again.
			d.log.Warn("cannot decode command now; retrying the batch", logkey.Topic, r.Topic, logkey.Partition, r.Partition, logkey.Offset, r.Offset,
				logkey.AggregateID, string(r.Key), "err", err)
			// The abort fails the records still buffered and waits for
			// those in flight, so the promises are all answered after.
			if _, err := d.end(work, sess, kgo.TryAbort, len(recs)); err != nil {
				return false, fmt.Errorf("decider: abort transaction: %w", err)
			}
			d.stats.aborted.Add(1)
			backoff.Sleep(ctx, retry.Next())
			return false, nil
		}
		for _, o := range rs {
			sess.Produce(work, o, promise.Promise())
		}
		out = append(out, rs...)
	}

	decided := time.Now()
	perr := promise.Err()
	var snaps []*kgo.Record
	if perr == nil && d.cfg.snapshots() {
		// The snapshot records the events offset the batch reached, so
		// it is written once the events have theirs.
		snaps, perr = d.snapshot(work, sess, overlays, out, now)
	}
	if perr != nil {
		d.log.Warn("produce failed; aborting the batch", "err", perr, "commands", len(recs))
	}
	if d.crash != nil && d.crash() {
		return false, errCrashed
	}
	produced := time.Now()
	// Where a batch's time goes, for a person reading the log at debug:
	// state_decide is this process's CPU (and its wait for a core) with
	// the first produce requests under way, produce the wait for the
	// rest of the events and results, end the broker round trips of the
	// offsets, the heartbeat and the commit.
	defer func() {
		d.log.Debug("decider batch", "commands", len(recs), "state_decide", decided.Sub(began),
			"produce", produced.Sub(decided), "end", time.Since(produced))
	}()
	committed, err := d.end(work, sess, kgo.TransactionEndTry(perr == nil), len(recs))
	ended := time.Now()
	if err != nil {
		d.stats.aborted.Add(1)
		return false, fmt.Errorf("decider: end transaction of %d commands: %w", len(recs), err)
	}
	if !committed {
		// Nothing of the batch landed; the session has rewound to the
		// committed offsets and the states never saw the batch.
		d.stats.aborted.Add(1)
		d.log.Info("transaction aborted; its commands come again", "commands", len(recs))
		return false, nil
	}
	if d.cfg.Outcomes != nil && len(t.results) > 0 {
		d.cfg.Outcomes(t.results)
	}
	oldest := now.Add(-d.cfg.IdempotencyWindow).UnixMilli()
	for _, o := range overlays {
		o.commit(oldest, d.cfg.MaxDecided, d.cfg.MaxDecidedBytes, d.cfg.snapshots())
	}
	if len(snaps) > 0 {
		d.stats.snapshots.Add(1)
		d.stats.snapshotRecords.Add(int64(len(snaps)))
	}
	if d.cfg.Hooks.Batch != nil {
		issued := make([]time.Time, len(recs))
		for i, r := range recs {
			issued[i] = r.Timestamp
		}
		d.cfg.Hooks.Batch(BatchTiming{Began: began, Issued: issued, Decide: decided.Sub(began), Produce: produced.Sub(decided), End: ended.Sub(produced)})
	}
	d.stats.committed.Add(1)
	d.stats.add(t)
	return true, nil
}

// end ends the session's transaction, telling Hooks.Transaction.
func (d *Decider) end(ctx context.Context, sess *kgo.GroupTransactSession, try kgo.TransactionEndTry, commands int) (bool, error) {
	began := time.Now()
	committed, err := sess.End(ctx, try)
	if d.cfg.Hooks.Transaction != nil {
		d.cfg.Hooks.Transaction(commands, time.Since(began), committed && err == nil)
	}
	return committed, err
}

// states returns an overlay over the state of each partition in recs,
// rebuilding the states the registry lacks.
func (d *Decider) states(ctx context.Context, adm *kadm.Client, recs []*kgo.Record) (map[int32]*overlay, error) {
	var (
		missing []int32
		gens    = map[int32]uint64{}
		out     = map[int32]*overlay{}
	)
	for _, r := range recs {
		if _, seen := gens[r.Partition]; seen {
			continue
		}
		st, gen := d.reg.get(r.Partition)
		gens[r.Partition] = gen
		if st == nil {
			missing = append(missing, r.Partition)
			continue
		}
		out[r.Partition] = newOverlay(st)
	}
	if len(missing) == 0 {
		return out, nil
	}
	slices.Sort(missing)
	built, err := d.rebuild(ctx, adm, missing)
	if err != nil {
		return nil, err
	}
	for p, st := range built {
		if !d.reg.install(p, st, gens[p]) {
			return nil, fmt.Errorf("partition %d was revoked while its state was rebuilt", p)
		}
		out[p] = newOverlay(st)
	}
	return out, nil
}

// partitioner puts events and results on the partition number of their
// command (set on the record), so that a rebuild finds a partition's
// outcomes on its own results partition, and keys everything else by hash.
type partitioner struct{ events, results, state string }

func (p partitioner) ForTopic(t string) kgo.TopicPartitioner {
	if t == p.events || t == p.results || t == p.state {
		return kgo.ManualPartitioner().ForTopic(t)
	}
	return kgo.StickyKeyPartitioner(nil).ForTopic(t)
}
