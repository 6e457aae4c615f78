package processors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/schemas"
)

// Projection is what the runtime drives: Apply must store every event of
// batch (events of one aggregate come in version order) and be idempotent,
// because after a crash or a failed attempt the same events come again.
// Apply is called concurrently for batches of different partitions (which
// hold different aggregates), never for two batches of one partition.
// A *batch.Error names the events that failed: the runtime dead-letters
// those it names as permanent and applies the rest again. Any other error,
// and a batch error with transient failures, is retried with backoff.
type Projection interface {
	Apply(ctx context.Context, batch []schemas.Event) error
}

// AggregateProjection is a Projection that names the aggregate types it
// takes, such as the product view joining categories and brands. New uses
// them when Config.Aggregates is empty, so that every runner of the
// projection (serve, replay, rebuild, benchmarks) takes the same events.
type AggregateProjection interface {
	Projection
	Aggregates() []string
}

// Decoder turns a record value into an event; *schemas.Codec is one.
type Decoder interface {
	DecodeEvent([]byte) (schemas.Event, error)
}

// Runner runs one generation of one projection: a consumer group member
// that applies the events topic to a Projection.
type Runner struct {
	cfg   Config
	dec   Decoder
	proj  Projection
	opts  []kgo.Opt
	stats stats
	// from is the runner whose counters this one's continue (Continue).
	from atomic.Pointer[Runner]
}

// New returns a runner for cfg. opts configure the Kafka client (at least
// kgo.SeedBrokers); the group, topic, isolation and commit options are set
// by the runner.
func New(cfg Config, dec Decoder, proj Projection, opts ...kgo.Opt) (*Runner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if ap, ok := proj.(AggregateProjection); ok && len(cfg.Aggregates) == 0 {
		cfg.Aggregates = ap.Aggregates()
	}
	return &Runner{cfg: cfg, dec: dec, proj: proj, opts: opts, stats: stats{offsets: map[int32]int64{}, started: time.Now()}}, nil
}

// Config is the runner's configuration with defaults filled in.
func (p *Runner) Config() Config { return p.cfg }

// Run consumes until ctx is done or a fatal error. A batch in flight when ctx
// ends is abandoned uncommitted; its records come again to the next owner.
//
// Each assigned partition has a lane, a goroutine that applies the
// partition's records in order, in batches; the poll loop only hands
// records to the lanes, so polling, decoding and applying of different
// partitions overlap (partitions hold disjoint aggregates), and a lane's
// next records are fetched while it applies. Up to Concurrency lanes apply
// at once. A lane hands what it has applied to one committer, which
// commits every lane's progress in one request at a time in the
// background: no lane waits for a commit round trip. The poll loop never
// waits for a lane (a lane that falls behind has its partition paused), so
// it always lets a rebalance through. When partitions are revoked, the
// rebalance waits until their lanes have applied what they were given, for
// up to DrainTimeout, and commits it; lost partitions' lanes are abandoned,
// their uncommitted progress dropped.
func (p *Runner) Run(ctx context.Context) error {
	log := p.cfg.Logger.With(logkey.Projection, p.cfg.Name, logkey.Generation, p.cfg.Generation)
	ls := &lanes{p: p, log: log, ctx: ctx, slots: make(chan struct{}, p.cfg.Concurrency), byTP: map[topicPartition]*lane{}}
	opts := append([]kgo.Opt{
		kgo.ConsumerGroup(p.cfg.Group()),
		kgo.ConsumeTopics(p.cfg.Topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Transaction markers come through so that commits move past them:
		// otherwise a caught-up group shows a lag of 1 per partition after
		// every transaction, and "caught up" could never be told.
		kgo.KeepControlRecords(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// Records handed to the lanes before a rebalance are in their
		// queues when the revoke callback drains them.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, revoked map[string][]int32) { ls.stop(revoked, true, true) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) { ls.stop(lost, false, false) }),
		// Stats' offsets start from the group's, read at each assignment:
		// after a reset (a refill runs this runner again from the log's
		// start) they would otherwise keep the old ones, and the lag 0.
		kgo.AdjustFetchOffsetsFn(func(_ context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
			p.stats.assigned(offs[p.cfg.Topic])
			return offs, nil
		}),
		// The events are transactional and read with read_committed,
		// whose empty fetches are not always answered when a commit's
		// markers land: the bound is then part of a view's freshness.
		kgo.FetchMaxWait(50 * time.Millisecond),
	}, p.opts...)
	if d := p.cfg.SessionTimeout; d > 0 {
		opts = append(opts, kgo.SessionTimeout(d), kgo.HeartbeatInterval(d/4))
	}
	if p.cfg.Hooks.Client != nil {
		opts = append(opts, p.cfg.Hooks.Client()...)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("projection %s: kafka client: %w", p.cfg.Group(), err)
	}
	ls.cl = cl
	ls.commits = newCommits(cl, &p.stats, log, p.cfg.retryPolicy(), p.cfg.CommitInterval)
	cctx, stopCommits := context.WithCancel(ctx)
	committing := make(chan struct{})
	go func() {
		defer close(committing)
		ls.commits.run(cctx)
	}()
	defer func() {
		ls.stopAll() // before the close: its revoke must not wait for lanes
		stopCommits()
		<-committing
		cl.CloseAllowingRebalance()
	}()
	log.Info("projection started", "group", p.cfg.Group(), logkey.Topic, p.cfg.Topic)

	for {
		fetches := cl.PollRecords(ctx, p.cfg.MaxBatch*p.cfg.BatchesPerPoll)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			log.Info("projection stopped")
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			log.Warn("fetch error", logkey.Topic, topic, logkey.Partition, partition, "err", err)
		})
		fetches.EachPartition(func(ftp kgo.FetchTopicPartition) {
			if ftp.Err == nil {
				p.stats.highWatermark(ftp.Partition, ftp.HighWatermark)
			}
			if len(ftp.Records) > 0 {
				ls.give(topicPartition{ftp.Topic, ftp.Partition}, ftp.Records)
			}
		})
		cl.AllowRebalance()
	}
}

