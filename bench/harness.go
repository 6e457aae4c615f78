package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/thousands"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// Partitions is the partition count of a run's events topic, as
// topics.Events has in topics.yaml.
const Partitions = 6

// Sink is one view store under measurement: it writes the raw limit and
// provides the projection that the harness runs through the runtime.
type Sink interface {
	// Name names the sink in the report: "redis".
	Name() string
	// Raw writes d's events straight to the store, bypassing the
	// projection: one write per event, in batches of d.Batch, into as many
	// documents as d has products. It calls progress with each batch's
	// size and returns the writes and the time they took.
	Raw(ctx context.Context, d *Dataset, progress func(n int)) (Figure, error)
	// Projection returns a fresh projection for round n (from 1) that the
	// runtime drives over d's topic, and the table label of its figure. It
	// writes generation n of its own into an empty store, remembering
	// nothing of an earlier round's; Projection removes what the earlier
	// rounds wrote.
	Projection(ctx context.Context, d *Dataset, n int) (processors.Projection, string, error)
	// Stored counts the documents the last round's projection stored.
	Stored(ctx context.Context) (int, error)
	// Cleanup removes what Raw and the last round's projection wrote.
	Cleanup(ctx context.Context) error
	// Target is the share of the smaller raw rate the projection should
	// reach.
	Target() float64
}

// Dataset is what a run produced, shared by its steps.
type Dataset struct {
	// Run names this run uniquely ("bench-1a2b3c4d5e6f"); sinks derive
	// their key prefixes and index names from it.
	Run string
	// Topic holds the events, on Partitions partitions.
	Topic string
	// Events are the produced events, in produce order. They are dropped
	// (nil) before the projection runs.
	Events []schemas.Event
	// Records is the number of events in the topic: len(Events) until they
	// are dropped.
	Records int
	// Products is the number of distinct products in Events.
	Products int
	// Batch is Config.Batch.
	Batch int
	// Ends is each partition's end offset after producing.
	Ends map[int32]int64
	// Partition is where each product's events went: the runtime applies
	// each partition's events in a lane of its own, in batches of Batch.
	Partition map[string]int32

	lanes [][][]schemas.Event // Events split by Lanes, once
}

// use makes events the data set's events. Once their partitions are known
// (produced), Lanes splits them once, before the timed steps, so that a
// step's time and CPU do not include the split.
func (d *Dataset) use(events []schemas.Event) { d.Events, d.lanes = events, nil }

// drop lets the events go, lanes included.
func (d *Dataset) drop() { d.Events, d.lanes = nil, nil }

// Lanes splits d.Events as the projection runtime meets them: per
// partition, in order, in batches of d.Batch. Raw steps that mirror the
// projection write each lane's batches one after another and the lanes at
// once.
func (d *Dataset) Lanes() [][][]schemas.Event {
	if d.lanes != nil {
		return d.lanes
	}
	by := map[int32][]schemas.Event{}
	for _, e := range d.Events {
		p := d.Partition[e.AggregateID]
		by[p] = append(by[p], e)
	}
	var out [][][]schemas.Event
	for p := range int32(Partitions) {
		var batches [][]schemas.Event
		for b := range slices.Chunk(by[p], d.Batch) {
			batches = append(batches, b)
		}
		if len(batches) > 0 {
			out = append(out, batches)
		}
	}
	d.lanes = out
	return out
}

// Aggregated is a Sink whose projection takes the events of more aggregate
// types than products (processors.Config.Aggregates).
type Aggregated interface {
	Aggregates() []string
}

// RawSecond is a Sink with a second raw figure, shown under the first but
// not compared with: such as the same writes on one connection. It runs
// before the first (warming the server up), which ResetRaw then undoes
// when the sink has it.
type RawSecond interface {
	RawSecond(ctx context.Context, d *Dataset, progress func(n int)) (Figure, error)
}

// ServerCPU is a Sink whose server reports the CPU time it has used (Redis:
// INFO cpu), sampled around the raw and projection steps to say how busy
// the server was and what each event cost it.
type ServerCPU interface {
	ServerCPU(ctx context.Context) (time.Duration, error)
}

