package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/producers/decider"
)

// The raw EOS round trip of an API run: the Kafka loop a Prefer: wait
// command is built on, with nothing of streamview in it. Each record is
// produced to a commands topic (idempotent, acks=all, linger 0, as
// commandbus.Sender), copied by one consume-transform-produce loop in a
// transaction to an events and a results topic on the same partition
// number, with the consumed offsets committed in the transaction (as the
// decider, with its options), and seen by a read_committed reader of the
// results (as commandbus.Results). The time from the send to the result
// seen is what Kafka itself costs the stack's answer on this machine.
const (
	// rawRecordBytes is the size of each raw record: a command's Avro
	// value (about 180 bytes) and headers (about 270), measured on a
	// review command.
	rawRecordBytes = 450
	// rawFetchMaxWait is how long the broker holds an empty fetch of the
	// loop's session and of the reader: the decider's and
	// commandbus.ResultsFetchMaxWait (both 25 ms).
	rawFetchMaxWait = commandbus.ResultsFetchMaxWait
	// rawResultWait is how long after the last send a step waits for the
	// results still missing; later counts as lost (Prefer: wait=10).
	rawResultWait = 10 * time.Second
)

// RawStep is the raw EOS round trip at one rate, measured beside the
// stack's step of that rate with Prefer: wait.
type RawStep struct {
	Sent     int     `json:"sent"`
	Achieved float64 `json:"achieved"` // records/s sent
	// Throughput is results/s seen, over the time from the first send to
	// the last result.
	Throughput float64 `json:"throughput"`
	// Latency is from a record's send to its result seen by the reader,
	// over the results seen (Requests). Errors: "produce" (the send
	// failed), "lost" (no result within 10 s of the last send).
	Latency KindSummary `json:"latency"`
	// CPU is what the machine and this process spent during the step.
	CPU CPU `json:"cpu"`
}

// rawEOS is the raw side of an API run: its topics, the loop and the
// reader live from start to close, across the steps.
type rawEOS struct {
	commands, events, results, group string

	sender, reader *kgo.Client
	adm            *kadm.Client
	stopLoop       context.CancelFunc
	loopDone       chan struct{}
	loopErr        error // set before loopDone closes
	readerDone     chan struct{}

	keys []string
	pick func() int // the sender's goroutine only
	cur  atomic.Pointer[rawRun]
	runs uint64
}

// rawRun is one step's records, by sequence number.
type rawRun struct {
	id   uint64
	base time.Time
	sent []atomic.Int64 // nanoseconds after base at the send
	// got is the latency + 1 ns of a result seen, -1 for a failed send,
	// 0 while neither: the first to set it counts, a duplicate does not.
	got       []atomic.Int64
	done      atomic.Int64 // results seen and sends failed
	failed    atomic.Int64
	lastSeen  atomic.Int64 // nanoseconds after base
	all       chan struct{}
	closeOnce sync.Once
}

func (r *rawRun) settle(seq uint64, v int64) {
	if seq >= uint64(len(r.got)) || !r.got[seq].CompareAndSwap(0, v) {
		return
	}
	if v < 0 {
		r.failed.Add(1)
	}
	if r.done.Add(1) == int64(len(r.got)) {
		r.closeOnce.Do(func() { close(r.all) })
	}
}

