package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/processors/notifier"
	"github.com/streamview/streamview/schemas"
)

// Decoder turns a record value into an event; *schemas.Codec is one.
type Decoder interface {
	DecodeEvent([]byte) (schemas.Event, error)
}

// Notifier is the notifier: a Consumer and a Deliverer over one store.
type Notifier struct {
	cfg   Config
	dec   Decoder
	store notifier.Store
	opts  []kgo.Opt
	log   *slog.Logger
	kick  chan struct{}
	// suspect wakes the watch at once when the store says it lost its
	// data (notifier.ErrStoreLost).
	suspect chan struct{}
	stats   counters
	// refolded holds, while on (Config.Refold, or after a Recovery), the
	// offset each partition's group had committed when this process
	// first got it since: the records below it were read by an earlier
	// run.
	refolded struct {
		sync.Mutex
		on    bool
		marks map[int32]int64
	}
}

type counters struct {
	events, queued, delivered, failed, deadLettered, undecodable, restored, stale, trimmed, dropped atomic.Int64
}

// Stats counts what a Notifier did since it started.
type Stats struct {
	Events       int64 // events read
	Queued       int64 // notifications queued (new Webhook-Ids)
	Delivered    int64 // deliveries answered 2xx
	Failed       int64 // attempts that failed (to be retried or dead-lettered)
	DeadLettered int64 // notifications given up on
	Undecodable  int64 // records that did not decode (dead-lettered)
	Restored     int64 // losses of the store recovered (Config.Recovery)
	Stale        int64 // events that could notify, older than Config.Horizon: not planned
	Trimmed      int64 // Webhook-Ids the store forgot (Config.Horizon)
	Dropped      int64 // notifications of deleted subscriptions dequeued unsent
}

// Stats returns the counters.
func (n *Notifier) Stats() Stats {
	return Stats{Events: n.stats.events.Load(), Queued: n.stats.queued.Load(), Delivered: n.stats.delivered.Load(),
		Failed: n.stats.failed.Load(), DeadLettered: n.stats.deadLettered.Load(), Undecodable: n.stats.undecodable.Load(),
		Restored: n.stats.restored.Load(), Stale: n.stats.stale.Load(), Trimmed: n.stats.trimmed.Load(), Dropped: n.stats.dropped.Load()}
}

// New returns a notifier. opts configure its Kafka clients (at least
// kgo.SeedBrokers).
func New(cfg Config, dec Decoder, store notifier.Store, opts ...kgo.Opt) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if dec == nil || store == nil {
		return nil, errors.New("webhook: nil decoder or store")
	}
	cfg = cfg.withDefaults()
	n := &Notifier{cfg: cfg, dec: dec, store: store, opts: opts, log: cfg.Logger.With("projection", Name), kick: make(chan struct{}, 1), suspect: make(chan struct{}, 1)}
	n.refolded.on = cfg.Refold
	return n, nil
}

// Config is the configuration with defaults filled in.
func (n *Notifier) Config() Config { return n.cfg }

// errStoreLost ends a run of the consumer and the deliverer: the store
// lost its data (Config.Recovery).
var errStoreLost = errors.New("webhook: the store lost its data")

// Run consumes and delivers until ctx ends. With Config.Recovery it first
// recovers a store that lost its data while no notifier ran, and recovers
// a loss while it runs: the consumer and the deliverer stop (deliveries in
// flight finish and are recorded), the store is restored, and both run
// again, the consumer reading the log again from its start.
func (n *Notifier) Run(ctx context.Context) error {
	prod, err := kgo.NewClient(append([]kgo.Opt{kgo.ProducerLinger(0)}, n.opts...)...)
	if err != nil {
		return fmt.Errorf("webhook: kafka producer: %w", err)
	}
	defer prod.Close()
	for {
		if err := n.recover(ctx); err != nil {
			return nil // ctx ended
		}
		err := n.run(ctx, prod)
		if !errors.Is(err, errStoreLost) || ctx.Err() != nil {
			return err
		}
	}
}

// run runs the consumer and the deliverer, and the watch for a loss,
// until ctx ends or the store is lost (errStoreLost).
func (n *Notifier) run(ctx context.Context, prod *kgo.Client) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return n.consume(gctx, prod) })
	// A loss stops the claims (gctx); deliveries in flight finish on
	// ctx, so that a receiver's 2xx is recorded and not sent again.
	g.Go(func() error { return n.deliver(ctx, gctx, prod) })
	if n.cfg.Recovery != nil {
		g.Go(func() error { return n.watch(gctx) })
	}
	if n.cfg.Horizon > 0 {
		g.Go(func() error { return n.trim(gctx) })
	}
	return g.Wait()
}