// Run measures sink: it makes the data set, measures the raw consume, the
// raw sink writes and the projection, writes the table to cfg.Out, and
// removes everything it made. An error after measuring still returns the
// report of what was measured.
func Run(ctx context.Context, cfg Config, sink Sink) (rep Report, err error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	cfg = cfg.withDefaults()
	out := cfg.Out
	d := &Dataset{Run: runID(), Batch: cfg.Batch}
	d.Topic = d.Run + ".events"
	dlq := d.Run + ".dlq"
	rep = Report{Sink: sink.Name(), Topic: d.Topic, Batch: cfg.Batch, Target: sink.Target(), Distribution: cfg.Distribution}

	cl, err := kgo.NewClient(cfg.kafkaOpts(kgo.ProducerLinger(10 * time.Millisecond))...)
	if err != nil {
		return rep, fmt.Errorf("bench: kafka client for %v: %w", cfg.Brokers, err)
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = cl.Ping(pctx)
	cancel()
	if err != nil {
		return rep, fmt.Errorf("bench: kafka at %v does not answer: %w", cfg.Brokers, err)
	}
	adm := kadm.NewClient(cl)
	groups := make([]string, cfg.Rounds) // a round's projection is generation n of the run's
	for n := range groups {
		groups[n] = processors.GroupName(d.Run, n+1)
	}
	defer func() {
		// The caller's context may be done (Ctrl-C): clean up regardless.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		err = errors.Join(err, cleanup(cctx, adm, sink, groups, d.Topic, dlq))
	}()
	if err := createTopics(ctx, adm, map[string]int32{d.Topic: Partitions, dlq: 1}); err != nil {
		return rep, err
	}

	dist, _ := eventgen.ParseDistribution(cfg.Distribution) // validated
	fmt.Fprintf(out, "bench %s: generating %s events of %s products, %s\n", sink.Name(), thousands.Format(cfg.Events), thousands.Format(cfg.Products), cfg.Distribution)
	d.use(eventgen.Stream(eventgen.Options{Products: cfg.Products, Events: cfg.Events, Seed: cfg.Seed, Distribution: dist}))
	d.Records, d.Products = len(d.Events), distinct(d.Events)
	rep.Events, rep.Products = len(d.Events), d.Products
	codec, err := schemas.NewCodec()
	if err != nil {
		return rep, err
	}
	if rep.Produce, err = produce(ctx, cl, codec, d, out); err != nil {
		return rep, err
	}
	if d.Ends, err = endOffsets(ctx, adm, d.Topic, len(d.Events)); err != nil {
		return rep, err
	}

	probe := startProbe(ctx, nil)
	rep.Consume, err = rawConsume(ctx, cfg.kafkaOpts(), d, out)
	rep.ConsumeCPU = probe.stop(ctx)
	if err != nil {
		return rep, err
	}
	rep.Lanes = len(d.Lanes())
	for _, lane := range d.Lanes() {
		rep.Batches += len(lane)
	}
	// The second raw figure runs first: a server's first writes of a run
	// are slower than its later ones (Elasticsearch's first bulk run here
	// was up to half the pace of the next), and the compared raw runs
	// should all meet it warm, as the projections do.
	if second, ok := sink.(RawSecond); ok {
		m := startMeter(out, "raw "+sink.Name()+" (second)", "events", len(d.Events))
		rep.RawSecond, err = second.RawSecond(ctx, d, m.add)
		m.finish()
		if err != nil {
			return rep, fmt.Errorf("bench: raw %s (second): %w", sink.Name(), err)
		}
		if again, ok := sink.(RawAgain); ok {
			if err := again.ResetRaw(ctx); err != nil {
				return rep, fmt.Errorf("bench: reset raw %s: %w", sink.Name(), err)
			}
		}
	}
	if rep.Raw, rep.RawCPU, err = timedRaw(ctx, sink, d, "", out); err != nil {
		return rep, err
	}

	// The projection's process should not carry the data set: a projector
	// holds one batch, not a million events, and a large live heap makes
	// every garbage collection cost more.
	d.drop()
	runtime.GC()

	var aggregates []string
	if a, ok := sink.(Aggregated); ok {
		aggregates = a.Aggregates()
	}
	// Each round projects the topic again on a fresh generation and group,
	// then runs the raw writes again: raw, projection, raw, projection,
	// raw ..., each projection compared with the raw runs beside it. A
	// round that fails still shows what it measured.
	rounds := make([]Round, 0, cfg.Rounds)
	before, beforeCPU := rep.Raw, rep.RawCPU
	for n := 1; n <= cfg.Rounds; n++ {
		rd, err := projectRound(ctx, cfg, sink, d, codec, n, dlq, aggregates, out)
		rep.DeadLettered += rd.dead
		rep.Retries += rd.retries
		rd.Raw, rd.RawCPU = before, beforeCPU
		if err == nil {
			rd.RawAfter, rd.RawAfterCPU, err = rawAgain(ctx, cfg, sink, d, out)
		}
		if rd.Projection.Count > 0 {
			rounds = append(rounds, rd.Round)
		}
		if err != nil {
			rep = rep.median(rounds)
			if len(rounds) > 0 {
				_ = rep.WriteTable(out)
			}
			return rep, err
		}
		if rd.RawAfter.Count > 0 {
			before, beforeCPU = rd.RawAfter, rd.RawAfterCPU
		}
	}
	rep = rep.median(rounds)
	if werr := rep.WriteTable(out); werr != nil {
		return rep, werr
	}
	if rep.DeadLettered > 0 {
		return rep, fmt.Errorf("bench: the runtime dead-lettered %d records of valid events", rep.DeadLettered)
	}
	return rep, nil
}

// projected is a round's figures and what its runtime counted.
type projected struct {
	Round
	dead, retries int64
}

// projectRound runs round n's projection: sink's fresh projection of
// generation n through the runtime on a group of its own, from offset 0
// to the end, then checks what it stored.
func projectRound(ctx context.Context, cfg Config, sink Sink, d *Dataset, codec *schemas.Codec, n int, dlq string, aggregates []string, out io.Writer) (projected, error) {
	rd := projected{Round: Round{N: n}}
	runtime.GC() // the raw writes' garbage is not the projection's to collect
	proj, label, err := sink.Projection(ctx, d, n)
	if err != nil {
		return rd, err
	}
	if cfg.Rounds > 1 {
		label += fmt.Sprintf(", round %d", n)
	}
	timed := &timedProjection{inner: proj}
	cpu, _ := sink.(ServerCPU)
	probe := startProbe(ctx, cpu)
	began := time.Now()
	var st processors.Stats
	rd.Projection, st, err = project(ctx, cfg, d, codec, timed, label, n, dlq, aggregates, out)
	rd.ProjectionCPU = probe.stop(ctx)
	rd.dead, rd.retries = st.DeadLettered, st.Retries
	if err != nil {
		return rd, err
	}
	rd.InApply = time.Duration(timed.nanos.Load())
	rd.Applies = timed.applies.Load()
	if first := timed.first.Load(); first > 0 {
		rd.FirstApply = time.Duration(first - began.UnixNano())
	}
	if rd.Stored, err = sink.Stored(ctx); err != nil {
		return rd, err
	}
	if rd.Stored != d.Products {
		return rd, fmt.Errorf("bench: round %d: the projection stored %d documents, want one per product: %d (a fault of the projection or its store: run it again with --rounds 1 --log-level debug to see its writes)", n, rd.Stored, d.Products)
	}
	return rd, nil
}

// RawAgain is a Sink that can run its raw writes a second time: ResetRaw
// puts the raw side back as it was before the first (an empty store, a
// fresh index), so that the second run makes the same writes into the
// same state.
type RawAgain interface {
	ResetRaw(ctx context.Context) error
}

// rawAgain runs sink's raw writes again after the projection, on the same
// events (made again from the seed: the projection ran without them), so
// that the projection is compared with raw writes on both sides of it. A
// sink that cannot reset its raw side gives a zero figure.
func rawAgain(ctx context.Context, cfg Config, sink Sink, d *Dataset, out io.Writer) (Figure, CPU, error) {
	again, ok := sink.(RawAgain)
	if !ok {
		return Figure{}, CPU{}, nil
	}
	if err := again.ResetRaw(ctx); err != nil {
		return Figure{}, CPU{}, fmt.Errorf("bench: reset raw %s: %w", sink.Name(), err)
	}
	dist, _ := eventgen.ParseDistribution(cfg.Distribution) // validated
	d.use(eventgen.Stream(eventgen.Options{Products: cfg.Products, Events: cfg.Events, Seed: cfg.Seed, Distribution: dist}))
	defer d.drop()
	d.Lanes() // not in the timed step
	return timedRaw(ctx, sink, d, " (after the projection)", out)
}

// timedRaw runs sink's raw writes of d, measuring their time and CPU; what
// names the step in the progress lines and errors.
func timedRaw(ctx context.Context, sink Sink, d *Dataset, what string, out io.Writer) (Figure, CPU, error) {
	cpu, _ := sink.(ServerCPU)
	m := startMeter(out, "raw "+sink.Name()+what, "events", len(d.Events))
	probe := startProbe(ctx, cpu)
	f, err := sink.Raw(ctx, d, m.add)
	c := probe.stop(ctx)
	m.finish()
	if err != nil {
		return Figure{}, CPU{}, fmt.Errorf("bench: raw %s%s: %w", sink.Name(), what, err)
	}
	return f, c, nil
}

func runID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "bench-" + hex.EncodeToString(b[:])
}

