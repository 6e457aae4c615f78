package decider

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/producers/reference"
	"github.com/streamview/streamview/producers/subscription"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// rebuild builds the states of partitions ps: from their snapshots and
// the events after them when the decider keeps snapshots, from the whole
// events partitions otherwise. See rebuildFrom.
func (d *Decider) rebuild(ctx context.Context, adm *kadm.Client, ps []int32) (map[int32]*partState, error) {
	return d.rebuildFrom(ctx, adm, ps, d.cfg.snapshots())
}

// rebuildFrom builds the states of partitions ps from the events topic, and
// the outcomes they remember from the events (accepted commands) and the
// results topic (every outcome, rejections and no-ops too) of the
// idempotency window. With fromSnapshot, a partition whose state topic
// holds a usable snapshot starts from it and reads only the events after
// its checkpoint's offset; any other replays its whole events partition.
func (d *Decider) rebuildFrom(ctx context.Context, adm *kadm.Client, ps []int32, fromSnapshot bool) (map[int32]*partState, error) {
	began := time.Now()
	topic := d.cfg.EventsTopic
	oldest := began.Add(-d.cfg.IdempotencyWindow).UnixMilli()
	bounds, err := d.bounds(ctx, adm, topic, ps)
	if err != nil {
		return nil, err
	}
	// A crashed owner's transaction may have written results only (a
	// batch of rejections); it has been waited for like the events'.
	rends, err := d.stableEnds(ctx, adm, d.cfg.ResultsTopic, ps)
	if err != nil {
		return nil, err
	}
	rstarts, err := adm.ListOffsetsAfterMilli(ctx, oldest, d.cfg.ResultsTopic)
	if err == nil {
		err = rstarts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("rebuild: list offsets of %s after %d: %w", d.cfg.ResultsTopic, oldest, err)
	}

	rspans := map[int32]topics.Span{}
	for _, p := range ps {
		// No record after oldest lists the end at the listing's time,
		// which may be past the stable end listed before.
		if rs, _ := rstarts.Lookup(d.cfg.ResultsTopic, p); rends[p] > rs.Offset {
			rspans[p] = topics.Span{From: rs.Offset, To: rends[p]}
		}
	}
	var (
		read     int64
		outcomes map[int32][]restored
		rerr     error
		rdone    = make(chan struct{})
	)
	go func() {
		defer close(rdone)
		if len(rspans) > 0 {
			outcomes, rerr = d.readResults(ctx, rspans, oldest)
		}
	}()
	var snaps map[int32]*restoredSnapshot
	if fromSnapshot {
		snaps, err = d.readSnapshots(ctx, adm, ps)
		if err != nil {
			<-rdone
			return nil, err
		}
	}
	states := make(map[int32]*partState, len(ps))
	spans := map[int32]topics.Span{}
	for _, p := range ps {
		st := newPartState()
		end, from := bounds[p].To, bounds[p].From
		st.eventsEnd, st.lastSnapshot = end, began.UnixMilli()
		states[p] = st
		if sn := snaps[p]; sn != nil {
			switch {
			case sn.ok && sn.at.eventsEnd > end:
				d.log.Warn("snapshot is past the end of the events; replaying the whole partition", "topic", d.cfg.StateTopic,
					"partition", p, "offset", sn.at.eventsEnd, "events_end", end)
			case sn.ok:
				st.products, st.subs, st.refs, st.broken, st.snapshotted = sn.products, sn.subs, sn.refs, sn.broken, true
				from = max(from, sn.at.eventsEnd)
				d.stats.snapshotRestores.Add(1)
				d.stats.snapshotProducts.Add(int64(len(sn.products)))
			default:
				d.log.Info("no usable snapshot; replaying the whole partition", "topic", d.cfg.StateTopic, "partition", p, "why", sn.why)
			}
		}
		if end > from {
			spans[p] = topics.Span{From: from, To: end}
		}
	}
	if len(spans) > 0 {
		read, err = d.read(ctx, spans, states, oldest)
	}
	<-rdone
	if err != nil {
		return nil, err
	}
	if rerr != nil {
		return nil, rerr
	}
	for p, os := range outcomes {
		st := states[p]
		for _, o := range os {
			switch known, ok := st.decided[o.id]; {
			case !ok || o.out.at > known.at:
				// Unknown, or decided anew after the decider had
				// forgotten it (MaxDecided): the later decision is the
				// one it remembered, with its own request's fingerprint.
				st.remember(o.id, o.out)
			case known.fp == (fingerprint{}) && known.at == o.out.at && known.version == o.out.version:
				// Known from its events, which do not carry the request's
				// fingerprint: its result does. Only this decision's
				// result: an earlier decision of the command ID (since
				// forgotten) was for another request.
				known.fp = o.out.fp
				st.decided[o.id] = known
			}
		}
		st.forget(oldest, d.cfg.MaxDecided, d.cfg.MaxDecidedBytes)
	}

	took := time.Since(began)
	d.stats.rebuilds.Add(int64(len(ps)))
	d.stats.rebuildEvents.Add(read)
	d.stats.rebuildNanos.Add(int64(took))
	for _, p := range ps {
		d.log.Info("partition state rebuilt", logkey.Topic, topic, logkey.Partition, p, logkey.Offset, bounds[p].To, "results_topic", d.cfg.ResultsTopic,
			"products", len(states[p].products), "commands_remembered", len(states[p].decided), "from_snapshot", states[p].snapshotted,
			"events_read", spans[p].To-spans[p].From, "took", took)
	}
	return states, nil
}