// commitTimeout bounds the commit of records the sink has stored.
const commitTimeout = 10 * time.Second

type topicPartition struct {
	topic     string
	partition int32
}

// lanes are the lanes of one Run.
type lanes struct {
	p     *Runner
	log   *slog.Logger
	ctx   context.Context // Run's
	cl    *kgo.Client
	slots chan struct{} // one per lane applying
	// commits commits what the lanes applied, in the background.
	commits *commits

	mu   sync.Mutex
	byTP map[topicPartition]*lane
}

// lane applies one partition's records, in order, from its queue. The
// poll loop never waits for a lane: it queues and goes on (so that it can
// always allow a rebalance), and a lane with maxQueued polls waiting has its
// partition's fetching paused until it has caught up. kgo keeps a paused
// partition's fetch position, so nothing is skipped. closing tells the lane
// to apply what is queued and end.
type lane struct {
	tp      topicPartition
	mu      sync.Mutex
	queue   [][]*kgo.Record
	paused  bool
	wake    chan struct{} // capacity 1: something was queued
	closing chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
	began   time.Time // when its last batch began; the lane's goroutine's
}

// maxQueued is how many polls' records a lane holds before its partition
// is paused; resumeQueued is how few it must hold again for the partition
// to be resumed: before the lane runs dry, so that the next fetch is on its
// way while the lane applies what it holds (a hot partition's lane then
// never waits for Kafka between polls). A poll brings at most the fetch's
// bytes per partition (1 MiB by default), so a lane holds a few MiB.
const (
	maxQueued    = 4
	resumeQueued = 1
)