func distinct(events []schemas.Event) int {
	seen := make(map[string]struct{})
	for _, e := range events {
		seen[e.AggregateID] = struct{}{}
	}
	return len(seen)
}

// topicConfig keeps a run's records for as long as the run needs them: the
// generated events carry their own timestamps (from 2026-01-01 on), and a
// time-based retention would delete them within minutes of producing, under
// the consumers' feet.
var topicConfig = map[string]*string{"retention.ms": kadm.StringPtr("-1")}

func createTopics(ctx context.Context, adm *kadm.Client, topics map[string]int32) error {
	for topic, partitions := range topics {
		res, err := adm.CreateTopic(ctx, partitions, 1, topicConfig, topic)
		if err == nil {
			err = res.Err
		}
		if err != nil {
			return fmt.Errorf("bench: create topic %s: %w", topic, err)
		}
	}
	return nil
}

// cleanup removes what a run made: sink's data (none when nil), groups and
// topics.
func cleanup(ctx context.Context, adm *kadm.Client, sink Sink, groups []string, topics ...string) error {
	var errs []error
	if sink != nil { // nil: only Kafka to clean (the raw side of an API run)
		if err := sink.Cleanup(ctx); err != nil {
			errs = append(errs, fmt.Errorf("bench: clean up %s: %w", sink.Name(), err))
		}
	}
	// A group exists only if its projection ran; a missing one is fine.
	if res, err := adm.DeleteGroups(ctx, groups...); err != nil {
		errs = append(errs, fmt.Errorf("bench: delete groups %v: %w", groups, err))
	} else {
		for _, g := range groups {
			if r, ok := res[g]; ok && r.Err != nil && !errors.Is(r.Err, kerr.GroupIDNotFound) {
				errs = append(errs, fmt.Errorf("bench: delete group %s: %w", g, r.Err))
			}
		}
	}
	res, err := adm.DeleteTopics(ctx, topics...)
	if err == nil {
		err = res.Error()
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("bench: delete topics %v: %w", topics, err))
	}
	return errors.Join(errs...)
}