// startRawEOS makes the raw side's topics (Partitions each, named
// bench-<random>.raw.*) and starts its loop and reader on the brokers of
// opts; it returns once a record has made the round trip.
func startRawEOS(ctx context.Context, opts []kgo.Opt, products int, distribution string, out io.Writer) (_ *rawEOS, err error) {
	run := runID() + ".raw"
	r := &rawEOS{commands: run + ".commands", events: run + ".events", results: run + ".results", group: run,
		loopDone: make(chan struct{}), readerDone: make(chan struct{})}
	r.keys = make([]string, products)
	for i := range r.keys {
		r.keys[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i) // as long as a product's UUID
	}
	rnd := mrand.New(mrand.NewPCG(7, 8))
	r.pick = func() int { return rnd.IntN(products) }
	if dist, _ := eventgen.ParseDistribution(distribution); dist == eventgen.Zipf && products > 1 {
		z := mrand.NewZipf(rnd, eventgen.DefaultZipfS, 1, uint64(products-1))
		r.pick = func() int { return int(z.Uint64()) }
	}

	// As commandbus.Sender: idempotent (franz-go's default), acks=all,
	// linger 0.
	if r.sender, err = kgo.NewClient(append(opts, kgo.DefaultProduceTopic(r.commands), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))...); err != nil {
		return nil, fmt.Errorf("bench api: raw EOS: kafka client: %w", err)
	}
	r.adm = kadm.NewClient(r.sender)
	loopCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stopLoop = stop
	started := false
	defer func() {
		switch {
		case err == nil:
		case started:
			err = errors.Join(err, r.close(ctx))
		default:
			stop()
			if r.reader != nil {
				r.reader.Close()
			}
			err = errors.Join(err, r.clean(ctx))
		}
	}()
	if err := createTopics(ctx, r.adm, map[string]int32{r.commands: Partitions, r.events: Partitions, r.results: Partitions}); err != nil {
		return nil, err
	}
	// As commandbus.Results: read_committed, no group; the topic is new,
	// so from its start.
	if r.reader, err = kgo.NewClient(append(opts, kgo.ConsumeTopics(r.results), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(rawFetchMaxWait))...); err != nil {
		return nil, fmt.Errorf("bench api: raw EOS: reader: %w", err)
	}
	// As the decider's session, without its deciding, state and snapshots.
	sess, err := kgo.NewGroupTransactSession(append(opts,
		kgo.ConsumerGroup(r.group),
		kgo.ConsumeTopics(r.commands),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.TransactionalID(r.group),
		kgo.TransactionTimeout(decider.DefaultTransactionTimeout),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		kgo.MetadataMinAge(decider.MetadataMinAge),
		kgo.FetchMaxWait(rawFetchMaxWait),
	)...)
	if err != nil {
		return nil, fmt.Errorf("bench api: raw EOS: session: %w", err)
	}
	started = true
	go func() {
		defer close(r.loopDone)
		defer sess.Close()
		r.loopErr = r.loop(loopCtx, sess)
	}()
	go r.read()

	fmt.Fprintf(out, "bench api: raw EOS round trip on %s.* (%d partitions each): waiting for the first round trip\n", run, Partitions)
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := r.step(ctx, 1, time.Second, 2*time.Second)
		if err != nil {
			return nil, err
		}
		if st.Latency.Requests == 1 {
			return r, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("bench api: raw EOS: no record came back through %s in a minute (%s)", r.commands, errorsText(st.Latency.Errors))
		}
	}
}

// loop copies each record of the commands topic to the events and the
// results topic on its partition, a polled batch (up to the decider's
// MaxBatch) in one transaction with the consumed offsets.
func (r *rawEOS) loop(ctx context.Context, sess *kgo.GroupTransactSession) error {
	for {
		fetches := sess.PollRecords(ctx, decider.DefaultMaxBatch)
		if ctx.Err() != nil {
			return nil
		}
		if fetches.IsClientClosed() {
			return errors.New("bench api: raw EOS: loop client closed")
		}
		recs := fetches.Records()
		if len(recs) == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return fmt.Errorf("bench api: raw EOS: begin transaction: %w", err)
		}
		promise := kgo.AbortingFirstErrPromise(sess.Client())
		for _, rec := range recs {
			for _, topic := range []string{r.events, r.results} {
				sess.Produce(ctx, &kgo.Record{Topic: topic, Partition: rec.Partition, Key: rec.Key, Value: rec.Value}, promise.Promise())
			}
		}
		perr := promise.Err()
		// Not committed: the session rewinds and the batch comes again.
		if _, err := sess.End(ctx, kgo.TransactionEndTry(perr == nil)); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("bench api: raw EOS: end transaction of %d records of %s: %w", len(recs), r.commands, err)
		}
	}
}