// bounds returns, for each partition in ps of topic, the span from its
// start offset to its last stable offset (see stableEnds): what a rebuild
// reads of it. A span with To <= From holds nothing.
func (d *Decider) bounds(ctx context.Context, adm *kadm.Client, topic string, ps []int32) (map[int32]topics.Span, error) {
	ends, err := d.stableEnds(ctx, adm, topic, ps)
	if err != nil {
		return nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("rebuild: list start offsets of %s: %w", topic, err)
	}
	out := make(map[int32]topics.Span, len(ps))
	for _, p := range ps {
		s, _ := starts.Lookup(topic, p)
		out[p] = topics.Span{From: s.Offset, To: ends[p]}
	}
	return out, nil
}

// stableEnds returns the last stable offset of each partition in ps of
// topic once no transaction that was open on it when asked is open any
// more, or once StableWait has passed (see topics.StableEnds).
func (d *Decider) stableEnds(ctx context.Context, adm *kadm.Client, topic string, ps []int32) (map[int32]int64, error) {
	ends, open, err := topics.StableEnds(ctx, adm, topic, ps, d.cfg.StableWait)
	if err != nil {
		return nil, fmt.Errorf("rebuild: %w", err)
	}
	if len(open) > 0 {
		d.log.Warn("transactions still open; reading up to their last stable offset",
			logkey.Topic, topic, "partitions", open, "waited", d.cfg.StableWait)
	}
	return ends, nil
}

// read folds the events of the partitions' spans into states, decoding
// while the next fetch runs.
func (d *Decider) read(ctx context.Context, spans map[int32]topics.Span, states map[int32]*partState, oldest int64) (int64, error) {
	opts := d.readOpts()

	// Decoding is most of the work and needs no order: chunks of records
	// are decoded on every core, and each partition's folder takes its
	// chunks back in fetch order.
	jobs := make(chan decodeJob)
	var decoders sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		decoders.Go(func() {
			for j := range jobs {
				j.done <- d.decodeChunk(j.recs)
			}
		})
	}
	var (
		wg      sync.WaitGroup
		feeds   = map[int32]chan chan []decoded{}
		folders = map[int32]*folder{}
	)
	for p := range spans {
		f := &folder{d: d, st: states[p], oldest: oldest}
		ch := make(chan chan []decoded, 8)
		feeds[p], folders[p] = ch, f
		wg.Go(func() {
			for done := range ch {
				f.fold(<-done)
			}
		})
	}
	err := topics.ReadBounded(ctx, opts, d.cfg.EventsTopic, spans, func(recs []*kgo.Record) error {
		for chunk := range slices.Chunk(recs, 2048) {
			done := make(chan []decoded, 1)
			feeds[chunk[0].Partition] <- done
			jobs <- decodeJob{recs: chunk, done: done}
		}
		return nil
	})
	for _, ch := range feeds {
		close(ch)
	}
	close(jobs)
	decoders.Wait()
	wg.Wait()
	if err != nil {
		return 0, fmt.Errorf("rebuild: %w", err)
	}

	var read int64
	for _, f := range folders {
		read += f.read
	}
	return read, nil
}

func (d *Decider) readOpts() []kgo.Opt {
	return append([]kgo.Opt{
		kgo.SeedBrokers(d.cfg.Brokers...),
		kgo.FetchMaxBytes(64 << 20),
		kgo.FetchMaxPartitionBytes(16 << 20),
		kgo.FetchMaxWait(250 * time.Millisecond),
	}, d.cfg.ClientOpts...)
}

// restored is one outcome read back from the results topic.
type restored struct {
	id  string
	out outcome
}