// give queues recs, records of one partition, on its lane, starting the
// lane if there is none. It never waits.
func (ls *lanes) give(tp topicPartition, recs []*kgo.Record) {
	ls.mu.Lock()
	l := ls.byTP[tp]
	if l == nil {
		ctx, cancel := context.WithCancel(ls.ctx)
		l = &lane{tp: tp, wake: make(chan struct{}, 1), closing: make(chan struct{}), cancel: cancel, done: make(chan struct{})}
		ls.byTP[tp] = l
		go func() {
			defer close(l.done)
			ls.run(ctx, l)
		}()
	}
	ls.mu.Unlock()
	l.mu.Lock()
	l.queue = append(l.queue, recs)
	if len(l.queue) >= maxQueued && !l.paused {
		l.paused = true
		ls.cl.PauseFetchPartitions(map[string][]int32{tp.topic: {tp.partition}})
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// next takes the records queued on l, oldest first: a full batch
// (MaxBatch records), or all of them when they fill less. When the oldest
// poll alone holds more than a batch, it takes as many whole batches of it
// as it holds (apply cuts them into batches, decoding each while the one
// before is applied). The poll at which that count is reached is split, its
// rest left at the head of the queue for the next batch, so that a lane
// behind its partition applies full batches, as the raw side of a bench
// does: a short batch folds fewer of a product's events into each write.
// It resumes l's partition once the queue is down to resumeQueued.
//
// Taking together the polls that queued while the lane was applying is
// what keeps a busy lane's latency down: a sink's Apply costs round trips
// whatever its size (the search index's _mget, reference read, _bulk and
// re-check), so a lane that applied each small poll on its own fell
// further behind the more polls queued, and its partition was paused once
// maxQueued were waiting (bench api at 1,000 commands/s: search lanes 98%
// busy on 4-24 events per Apply, records waiting 230 ms p50, 630 ms p99 in
// the queue).
func (ls *lanes) next(l *lane) ([]*kgo.Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) == 0 {
		return nil, false
	}
	batch := ls.p.cfg.MaxBatch
	want := batch
	if first := len(l.queue[0]); first > batch {
		want = first / batch * batch
	}
	var recs []*kgo.Record
	n := 0
	for ; n < len(l.queue) && len(recs) < want; n++ {
		poll := l.queue[n]
		room := want - len(recs)
		split := len(poll) > room
		if split {
			l.queue[n] = poll[room:]
			poll = poll[:room:room]
		}
		switch n {
		case 0:
			recs = poll
		case 1:
			recs = append(slices.Clip(recs), poll...) // the appends must not write into the first poll's array
		default:
			recs = append(recs, poll...)
		}
		if split {
			break
		}
	}
	clear(l.queue[:n])
	l.queue = l.queue[n:]
	if len(l.queue) <= resumeQueued && l.paused {
		l.paused = false
		ls.cl.ResumeFetchPartitions(map[string][]int32{l.tp.topic: {l.tp.partition}})
	}
	return recs, true
}

// stop ends the lanes of parts. With drain, each first applies what it was
// given (the partitions are being revoked), for up to DrainTimeout, after
// which what is left is abandoned: a rebalance must not wait on a sink that
// is down until the broker evicts the member. Without drain, what the lanes
// hold is abandoned at once (the partitions are lost: another member may
// own them already, or Run is ending). Then, with commit, what they applied
// is committed before stop returns; without, it is dropped. Abandoned
// records come again to the partition's next owner. A stopped lane's
// partition is no longer paused, should it come back.
func (ls *lanes) stop(parts map[string][]int32, drain, commit bool) {
	var stopping []*lane
	ls.mu.Lock()
	for topic, ps := range parts {
		for _, partition := range ps {
			tp := topicPartition{topic, partition}
			if l := ls.byTP[tp]; l != nil {
				stopping = append(stopping, l)
				delete(ls.byTP, tp)
			}
		}
	}
	ls.mu.Unlock()
	for _, l := range stopping {
		if !drain {
			l.cancel()
		}
		close(l.closing)
	}
	deadline := time.NewTimer(ls.p.cfg.DrainTimeout)
	defer deadline.Stop()
	for _, l := range stopping {
		select {
		case <-l.done:
		case <-deadline.C:
			ls.log.Warn("revoked partition's lane still applying after the drain timeout; abandoning what it holds",
				logkey.Topic, l.tp.topic, logkey.Partition, l.tp.partition, "timeout", ls.p.cfg.DrainTimeout)
			for _, m := range stopping {
				m.cancel()
			}
			<-l.done
		}
	}
	tps := make([]topicPartition, 0, len(stopping))
	for _, l := range stopping {
		tps = append(tps, l.tp)
	}
	ls.commits.leave(ls.ctx, tps, commit)
	resume := map[string][]int32{}
	for _, l := range stopping {
		ls.p.stats.forget(l.tp.partition) // another member reports its lag now
		Forget(ls.p.proj, l.tp.partition) // its lane is done: no Apply in flight
		l.cancel()
		resume[l.tp.topic] = append(resume[l.tp.topic], l.tp.partition)
	}
	if len(resume) > 0 {
		ls.cl.ResumeFetchPartitions(resume)
	}
}

// stopAll abandons every lane, committing what they applied: Run's context
// is done, the partitions are still this member's.
func (ls *lanes) stopAll() {
	all := map[string][]int32{}
	ls.mu.Lock()
	for tp := range ls.byTP {
		all[tp.topic] = append(all[tp.topic], tp.partition)
	}
	ls.mu.Unlock()
	ls.stop(all, false, true)
}

// run applies the polls queued on lane l until it is closed (then it
// applies what is left, unless cancelled) or ctx ends: per batch of the
// records it takes, the batch, its dead letters, then its hand-over to the
// committer.
func (ls *lanes) run(ctx context.Context, l *lane) {
	for {
		for {
			ls.hold(ctx, l)
			recs, ok := ls.next(l)
			if !ok {
				break
			}
			l.began = time.Now()
			ls.take(ctx, l.tp, recs)
		}
		select {
		case <-l.wake:
		case <-l.closing:
			for {
				recs, ok := ls.next(l)
				if !ok {
					return
				}
				ls.take(ctx, l.tp, recs)
			}
		}
	}
}

// hold waits, before lane l's next batch, until MinApplyInterval has
// passed since its previous batch began, while l holds records but not a
// full batch (MaxBatch records), and l is not closing. Once maxQueued polls
// wait, the partition is paused: what comes meanwhile stays in Kafka and
// is fetched together after the batch.
func (ls *lanes) hold(ctx context.Context, l *lane) {
	if ls.p.cfg.MinApplyInterval == 0 {
		return
	}
	wait := ls.p.cfg.MinApplyInterval - time.Since(l.began)
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		if n := l.queued(); n == 0 || n >= ls.p.cfg.MaxBatch {
			return
		}
		select {
		case <-t.C:
			return
		case <-l.wake: // more queued: full yet?
		case <-l.closing:
			return
		case <-ctx.Done():
			return
		}
	}
}