// produce writes d.Events to d.Topic: encoded ahead of the producer, which
// lingers and keeps several requests in flight (idempotent, acks=all, as
// the real publisher).
func produce(ctx context.Context, cl *kgo.Client, codec *schemas.Codec, d *Dataset, out io.Writer) (Figure, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	pub := producers.NewPublisher(cl, codec, d.Topic)
	m := startMeter(out, "produce", "events", len(d.Events))
	defer m.finish()
	start := time.Now()

	// Encoding is the costly part: one goroutine encodes while another hands
	// records to the client, whose Produce blocks while its buffer is full.
	recs := make(chan *kgo.Record, 4096)
	var encErr error
	go func() {
		defer close(recs)
		for _, e := range d.Events {
			r, err := pub.Record(e)
			if err != nil {
				encErr = err
				return
			}
			select {
			case recs <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	var once sync.Once
	var mu sync.Mutex
	d.Partition = make(map[string]int32)
	for r := range recs {
		cl.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil {
				once.Do(func() {
					cancel(fmt.Errorf("bench: produce to %s partition %d: %w", r.Topic, r.Partition, err))
				})
				return
			}
			mu.Lock()
			d.Partition[string(r.Key)] = r.Partition
			mu.Unlock()
			m.add(1)
		})
	}
	if err := cl.Flush(ctx); err != nil && context.Cause(ctx) == nil {
		return Figure{}, fmt.Errorf("bench: flush %s: %w", d.Topic, err)
	}
	if encErr != nil {
		return Figure{}, fmt.Errorf("bench: %w", encErr)
	}
	if err := context.Cause(ctx); err != nil {
		return Figure{}, err
	}
	return Figure{Label: "produce", Unit: "events", Count: len(d.Events), Elapsed: time.Since(start)}, nil
}

func endOffsets(ctx context.Context, adm *kadm.Client, topic string, want int) (map[int32]int64, error) {
	listed, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("bench: list end offsets of %s: %w", topic, err)
	}
	ends := make(map[int32]int64)
	var sum int64
	listed.Each(func(o kadm.ListedOffset) {
		ends[o.Partition] = o.Offset
		sum += o.Offset
	})
	if sum != int64(want) {
		return nil, fmt.Errorf("bench: %s holds %d records, want the %d produced", topic, sum, want)
	}
	return ends, nil
}