// trim has the store forget, at the start and every TrimEvery, the
// Webhook-Ids finished before Config.TrimBefore (see Config.Horizon for
// why that is safe); nil when ctx ends. A trim that fails is tried again
// at the next tick.
func (n *Notifier) trim(ctx context.Context) error {
	tick := time.NewTicker(n.cfg.TrimEvery)
	defer tick.Stop()
	for {
		before := n.cfg.TrimBefore(time.Now())
		t, err := n.store.Trim(ctx, before)
		n.stats.trimmed.Add(int64(t))
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !n.lostStore(err):
			n.log.Warn("cannot trim the record of Webhook-Ids past the horizon; trying again later", "trimmed", t, "before", before, "err", err, "in", n.cfg.TrimEvery)
		case t > 0:
			n.log.Info("trimmed the record of Webhook-Ids past the horizon", "trimmed", t, "before", before)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// watch asks Config.Recovery whether the store lost its data every
// CheckEvery; errStoreLost when it did, nil when ctx ends.
func (n *Notifier) watch(ctx context.Context) error {
	tick := time.NewTicker(n.cfg.CheckEvery)
	defer tick.Stop()
	var warned time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-n.suspect:
		}
		lost, err := n.cfg.Recovery.Lost(ctx)
		if err != nil {
			if ctx.Err() == nil && time.Since(warned) > 10*time.Second {
				warned = time.Now()
				n.log.Warn("cannot check whether the notifier's store lost its data; trying again", "err", err)
			}
			continue
		}
		if lost {
			n.log.Warn("the notifier's store lost its data: stopping to restore it and read the log again", "topic", n.cfg.Topic, "group", n.cfg.Group)
			return errStoreLost
		}
	}
}

// recover restores the store when Config.Recovery finds it lost, and
// then has the consumer read every partition from its start again
// (refold). It retries until it succeeds; an error only when ctx ended.
func (n *Notifier) recover(ctx context.Context) error {
	if n.cfg.Recovery == nil {
		return nil
	}
	var lost bool
	err := n.retrying(ctx, "check whether the store lost its data", func() (err error) {
		lost, err = n.cfg.Recovery.Lost(ctx)
		return err
	})
	if err != nil || !lost {
		return err
	}
	if err := n.retrying(ctx, "restore the store", func() error { return n.cfg.Recovery.Restore(ctx) }); err != nil {
		return err
	}
	n.refolded.Lock()
	n.refolded.on, n.refolded.marks = true, nil
	n.refolded.Unlock()
	n.stats.restored.Add(1)
	n.log.Info("the notifier's store has its record of what was delivered: reading the log from its start to fold the subscriptions and queue what was not done",
		"topic", n.cfg.Topic, "group", n.cfg.Group)
	return nil
}

// consume queues the notifications of every polled batch, then commits it.
func (n *Notifier) consume(ctx context.Context, prod *kgo.Client) error {
	opts := []kgo.Opt{
		kgo.ConsumerGroup(n.cfg.Group),
		kgo.ConsumeTopics(n.cfg.Topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), // commits move past transaction markers
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}
	if n.cfg.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(n.cfg.SessionTimeout), kgo.HeartbeatInterval(n.cfg.SessionTimeout/4))
	}
	opts = append(opts, kgo.AdjustFetchOffsetsFn(n.refold))
	cl, err := kgo.NewClient(append(opts, n.opts...)...)
	if err != nil {
		return fmt.Errorf("webhook: kafka consumer: %w", err)
	}
	defer cl.CloseAllowingRebalance()
	n.log.Info("notifier consuming", "group", n.cfg.Group, "topic", n.cfg.Topic)
	for {
		fetches := cl.PollRecords(ctx, 5000)
		if ctx.Err() != nil || fetches.IsClientClosed() {
			return nil
		}
		fetches.EachError(func(t string, p int32, err error) {
			n.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
		})
		recs := fetches.Records()
		if len(recs) == 0 {
			cl.AllowRebalance()
			continue
		}
		if err := n.queue(ctx, prod, recs); err != nil {
			return nil // ctx ended; the batch comes again to the next owner
		}
		if err := cl.CommitRecords(ctx, n.committable(recs)...); err != nil && ctx.Err() == nil {
			n.log.Warn("commit failed; the batch may come again (queuing it twice is harmless)", "group", n.cfg.Group, "err", err)
		}
		cl.AllowRebalance()
		select {
		case n.kick <- struct{}{}:
		default:
		}
	}
}