// read settles each result of the current step.
func (r *rawEOS) read() {
	defer close(r.readerDone)
	for {
		fetches := r.reader.PollFetches(context.Background())
		if fetches.IsClientClosed() {
			return
		}
		now := time.Now()
		fetches.EachRecord(func(rec *kgo.Record) {
			run := r.cur.Load()
			if run == nil || len(rec.Value) < 16 || binary.BigEndian.Uint64(rec.Value) != run.id {
				return // an earlier step's, come too late
			}
			seq := binary.BigEndian.Uint64(rec.Value[8:])
			if seq >= uint64(len(run.sent)) {
				return
			}
			at := now.Sub(run.base)
			run.settle(seq, int64(at)-run.sent[seq].Load()+1)
			for {
				last := run.lastSeen.Load()
				if int64(at) <= last || run.lastSeen.CompareAndSwap(last, int64(at)) {
					break
				}
			}
		})
	}
}

// step sends rate records/s for d (on schedule whatever the earlier ones
// do: an open model) and waits up to wait after the last send for their
// results (rawResultWait when 0).
func (r *rawEOS) step(ctx context.Context, rate int, d, wait time.Duration) (RawStep, error) {
	if wait == 0 {
		wait = rawResultWait
	}
	n := max(1, int(float64(rate)*d.Seconds()))
	r.runs++
	run := &rawRun{id: r.runs, base: time.Now(), sent: make([]atomic.Int64, n), got: make([]atomic.Int64, n), all: make(chan struct{})}
	r.cur.Store(run)
	defer r.cur.Store(nil)
	interval := time.Second / time.Duration(rate)
	var last time.Duration
	probe := startProbe(ctx, nil)
	for i := range n {
		if w := time.Until(run.base.Add(time.Duration(i) * interval)); w > 0 {
			select {
			case <-ctx.Done():
				return RawStep{}, ctx.Err()
			case <-time.After(w):
			}
		}
		v := make([]byte, rawRecordBytes)
		binary.BigEndian.PutUint64(v, run.id)
		binary.BigEndian.PutUint64(v[8:], uint64(i))
		last = time.Since(run.base)
		run.sent[i].Store(int64(last))
		seq := uint64(i)
		r.sender.Produce(ctx, &kgo.Record{Key: []byte(r.keys[r.pick()]), Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				run.settle(seq, -1)
			}
		})
	}
	select {
	case <-run.all:
	case <-time.After(wait):
	case <-r.loopDone:
		return RawStep{}, r.loopErr
	case <-ctx.Done():
		return RawStep{}, ctx.Err()
	}
	cpu := probe.stop(ctx)
	var lat []time.Duration
	for i := range run.got {
		if v := run.got[i].Load(); v > 0 {
			lat = append(lat, time.Duration(v-1))
		}
	}
	errs := map[string]int{}
	if f := int(run.failed.Load()); f > 0 {
		errs["produce"] = f
	}
	if lost := n - len(lat) - int(run.failed.Load()); lost > 0 {
		errs["lost"] = lost
	}
	st := RawStep{Sent: n, Achieved: float64(n) / (last + interval).Seconds(), Latency: Summarize("raw EOS round trip", lat, errs), CPU: cpu}
	if span := time.Duration(run.lastSeen.Load()); span > 0 && len(lat) > 0 {
		st.Throughput = float64(len(lat)) / span.Seconds()
	}
	return st, nil
}

// close stops the loop and the reader and removes the topics and the
// group.
func (r *rawEOS) close(ctx context.Context) error {
	r.stopLoop()
	<-r.loopDone
	r.reader.Close()
	<-r.readerDone
	return r.clean(ctx)
}

// clean removes the topics and the group and closes the sender.
func (r *rawEOS) clean(ctx context.Context) error {
	defer r.sender.Close()
	// The caller's context may be done (Ctrl-C): clean up regardless.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	return cleanup(cctx, r.adm, nil, []string{r.group}, r.commands, r.events, r.results)
}