// rawConsume reads every partition of d.Topic from the start to its end
// offset with a bare client (no group, no decoding, no commits) and counts
// the records: the fastest the events can come out of Kafka.
func rawConsume(ctx context.Context, opts []kgo.Opt, d *Dataset, out io.Writer) (Figure, error) {
	start := time.Now()
	spans := make(map[int32]topics.Span, len(d.Ends))
	for p, end := range d.Ends {
		spans[p] = topics.Span{From: 0, To: end}
	}
	m := startMeter(out, "raw consume", "records", len(d.Events))
	defer m.finish()
	n := 0
	err := topics.ReadBounded(ctx, opts, d.Topic, spans, func(recs []*kgo.Record) error {
		n += len(recs)
		m.set(int64(n))
		return nil
	})
	if err != nil {
		return Figure{}, fmt.Errorf("bench: raw consume: %w", err)
	}
	if n != len(d.Events) {
		// The reader stopped at an idle poll short of the ends.
		return Figure{}, fmt.Errorf("bench: raw consume: the read stalled at %d of %d records (ends %v)", n, len(d.Events), d.Ends)
	}
	return Figure{Label: "raw consume (franz-go)", Unit: "records", Count: n, Elapsed: time.Since(start)}, nil
}

// project runs proj through the runtime on a group of its own from offset
// 0 until the committed offsets reach the end of every partition.
func project(ctx context.Context, cfg Config, d *Dataset, codec *schemas.Codec, proj processors.Projection, label string, gen int, dlq string, aggregates []string, out io.Writer) (_ Figure, _ processors.Stats, err error) {
	proc, err := processors.New(processors.Config{
		Name: d.Run, Generation: gen, Topic: d.Topic, DeadLetterTopic: dlq, MaxBatch: cfg.Batch, Aggregates: aggregates, Logger: cfg.Logger,
	}, codec, proj, cfg.kafkaOpts()...)
	if err != nil {
		return Figure{}, processors.Stats{}, err
	}
	runCtx, stop := context.WithCancel(ctx)
	m := startMeter(out, "projection", "events", d.Records)
	defer m.finish()
	start := time.Now()
	done := make(chan error, 1)
	// The label marks the projection's goroutines (the runtime's, its Kafka
	// client's, the sink's) in a CPU profile: -tagfocus step=projection.
	go pprof.Do(runCtx, pprof.Labels("step", "projection"), func(ctx context.Context) { done <- proc.Run(ctx) })
	running := true
	// However this ends, the processor has stopped writing before the
	// caller cleans up after it.
	defer func() {
		stop()
		if running {
			if rerr := <-done; rerr != nil && err == nil {
				err = fmt.Errorf("bench: projection: %w", rerr)
			}
		}
	}()

	// Poll the runtime's counters: its offsets are committed ones, so
	// caught up means stored.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var last int64
	lastMove := time.Now()
	for {
		select {
		case err := <-done:
			running = false
			if err == nil {
				err = ctx.Err()
			}
			if err == nil {
				err = errors.New("stopped before catching up")
			}
			return Figure{}, processors.Stats{}, fmt.Errorf("bench: projection: %w", err)
		case <-tick.C:
		}
		st := proc.Stats()
		m.set(st.Records)
		if st.Records != last {
			last, lastMove = st.Records, time.Now()
		} else if time.Since(lastMove) > stallAfter {
			return Figure{}, st, fmt.Errorf("bench: projection: no progress for %v at %d of %d records, %d failed sink attempts (committed %v, ends %v)",
				stallAfter, st.Records, d.Records, st.Retries, st.Offsets, d.Ends)
		}
		if caughtUp(st.Offsets, d.Ends) {
			return Figure{Label: label, Unit: "events", Count: int(st.Records), Elapsed: time.Since(start)}, st, nil
		}
	}
}