// readResults reads the results of the partitions' spans (read_committed,
// as topics.ReadBounded does) and returns, per partition and in log order,
// the outcomes decided at or after oldest (Unix ms). It runs beside read:
// results are few and small next to the events, so one goroutine decodes
// them while read's fetches and decoders work.
func (d *Decider) readResults(ctx context.Context, spans map[int32]topics.Span, oldest int64) (map[int32][]restored, error) {
	out := map[int32][]restored{}
	err := topics.ReadBounded(ctx, d.readOpts(), d.cfg.ResultsTopic, spans, func(recs []*kgo.Record) error {
		for _, r := range recs {
			res, err := d.codec.DecodeResult(r.Value)
			if err != nil || res.CommandID == "" {
				// Not an outcome this decider can answer with; the
				// command, if retried, is decided again.
				d.log.Warn("skipping undecodable command result", logkey.Topic, r.Topic, logkey.Partition, r.Partition,
					logkey.Offset, r.Offset, logkey.AggregateID, string(r.Key), "err", err)
				continue
			}
			at := res.DecidedAt.UnixMilli()
			if at < oldest {
				continue
			}
			o := outcome{version: res.Version, at: at, fp: parseFingerprint(producers.Header(r, commandbus.HeaderFingerprint))}
			if res.Status != schemas.StatusAccepted {
				o.rejected = &rejection{code: res.Code, reason: res.Reason}
			}
			out[r.Partition] = append(out[r.Partition], restored{id: res.CommandID, out: o})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("rebuild: %w", err)
	}
	return out, nil
}

type decodeJob struct {
	recs []*kgo.Record
	done chan []decoded
}

// decoded is one event record, decoded.
type decoded struct {
	rec *kgo.Record
	e   schemas.Event
	err error
}

// decodeChunk decodes the event records of recs.
func (d *Decider) decodeChunk(recs []*kgo.Record) []decoded {
	out := make([]decoded, 0, len(recs))
	for _, r := range recs {
		e, err := d.codec.DecodeEvent(r.Value)
		out = append(out, decoded{rec: r, e: e, err: err})
	}
	return out
}

// folder folds one partition's events into its state, in order.
type folder struct {
	d      *Decider
	st     *partState
	oldest int64
	read   int64
}

func (f *folder) fold(chunk []decoded) {
	log := f.d.log
	for _, c := range chunk {
		f.read++
		r, e := c.rec, c.e
		if c.err != nil {
			// The product's later commands would be decided on a state
			// that misses this event; refuse them instead.
			id := string(r.Key)
			f.st.broken[id] = fmt.Sprintf("event at %s partition %d offset %d does not decode: %v", r.Topic, r.Partition, r.Offset, c.err)
			f.changed(id)
			f.d.stats.undecodableEvents.Add(1)
			log.Error("undecodable event; refusing the product's commands", logkey.Topic, r.Topic, logkey.Partition, r.Partition,
				logkey.Offset, r.Offset, logkey.AggregateID, id, "err", c.err)
			continue
		}
		if e.AggregateType == schemas.AggregateSubscription {
			f.st.subs[e.AggregateID] = subscription.Evolve(f.st.subs[e.AggregateID], e)
			f.changed(subKey(e.AggregateID))
			f.remember(e)
			continue
		}
		if schemas.IsReference(e.AggregateType) {
			f.foldReference(r, e)
			continue
		}
		if e.AggregateType != "" && e.AggregateType != schemas.AggregateProduct {
			continue
		}
		s := f.st.products[e.AggregateID]
		switch {
		case e.Version <= s.Version:
			log.Warn("skipping event at or below the product's version", logkey.Topic, r.Topic, logkey.Partition, r.Partition,
				logkey.Offset, r.Offset, logkey.AggregateID, e.AggregateID, logkey.EventType, e.Type(), "version", e.Version, "at", s.Version)
			continue
		case e.Version != s.Version+1:
			log.Warn("gap in the product's versions", logkey.Topic, r.Topic, logkey.Partition, r.Partition,
				logkey.Offset, r.Offset, logkey.AggregateID, e.AggregateID, logkey.EventType, e.Type(), "version", e.Version, "at", s.Version)
		}
		f.st.products[e.AggregateID] = product.Evolve(s, e)
		f.changed(e.AggregateID)
		f.remember(e)
	}
	f.st.forget(f.oldest, f.d.cfg.MaxDecided, f.d.cfg.MaxDecidedBytes)
}

// foldReference folds a category's or brand's event into its state, under
// its reference key, skipping one at or below the state's version.
func (f *folder) foldReference(r *kgo.Record, e schemas.Event) {
	key := schemas.ReferenceKey(e.AggregateType, e.AggregateID)
	s := f.st.refs[key]
	if e.Version <= s.Version {
		f.d.log.Warn("skipping event at or below the aggregate's version", logkey.Topic, r.Topic, logkey.Partition, r.Partition,
			logkey.Offset, r.Offset, logkey.AggregateID, key, logkey.EventType, e.Type(), "version", e.Version, "at", s.Version)
		return
	}
	f.st.refs[key] = reference.Evolve(s, e)
	f.changed(refKey(key))
	f.remember(e)
}

// remember notes the command that caused e as decided.
func (f *folder) remember(e schemas.Event) {
	if cid := e.Metadata.CausationID; cid != "" {
		if at := e.Timestamp.UnixMilli(); at >= f.oldest {
			f.st.remember(cid, outcome{version: e.Version, at: at})
		}
	}
}

// changed notes a product the events after a snapshot changed, for the
// next snapshot; after a full replay the next snapshot writes every
// product anyway.
func (f *folder) changed(id string) {
	if f.st.snapshotted {
		f.st.dirty[id] = struct{}{}
	}
}
