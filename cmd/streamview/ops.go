package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/api"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/processors/eventlog"
	"github.com/streamview/streamview/processors/producthistory"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/processors/webhook"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redishistory"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/topics"
)

// historyProjection is the history index: where each product's events lie.
const historyProjection = producthistory.Name

// newHistoryStore is the history index's store on the stack's Redis.
func newHistoryStore(rc redis.UniversalClient) (*redishistory.Store, error) {
	return redishistory.New(rc, redishistory.Config{Projection: historyProjection})
}

// newHistory is the API's reader of product histories; close the client
// when done.
func newHistory(st stack, codec *schemas.Codec) (*eventlog.Reader, *kgo.Client, error) {
	store, err := newHistoryStore(st.redis)
	if err != nil {
		return nil, nil, err
	}
	cl, err := kgo.NewClient(st.clientOpts()...)
	if err != nil {
		return nil, nil, fmt.Errorf("history: kafka client: %w", err)
	}
	r, err := eventlog.New(eventlog.Config{Client: cl}, &refillingIndex{Index: store, client: st.redis}, codec)
	if err != nil {
		cl.Close()
		return nil, nil, err
	}
	return r, cl, nil
}

// clientOpts are the stack's Kafka connection options.
func (st stack) clientOpts() []kgo.Opt {
	return append([]kgo.Opt{kgo.SeedBrokers(st.brokers...)}, st.kafkaOpt...)
}

// rebuildGrace is how long a rebuild started over HTTP keeps the old
// generation's documents after the swap (`streamview rebuild --grace`).
var rebuildGrace = 30 * time.Second

// operations implements api.Operations for a serving stack: dead letters
// through processors/deadletter, rebuilds through rebuild.Jobs.
type operations struct {
	st          stack
	cl          *kgo.Client // for listing offsets and producing re-driven records
	jobs        *rebuild.Jobs
	projections []string
	redrivable  deadletter.Check
}

// newOperations returns the operations on st's projections; its rebuilds
// live until ctx ends. Close the returned client when done.
func newOperations(ctx context.Context, st stack, codec *schemas.Codec, views *redisview.Store, projections []string) (*operations, error) {
	cl, err := kgo.NewClient(st.clientOpts()...)
	if err != nil {
		return nil, fmt.Errorf("operations: kafka client: %w", err)
	}
	o := &operations{st: st, cl: cl, projections: projections, redrivable: redrivable(codec)}
	o.jobs = rebuild.NewJobs(ctx, func(name string) (*rebuild.Rebuilder, error) {
		var target rebuild.Target
		switch name {
		case productview.Name:
			target = viewsTarget(views, st.viewChanges)
		case searchProjection:
			if st.searchGens == nil {
				return nil, fmt.Errorf("rebuild %s: %w (the embedded bleve index has one generation; restart `streamview dev` to rebuild it)", name, api.ErrNotRebuildable)
			}
			target = searchTarget(st.searchGens)
		case historyProjection:
			return nil, fmt.Errorf("rebuild %s: %w (the history index is one generation, idempotent: reset its group to replay it)", name, api.ErrNotRebuildable)
		default:
			return nil, fmt.Errorf("rebuild %s: %w", name, api.ErrUnknownProjection)
		}
		return rebuild.New(rebuild.Config{Brokers: st.brokers, ClientOpts: st.kafkaOpt, Decoder: codec, MaxBatch: batchOf(name), Aggregates: aggregatesOf(name), SessionTimeout: st.sessionTimeout,
			Grace: rebuildGrace, Logger: st.logger, Hooks: func(gen int) processors.Hooks { return st.rebuildHooks(name, gen) },
			StoreEpoch: storeEpoch(name, st.redis)},
			target, rebuildControl(st.redis, name))
	}, st.logger)
	return o, nil
}

func (o *operations) Close() { o.cl.Close() }

// Building returns the processors of the generations this server builds
// now, for GET /metrics and GET /v1/projections.
func (o *operations) Building() []*processors.Runner { return o.jobs.Building() }

// Ended is how the last rebuild of each projection this server ran ended,
// for GET /v1/projections.
func (o *operations) Ended() []rebuild.Ended { return o.jobs.Ended() }

// Built is the processor that built generation gen of name here, if any.
func (o *operations) Built(name string, gen int) *processors.Runner { return o.jobs.Built(name, gen) }

func (o *operations) known(name string) error {
	for _, p := range o.projections {
		if p == name {
			return nil
		}
	}
	if name == webhook.Name {
		return fmt.Errorf("%s: %w: the notifier is not a projection, it keeps no generations (its dead letters are at GET /v1/projections/%s/dead-letters)",
			name, api.ErrNotRebuildable, name)
	}
	return fmt.Errorf("projection %q: %w", name, api.ErrUnknownProjection)
}

// reader reads the dead letters of projection name, or of the notifier
// (catalog.notifier.dlq: notifications given up on, which are listed but
// not re-driven: they are not events).
func (o *operations) reader(name string) (*deadletter.Reader, error) {
	if name != webhook.Name {
		if err := o.known(name); err != nil {
			return nil, err
		}
	}
	return deadletter.NewReader(o.cl, topics.DeadLetter(name)), nil
}

// DeadLetters lists the first limit dead letters of name.
func (o *operations) DeadLetters(ctx context.Context, name string, limit int) ([]api.DeadLetter, bool, error) {
	r, err := o.reader(name)
	if err != nil {
		return nil, false, err
	}
	var out []api.DeadLetter
	for l, err := range r.All(ctx) {
		if err != nil {
			return nil, false, err
		}
		if len(out) == limit {
			return out, true, nil
		}
		out = append(out, deadLetterOf(l))
	}
	return out, false, nil
}