// stallAfter is how long a step may make no progress before the run fails
// instead of waiting forever.
const stallAfter = time.Minute

func caughtUp(offsets, ends map[int32]int64) bool {
	for p, end := range ends {
		if offsets[p] < end {
			return false
		}
	}
	return true
}

// timedProjection adds up the time during which its projection is in Apply
// (in at least one call: the runtime applies partitions concurrently): the
// part of the projection's time that is the sink's; the rest is the
// runtime's alone (poll, decode, commit).
type timedProjection struct {
	inner   processors.Projection
	mu      sync.Mutex
	active  int
	since   time.Time
	nanos   atomic.Int64
	first   atomic.Int64 // when the first Apply began, in Unix nanoseconds
	applies atomic.Int64 // Apply calls that succeeded (a retried batch counts once)
}

func (p *timedProjection) Apply(ctx context.Context, batch []schemas.Event) error {
	return p.timed(func() error { return p.inner.Apply(ctx, batch) })
}

// ApplyAt passes the positions on (processors.ApplyAt), timed as Apply.
func (p *timedProjection) ApplyAt(ctx context.Context, batch []schemas.Event, partition int32, offsets []int64) error {
	return p.timed(func() error { return processors.ApplyAt(ctx, p.inner, batch, partition, offsets) })
}

// Forget passes the runtime's word on (processors.Forget).
func (p *timedProjection) Forget(partition int32) { processors.Forget(p.inner, partition) }

func (p *timedProjection) timed(apply func() error) error {
	p.mu.Lock()
	if p.active == 0 {
		p.since = time.Now()
		p.first.CompareAndSwap(0, p.since.UnixNano())
	}
	p.active++
	p.mu.Unlock()
	err := apply()
	if err == nil {
		p.applies.Add(1)
	}
	p.mu.Lock()
	p.active--
	if p.active == 0 {
		p.nanos.Add(int64(time.Since(p.since)))
	}
	p.mu.Unlock()
	return err
}