// queue plans recs and stores the result, retrying store errors until it
// succeeds or ctx ends.
func (n *Notifier) queue(ctx context.Context, prod *kgo.Client, recs []*kgo.Record) error {
	var (
		events   []notifier.Positioned
		dead     []*kgo.Record
		products []string
		stale    int
		newest   time.Time // of the stale events
		now      = time.Now()
		lookups  []redriven              // copies whose origin their dead letter says
		copies   = map[int]*kgo.Record{} // re-driven copies, by index in events
	)
	for _, r := range recs {
		if r.Attrs.IsControl() {
			continue
		}
		e, err := n.dec.DecodeEvent(r.Value)
		if err == nil {
			err = e.Validate()
		}
		if err != nil {
			n.stats.undecodable.Add(1)
			if n.folded(r.Partition, r.Offset) {
				continue // dead-lettered by the run that read it first
			}
			n.log.Warn("dead-lettering record", logkey.Topic, r.Topic, logkey.Partition, r.Partition, logkey.Offset, r.Offset, logkey.AggregateID, string(r.Key), "err", err)
			dead = append(dead, deadletter.Record(r, err, n.cfg.Group, n.cfg.DeadLetterTopic))
			continue
		}
		n.stats.events.Add(1)
		if !notifier.Relevant(e) {
			continue
		}
		if e.AggregateType != schemas.AggregateSubscription && n.cfg.Stale(e.Timestamp, now) {
			// Past the horizon: its Webhook-Ids may be trimmed already,
			// so it must not be queued again (Config.Horizon).
			stale++
			if e.Timestamp.After(newest) {
				newest = e.Timestamp
			}
			continue
		}
		p := notifier.Positioned{Event: e, Partition: r.Partition, Offset: r.Offset}
		if e.AggregateType != schemas.AggregateSubscription {
			// Judged where the event first sat (redriven.go). A re-driven
			// subscription event folds where it landed: seen before when
			// the original was read, and otherwise where the notifier
			// learnt of it, the same on every read of the log.
			switch pos, from, known := origin(r); {
			case !known:
				lookups = append(lookups, redriven{event: len(events), from: from})
				copies[len(events)] = r
			case pos.Partition != r.Partition || pos.Offset != r.Offset:
				p.Partition, p.Offset = pos.Partition, pos.Offset
				copies[len(events)] = r
			}
		}
		events = append(events, p)
		if pid := notifier.ProductOf(e); !slices.Contains(products, pid) {
			products = append(products, pid)
		}
	}
	if stale > 0 {
		n.stats.stale.Add(int64(stale))
		n.log.Info("events older than the horizon queue no notification", "topic", n.cfg.Topic, "events", stale, "newest", newest, "horizon", n.cfg.Horizon)
	}
	if len(dead) > 0 {
		err := n.retrying(ctx, "produce dead letters", func() error {
			if err := prod.ProduceSync(ctx, dead...).FirstErr(); err != nil {
				return fmt.Errorf("dead letters to %s: %w", n.cfg.DeadLetterTopic, err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if len(copies) > 0 {
		var err error
		if events, err = n.originals(ctx, prod, events, copies, lookups); err != nil {
			return err
		}
	}
	if len(events) == 0 {
		return nil
	}
	return n.retrying(ctx, "queue a batch's notifications", func() error { return n.plan(ctx, events, products) })
}

// retrying calls fn until it succeeds or ctx ends, with backoff: a store
// or broker that is down holds the partition, never skips it.
func (n *Notifier) retrying(ctx context.Context, what string, fn func() error) error {
	retry := backoff.Policy{}.Start()
	warn := throttle{every: warnEvery}
	for {
		err := fn()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := retry.Next()
		if n.lostStore(err) {
			n.log.Debug("cannot "+what+" while the store is lost; retrying", "topic", n.cfg.Topic, "err", err, "in", wait)
		} else if ok, failed := warn.allow(time.Now()); ok {
			n.log.Warn("cannot "+what+"; retrying (logged once per 10 s)", "topic", n.cfg.Topic, "err", err, "failed_attempts", failed, "in", wait)
		}
		if !backoff.Sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// warnEvery is how often a warning repeated while a store or broker stays
// down is logged: at each backoff step it came about 13 times a second.
const warnEvery = 10 * time.Second

// throttle lets a repeated warning through once per every, counting the
// failures in between.
type throttle struct {
	every  time.Duration
	last   time.Time
	failed int
}

// allow counts a failure at now and reports whether to log it, with how
// many failures there were since the last one logged, this one included.
func (t *throttle) allow(now time.Time) (bool, int) {
	t.failed++
	if !t.last.IsZero() && now.Sub(t.last) < t.every {
		return false, 0
	}
	failed := t.failed
	t.last, t.failed = now, 0
	return true, failed
}

func (n *Notifier) plan(ctx context.Context, events []notifier.Positioned, products []string) error {
	known, err := n.store.Subscriptions(ctx, products)
	if err != nil {
		return err
	}
	changed, out := notifier.Plan(known, events)
	if err := n.store.Save(ctx, changed); err != nil {
		return err
	}
	out = undeleted(known, changed, out)
	q, err := n.store.Enqueue(ctx, out, time.Now())
	if err != nil {
		return err
	}
	n.stats.queued.Add(int64(q))
	if q > 0 || len(changed) > 0 {
		n.log.Debug("queued", "notifications", q, "planned", len(out), "subscriptions_changed", len(changed))
	}
	return nil
}

// undeleted leaves out of out the notifications of subscriptions deleted
// by now (in known, or in changed): a delivery would drop them unsent, and
// a replay after the deletion would queue them again.
func undeleted(known map[string][]notifier.Subscription, changed []notifier.Subscription, out []notifier.Notification) []notifier.Notification {
	deleted := map[string]bool{}
	for _, subs := range known {
		for _, s := range subs {
			deleted[s.ID] = s.Deleted >= 0
		}
	}
	for _, s := range changed {
		deleted[s.ID] = s.Deleted >= 0
	}
	return slices.DeleteFunc(out, func(x notifier.Notification) bool { return deleted[x.SubscriptionID] })
}

// lostStore reports whether err says the store lost its data, and then
// wakes the watch.
func (n *Notifier) lostStore(err error) bool {
	if !errors.Is(err, notifier.ErrStoreLost) {
		return false
	}
	select {
	case n.suspect <- struct{}{}:
	default:
	}
	return true
}

// refold, the group's offset adjuster, does nothing unless refolding is
// on (Config.Refold, or after a Recovery). Then it starts each
// partition this process has not had before at the start of the log and
// keeps the offset the group had committed as its mark. A partition given
// again while the group is still at or below its mark (the commits wait
// until the read passes it) starts again from the start: where the read
// had got to is not known, and the store skips what it has.
func (n *Notifier) refold(_ context.Context, offs map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	n.refolded.Lock()
	defer n.refolded.Unlock()
	if !n.refolded.on {
		return offs, nil
	}
	if n.refolded.marks == nil {
		n.refolded.marks = map[int32]int64{}
	}
	for p, o := range offs[n.cfg.Topic] {
		at := o.EpochOffset().Offset // negative: no commit, the reset offset
		if mark, had := n.refolded.marks[p]; had {
			if at > mark || mark <= 0 {
				continue // past the mark, or nothing to read again
			}
		} else {
			n.refolded.marks[p] = at
		}
		if at > 0 {
			n.log.Info("reading the partition from its start to fold the subscriptions again (the store skips what was delivered or dead-lettered)", "topic", n.cfg.Topic, "partition", p, "up_to", at)
			offs[n.cfg.Topic][p] = kgo.NewOffset().AtStart()
		}
	}
	return offs, nil
}

// folded reports whether the record at partition and offset was read by
// an earlier run while refolding: below the group's mark.
func (n *Notifier) folded(partition int32, offset int64) bool {
	n.refolded.Lock()
	defer n.refolded.Unlock()
	return n.refolded.on && offset < n.refolded.marks[partition]
}

// committable leaves out of recs those whose commit would move the group
// back below its mark, while refolding.
func (n *Notifier) committable(recs []*kgo.Record) []*kgo.Record {
	n.refolded.Lock()
	on := n.refolded.on
	n.refolded.Unlock()
	if !on {
		return recs
	}
	return slices.DeleteFunc(slices.Clone(recs), func(r *kgo.Record) bool { return n.folded(r.Partition, r.Offset+1) })
}