// queued returns how many records l holds.
func (l *lane) queued() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, recs := range l.queue {
		n += len(recs)
	}
	return n
}

// take applies recs, records of tp, unless ctx has ended, and hands each
// batch of them to the committer once it is stored and its dead letters
// are written: the lane goes on with its next batch while they are
// committed. Batch by batch, not once for all of recs: a rebuild that
// pauses its writes between two batches of one take waits for the first
// one's commit (rebuild's gate), which must not wait for the second.
func (ls *lanes) take(ctx context.Context, tp topicPartition, recs []*kgo.Record) {
	p := ls.p
	if ctx.Err() != nil || len(recs) == 0 {
		return // abandoned: the records come again to the next owner
	}
	err := p.applyAll(ctx, ls.log, ls.slots, recs, func(recs []*kgo.Record, applied int, dead []*kgo.Record) error {
		if f := p.cfg.DeadLettered; f != nil {
			dead = slices.DeleteFunc(dead, func(d *kgo.Record) bool {
				l := deadletter.FromRecord(d)
				return f(l.SourcePartition, l.SourceOffset)
			})
		}
		if len(dead) > 0 {
			if err := p.produceDead(ctx, ls.cl, ls.log, dead); err != nil {
				return err
			}
		}
		// The sink has every event up to the last of recs: their offsets
		// may be committed, also when Run is stopping (what is stored need
		// not come again). A failed commit only means the next owner
		// applies the records again, which the projection tolerates.
		last := recs[0]
		for _, r := range recs[1:] {
			if r.Offset > last.Offset {
				last = r
			}
		}
		ls.commits.applied(tp, last, dataRecords(recs), applied, len(dead))
		return nil
	})
	if err != nil {
		ls.log.Info("projection stopping; records abandoned uncommitted", logkey.Topic, tp.topic, logkey.Partition, tp.partition, "records", len(recs))
	}
}