// deadLetterOf is l as the API shows it; the event type comes from the
// original record's event-type header, when it had one.
func deadLetterOf(l deadletter.Letter) api.DeadLetter {
	d := api.DeadLetter{
		DeadLetterOffset: api.DeadLetterOffset{Partition: l.Partition, Offset: l.Offset},
		SourceTopic:      l.SourceTopic, SourcePartition: l.SourcePartition, SourceOffset: l.SourceOffset,
		Reason: l.Reason, Error: l.Error, AggregateID: string(l.Key), Time: l.Time.UTC(), Group: l.Projection,
	}
	for _, h := range l.Headers {
		if h.Key == producers.HeaderEventType {
			d.EventType = string(h.Value)
		}
	}
	return d
}

// Redrive re-drives the dead letters at offsets, or all of them.
func (o *operations) Redrive(ctx context.Context, name string, offsets []api.DeadLetterOffset, all bool) (api.RedriveResult, error) {
	r, err := o.reader(name)
	if err != nil {
		return api.RedriveResult{}, err
	}
	var letters []deadletter.Letter
	if all {
		for l, err := range r.All(ctx) {
			if err != nil {
				return api.RedriveResult{}, err
			}
			letters = append(letters, l)
		}
	} else {
		at := make([]deadletter.Position, 0, len(offsets))
		seen := map[deadletter.Position]bool{}
		for _, off := range offsets {
			p := deadletter.Position{Partition: off.Partition, Offset: off.Offset}
			if !seen[p] {
				seen[p] = true
				at = append(at, p)
			}
		}
		if letters, err = r.At(ctx, at...); err != nil {
			return api.RedriveResult{}, fmt.Errorf("%w: %w", api.ErrBadOffsets, err)
		}
	}
	done, skipped, err := deadletter.Redrive(ctx, o.cl, letters, o.redrivable)
	out := api.RedriveResult{Redriven: make([]api.Redriven, len(done)), Skipped: make([]api.SkippedLetter, len(skipped))}
	for i, rd := range done {
		out.Redriven[i] = api.Redriven{DeadLetterOffset: api.DeadLetterOffset{Partition: rd.Letter.Partition, Offset: rd.Letter.Offset},
			Topic: rd.Record.Topic, ToPartition: rd.Record.Partition, ToOffset: rd.Record.Offset}
	}
	for i, sk := range skipped {
		out.Skipped[i] = api.SkippedLetter{DeadLetterOffset: api.DeadLetterOffset{Partition: sk.Letter.Partition, Offset: sk.Letter.Offset},
			Reason: sk.Err.Error()}
	}
	return out, err
}

// redrivable refuses to re-drive a dead letter whose record codec still
// cannot decode, or whose event still fails validation: every projection
// would dead-letter it again.
func redrivable(codec *schemas.Codec) deadletter.Check {
	return deadletter.Decodes(func(value []byte) error {
		e, err := codec.DecodeEvent(value)
		if err != nil {
			return err
		}
		if err := e.Validate(); err != nil {
			return fmt.Errorf("%w: %w", deadletter.ErrInvalid, err)
		}
		return nil
	})
}

// StartRebuild starts a rebuild of name in this process.
func (o *operations) StartRebuild(_ context.Context, name string) (api.RebuildStarted, error) {
	if err := o.known(name); err != nil {
		return api.RebuildStarted{}, err
	}
	start, err := o.jobs.Start(name)
	switch {
	case errors.Is(err, rebuild.ErrRunning) && o.jobs.Running(name):
		err = fmt.Errorf("%w in this server; its progress shows in GET /v1/projections", api.ErrRebuildRunning)
	case errors.Is(err, rebuild.ErrRunning), errors.Is(err, rebuild.ErrStale):
		err = answeredAs{api.ErrRebuildRunning, err}
	case errors.Is(err, rebuild.ErrNoLive):
		err = answeredAs{api.ErrNoLiveGeneration, err}
	}
	return api.RebuildStarted{Retiring: start.Retiring, From: start.From}, err
}

// answeredAs is err, answered as the API answers status (one of its
// errors): its message is err's alone, which says it already.
type answeredAs struct{ status, err error }

func (a answeredAs) Error() string   { return a.err.Error() }
func (a answeredAs) Unwrap() []error { return []error{a.status, a.err} }

// AbortRebuild stops and abandons the rebuild of name.
func (o *operations) AbortRebuild(ctx context.Context, name string) (api.AbortedRebuild, error) {
	if err := o.known(name); err != nil {
		return api.AbortedRebuild{}, err
	}
	res, err := o.jobs.Abort(ctx, name)
	if errors.Is(err, rebuild.ErrSwapped) {
		return api.AbortedRebuild{}, fmt.Errorf("%w: %w", api.ErrRebuildSwapped, err)
	}
	if errors.Is(err, processors.ErrGroupActive) || errors.Is(err, rebuild.ErrRunning) {
		// A rebuild running elsewhere (the CLI's, another server's), or
		// starting there: a conflict with its reason, not a failure to
		// retry.
		return api.AbortedRebuild{}, answeredAs{api.ErrRebuildRunning, err}
	}
	if err != nil {
		return api.AbortedRebuild{}, err
	}
	if !res.Recorded && !res.Group && !res.Documents {
		return api.AbortedRebuild{}, fmt.Errorf("rebuild %s: %w", name, api.ErrNoRebuild)
	}
	return api.AbortedRebuild{Generation: res.Generation, Group: res.Group, Documents: res.Documents}, nil
}

// historyIndexer is the history index's projection on the stack's Redis.
func historyIndexer(st stack) (*producthistory.Indexer, error) {
	store, err := newHistoryStore(st.redis)
	if err != nil {
		return nil, err
	}
	return producthistory.NewIndexer(store), nil
}