// applyAll applies recs, records of one partition, in batches of up to
// MaxBatch: each decoded, its undecodable records set aside for the
// dead-letter topic, and applied holding one of slots. Two stages overlap:
// while the projection applies batch i, batch i+1 is being decoded. Each
// batch is then handed to stored with its records, the events stored and
// its dead letters (undecodable or rejected); applyAll stops at stored's
// first error. It returns an error only when ctx ends first or stored
// fails.
func (p *Runner) applyAll(ctx context.Context, log *slog.Logger, slots chan struct{}, recs []*kgo.Record, stored func(recs []*kgo.Record, applied int, dead []*kgo.Record) error) error {
	batches := make(chan decodedBatch, 1) // decoded at most one batch ahead
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(batches)
		for start := 0; start < len(recs); start += p.cfg.MaxBatch {
			b := p.decodeBatch(log, recs[start:min(start+p.cfg.MaxBatch, len(recs))])
			select {
			case batches <- b:
			case <-stop:
				return
			}
		}
	}()

	for b := range batches {
		applied, dead := 0, b.dead
		if len(b.events) > 0 {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			n, more, err := p.apply(ctx, log, b)
			<-slots
			if err != nil {
				return err
			}
			applied, dead = n, append(dead, more...)
		}
		if err := stored(b.recs, applied, dead); err != nil {
			return err
		}
	}
	return nil
}

// decodedBatch is the decoded records of one batch: its records, the
// events, the record each came from, and the dead letters of the records
// that did not decode.
type decodedBatch struct {
	recs   []*kgo.Record
	events []schemas.Event
	origin []*kgo.Record
	dead   []*kgo.Record
}

func (p *Runner) decodeBatch(log *slog.Logger, recs []*kgo.Record) decodedBatch {
	b := decodedBatch{recs: recs, events: make([]schemas.Event, 0, len(recs)), origin: make([]*kgo.Record, 0, len(recs))}
	decoded := p.decodeAll(recs)
	for i, r := range recs {
		if r.Attrs.IsControl() {
			continue
		}
		e, err := decoded[i].event, decoded[i].err
		if err != nil {
			b.dead = append(b.dead, p.deadLetter(r, err))
			level, msg := slog.LevelWarn, "dead-lettering record"
			if f := p.cfg.DeadLettered; f != nil && f(r.Partition, r.Offset) {
				level, msg = slog.LevelDebug, "record dead-lettered before; not again" // take drops its letter
			}
			log.Log(context.Background(), level, msg, logkey.Topic, r.Topic, logkey.Partition, r.Partition, logkey.Offset, r.Offset, logkey.AggregateID, string(r.Key), "err", err)
			continue
		}
		if !p.takes(e.AggregateType) {
			continue
		}
		b.events = append(b.events, e)
		b.origin = append(b.origin, r)
	}
	return b
}

// takes reports whether the projection applies events of aggregate type t.
func (p *Runner) takes(t string) bool {
	if len(p.cfg.Aggregates) == 0 {
		return t == schemas.AggregateProduct
	}
	return slices.Contains(p.cfg.Aggregates, t)
}

// apply hands b's events to the projection until it has stored them all,
// retrying failures with backoff and dead-lettering the events it rejects
// as permanent. It returns how many events were stored, the dead letters,
// and an error only when ctx ends first.
func (p *Runner) apply(ctx context.Context, log *slog.Logger, b decodedBatch) (int, []*kgo.Record, error) {
	events, origin := b.events, b.origin
	var dead []*kgo.Record
	bo := p.cfg.retryPolicy().Start()
	for len(events) > 0 {
		err := p.applyOnce(ctx, events, origin)
		if err == nil {
			break
		}
		var be *batch.Error
		if errors.As(err, &be) {
			var rejected []int
			for _, f := range be.Failures {
				i := f.Index
				if !f.Permanent || i < 0 || i >= len(events) || slices.Contains(rejected, i) {
					continue
				}
				r := origin[i]
				log.Warn("dead-lettering event the projection rejects", logkey.Topic, r.Topic, logkey.Partition, r.Partition, logkey.Offset, r.Offset,
					logkey.AggregateID, events[i].AggregateID, logkey.EventType, events[i].Type(), "err", f.Err)
				dead = append(dead, p.deadLetter(r, fmt.Errorf("%w: event %d of batch: %w", errRejected, i, f.Err)))
				rejected = append(rejected, i)
			}
			if len(rejected) > 0 {
				slices.Sort(rejected) // an Error not made by batch.Fail may be out of order
				events, origin = without(events, rejected), without(origin, rejected)
				if !be.Transient() {
					continue // the rest is stored: applying it again only confirms that
				}
			}
		}
		if ctx.Err() != nil {
			return 0, dead, ctx.Err() // stopping: the sink failed because of it
		}
		p.stats.retries.Add(1)
		d := bo.Next()
		log.Warn("sink failed; retrying", "err", err, "in", d, "attempt", bo.Attempt(), "events", len(events))
		if !backoff.Sleep(ctx, d) {
			return 0, dead, ctx.Err()
		}
	}
	return len(events), dead, nil
}

// applyOnce is one call of the projection's Apply (or ApplyAt), under
// Hooks.Apply.
func (p *Runner) applyOnce(ctx context.Context, events []schemas.Event, origin []*kgo.Record) error {
	if p.cfg.Hooks.Apply == nil {
		return p.applyBatch(ctx, events, origin)
	}
	actx, done := p.cfg.Hooks.Apply(ctx, origin)
	err := p.applyBatch(actx, events, origin)
	done(err)
	return err
}

// PositionedProjection is a Projection that also needs each event's place
// in the topic (the history index keeps it): the runtime calls ApplyAt in
// place of Apply. offsets[i] is the offset of events[i] in partition, and a
// batch holds one partition's records. The rules of Apply hold.
type PositionedProjection interface {
	Projection
	ApplyAt(ctx context.Context, events []schemas.Event, partition int32, offsets []int64) error
}

// ApplyAt is p's ApplyAt when p is a PositionedProjection, else its Apply:
// for projections that wrap another and pass the positions on.
func ApplyAt(ctx context.Context, p Projection, batch []schemas.Event, partition int32, offsets []int64) error {
	if pp, ok := p.(PositionedProjection); ok {
		return pp.ApplyAt(ctx, batch, partition, offsets)
	}
	return p.Apply(ctx, batch)
}

// PartitionMemory is a Projection that remembers something of each
// partition it applies, as an optimisation only (the product view's
// versions on one Redis server): the runtime calls Forget once a
// partition's lane has stopped (revoked, lost, or Run ending), after the
// lane's last Apply returned, so that a process does not keep what it
// learnt of every partition it ever owned. Given the partition again, the
// projection starts over. Forget is a hint, not a fence: another Runner
// whose projection shares the same store (a rebuild's and the live
// follower's, in one process) may still be applying that partition.
type PartitionMemory interface {
	Forget(partition int32)
}

// Forget is p's Forget when p is a PartitionMemory: for projections that
// wrap another and pass the call on.
func Forget(p Projection, partition int32) {
	if pm, ok := p.(PartitionMemory); ok {
		pm.Forget(partition)
	}
}

// applyBatch hands events to the projection, with their positions when it
// asks for them.
func (p *Runner) applyBatch(ctx context.Context, events []schemas.Event, origin []*kgo.Record) error {
	pp, ok := p.proj.(PositionedProjection)
	if !ok || len(origin) == 0 {
		return p.proj.Apply(ctx, events)
	}
	offsets := make([]int64, len(origin))
	for i, r := range origin {
		offsets[i] = r.Offset
	}
	return pp.ApplyAt(ctx, events, origin[0].Partition, offsets)
}

// errRejected marks an event the store rejected: deadletter's sentinel, so
// that the dead letter's reason says "rejected".
var errRejected = deadletter.ErrRejected

// without returns s less the elements at drop (ascending indexes), in a new
// slice: s may be the caller's.
func without[T any](s []T, drop []int) []T {
	out := make([]T, 0, len(s)-len(drop))
	next := 0
	for _, i := range drop {
		out = append(out, s[next:i]...)
		next = i + 1
	}
	return append(out, s[next:]...)
}

type decoded struct {
	event schemas.Event
	err   error
}

// decodeAll decodes a poll's records on every core: decoding is the
// runtime's largest CPU cost per event, and the records are independent.
// The result is in record order.
func (p *Runner) decodeAll(recs []*kgo.Record) []decoded {
	out := make([]decoded, len(recs))
	workers := runtime.GOMAXPROCS(0)
	if len(recs) < 512 || workers < 2 {
		workers = 1
	}
	chunk := (len(recs) + workers - 1) / workers
	var wg sync.WaitGroup
	for start := 0; start < len(recs); start += chunk {
		end := min(start+chunk, len(recs))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := start; i < end; i++ {
				if !recs[i].Attrs.IsControl() {
					out[i].event, out[i].err = p.decode(recs[i])
				}
			}
		}()
	}
	wg.Wait()
	return out
}

func (p *Runner) decode(r *kgo.Record) (schemas.Event, error) {
	e, err := p.dec.DecodeEvent(r.Value)
	if err != nil {
		return e, err
	}
	if err := e.Validate(); err != nil {
		return e, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return e, nil
}

// ErrInvalid marks an event that decoded but fails validation. It is
// deadletter.ErrInvalid, so that the dead letter's reason says "invalid".
var ErrInvalid = deadletter.ErrInvalid

// produceDead writes dead letters, retrying until the broker takes them:
// committing past a record that was not dead-lettered would lose it.
func (p *Runner) produceDead(ctx context.Context, cl *kgo.Client, log *slog.Logger, dead []*kgo.Record) error {
	b := p.cfg.retryPolicy().Start()
	for {
		err := produceAll(ctx, cl, dead)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d := b.Next()
		log.Warn("dead-letter produce failed; retrying", logkey.Topic, p.cfg.DeadLetterTopic, "err", err, "in", d)
		if !backoff.Sleep(ctx, d) {
			return ctx.Err()
		}
	}
}

// produceAll produces recs and waits for every result, or until ctx ends:
// unlike ProduceSync, which waits as long as kgo holds a record it cannot
// safely fail (an idempotent batch already sent to a broker that went
// away), so that a stopping lane would hang.
func produceAll(ctx context.Context, cl *kgo.Client, recs []*kgo.Record) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	wg.Add(len(recs))
	for _, r := range recs {
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err() // the results come when the client closes
	}
	mu.Lock()
	defer mu.Unlock()
	return first
}

// deadLetter is the dead letter of r; package deadletter owns its format.
func (p *Runner) deadLetter(r *kgo.Record, err error) *kgo.Record {
	return deadletter.Record(r, err, p.cfg.Group(), p.cfg.DeadLetterTopic)
}

// Stats is a snapshot of a runner's counters.
type Stats struct {
	Records      int64           // data records consumed and committed (transaction markers not counted)
	Applied      int64           // events handed to the projection and stored
	DeadLettered int64           // records sent to the dead-letter topic
	Retries      int64           // failed sink attempts
	Offsets      map[int32]int64 // last committed offset per partition (next to read)
	// HighWatermarks are the partitions' end offsets as the latest fetch
	// of each saw them: HighWatermarks[p] - Offsets[p] is p's lag.
	HighWatermarks map[int32]int64
	LastBatch      time.Time
	Rate           float64 // records per second committed over the last RateWindow (0 when idle that long)
}

// RateWindow is the span of Stats.Rate.
const RateWindow = 10 * time.Second

type stats struct {
	records, applied, dead, retries atomic.Int64
	mu                              sync.Mutex
	offsets, hwm                    map[int32]int64
	last                            time.Time
	started                         time.Time
	recent                          []committed // within RateWindow, oldest first
}

// committed is one commit's count of data records, for the rate.
type committed struct {
	at      time.Time
	records int
}

// rate is the data records per second committed over the RateWindow
// before now (or since the runner was made, when that is shorter, but
// at least a second).
func (s *stats) rate(now time.Time) float64 {
	s.trim(now)
	n := 0
	for _, c := range s.recent {
		n += c.records
	}
	span := max(min(RateWindow, now.Sub(s.started)), time.Second)
	return float64(n) / span.Seconds()
}

// add counts a commit of records data records at now.
func (s *stats) add(now time.Time, records int) {
	s.trim(now)
	s.recent = append(s.recent, committed{at: now, records: records})
	s.last = now
}

// trim drops the commits older than the RateWindow before now.
func (s *stats) trim(now time.Time) {
	i := 0
	for i < len(s.recent) && now.Sub(s.recent[i].at) > RateWindow {
		i++
	}
	s.recent = s.recent[i:]
}

// dataRecords counts the records of recs that are not transaction markers.
func dataRecords(recs []*kgo.Record) int {
	n := 0
	for _, r := range recs {
		if !r.Attrs.IsControl() {
			n++
		}
	}
	return n
}

// record counts a commit of offsets (the next offset to read per
// partition), which covered data records, applied events and dead letters
// (commits are cumulative: also those of earlier commits that failed).
func (s *stats) record(offsets map[int32]int64, data, applied, dead int) {
	s.records.Add(int64(data))
	s.applied.Add(int64(applied))
	s.dead.Add(int64(dead))
	s.mu.Lock()
	for partition, next := range offsets {
		if next > s.offsets[partition] {
			s.offsets[partition] = next
		}
	}
	s.add(time.Now(), data)
	s.mu.Unlock()
}

// highWatermark notes partition's end offset from a fetch.
func (s *stats) highWatermark(partition int32, hwm int64) {
	s.mu.Lock()
	if s.hwm == nil {
		s.hwm = map[int32]int64{}
	}
	if hwm > s.hwm[partition] {
		s.hwm[partition] = hwm
	}
	s.mu.Unlock()
}

// assigned takes the group's committed offsets of partitions just assigned
// (the reset offset, negative, where the group has none) as theirs: lower
// than a committed offset noted before when the group was reset meanwhile.
func (s *stats) assigned(offsets map[int32]kgo.Offset) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for partition, o := range offsets {
		if at := o.EpochOffset().Offset; at >= 0 {
			s.offsets[partition] = at
		} else {
			delete(s.offsets, partition)
		}
	}
}

// forget drops partition's end offset: the partition is no longer ours.
func (s *stats) forget(partition int32) {
	s.mu.Lock()
	delete(s.hwm, partition)
	s.mu.Unlock()
}

// Continue makes p's counters go on from from's, another runner of the
// same projection generation in this process that ran before p (a
// rebuild's processor, which the live projector follows after the swap):
// Stats adds from's Records, Applied, DeadLettered and Retries, read at
// each call, as from may still be finishing. A generation's counters then
// never fall back (Prometheus would take it as a reset, and the projections
// report would show the count start over). It is ignored for another
// projection or generation, and for p itself or a runner that continues p.
func (p *Runner) Continue(from *Runner) {
	if from == nil || from.cfg.Name != p.cfg.Name || from.cfg.Generation != p.cfg.Generation {
		return
	}
	for q := from; q != nil; q = q.Continues() {
		if q == p {
			return // a cycle: Stats would never end
		}
	}
	p.from.Store(from)
}

// Continues is the runner whose counters p's continue, nil when none.
func (p *Runner) Continues() *Runner { return p.from.Load() }

// Stats returns a snapshot of the counters, with those of the runner p
// continues (Continue) added.
func (p *Runner) Stats() Stats {
	var before Stats
	if from := p.from.Load(); from != nil {
		before = from.Stats()
	}
	p.stats.mu.Lock()
	defer p.stats.mu.Unlock()
	offs := make(map[int32]int64, len(p.stats.offsets))
	for k, v := range p.stats.offsets {
		offs[k] = v
	}
	hwm := make(map[int32]int64, len(p.stats.hwm))
	for k, v := range p.stats.hwm {
		hwm[k] = v
	}
	return Stats{
		Records: before.Records + p.stats.records.Load(), Applied: before.Applied + p.stats.applied.Load(),
		DeadLettered: before.DeadLettered + p.stats.dead.Load(), Retries: before.Retries + p.stats.retries.Load(), Offsets: offs, HighWatermarks: hwm, LastBatch: p.stats.last, Rate: p.stats.rate(time.Now()),
	}
}
