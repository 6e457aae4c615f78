package deadletter

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Reader reads one dead-letter topic without a consumer group.
type Reader struct {
	cl    *kgo.Client
	topic string
}

// NewReader returns a reader of topic. It lists offsets with cl and builds
// a short-lived consumer for each read from cl's options, so cl must be a
// plain client, not a group consumer; the reader does not own it.
func NewReader(cl *kgo.Client, topic string) *Reader {
	return &Reader{cl: cl, topic: topic}
}

// Topic is the dead-letter topic the reader reads.
func (r *Reader) Topic() string { return r.topic }

// span is the half-open offset range [from, to) of one partition.
type span struct{ from, to int64 }

// bounds returns each partition's start and end offsets now. A missing
// topic is an error that wraps kerr.UnknownTopicOrPartition.
func (r *Reader) bounds(ctx context.Context) (map[int32]span, error) {
	adm := kadm.NewClient(r.cl)
	starts, err := adm.ListStartOffsets(ctx, r.topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("deadletter: start offsets of %s: %w", r.topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, r.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("deadletter: end offsets of %s: %w", r.topic, err)
	}
	out := map[int32]span{}
	starts.Each(func(o kadm.ListedOffset) {
		if e, ok := ends.Lookup(o.Topic, o.Partition); ok {
			out[o.Partition] = span{from: o.Offset, to: e.Offset}
		}
	})
	return out, nil
}

// All yields the topic's dead letters from the start of each partition to
// the end offsets it had when All began, partition by partition in offset
// order; it does not wait for more. A read error is yielded once, last.
func (r *Reader) All(ctx context.Context) iter.Seq2[Letter, error] {
	return func(yield func(Letter, error) bool) {
		b, err := r.bounds(ctx)
		if err != nil {
			yield(Letter{}, err)
			return
		}
		for _, p := range slices.Sorted(maps.Keys(b)) {
			err := r.read(ctx, p, b[p], func(rec *kgo.Record) bool { return yield(FromRecord(rec), nil) })
			if errors.Is(err, errStopped) {
				return
			}
			if err != nil {
				yield(Letter{}, err)
				return
			}
		}
	}
}

// At returns the dead letters at positions, in the order given. Positions
// outside the topic (deleted by retention, past the end, a partition that
// does not exist) are all reported in one error, and then nothing is
// returned.
func (r *Reader) At(ctx context.Context, positions ...Position) ([]Letter, error) {
	b, err := r.bounds(ctx)
	if err != nil {
		return nil, err
	}
	want := map[int32]span{}
	var errs []error
	for _, pos := range positions {
		s, ok := b[pos.Partition]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s/%s: %s has no partition %d", r.topic, pos, r.topic, pos.Partition))
			continue
		case pos.Offset < s.from:
			errs = append(errs, fmt.Errorf("%s/%s: deleted by retention (partition %d starts at offset %d)", r.topic, pos, pos.Partition, s.from))
			continue
		case pos.Offset >= s.to:
			errs = append(errs, fmt.Errorf("%s/%s: past the end (partition %d ends at offset %d)", r.topic, pos, pos.Partition, s.to))
			continue
		}
		w, ok := want[pos.Partition]
		if !ok {
			w = span{from: pos.Offset, to: pos.Offset + 1}
		}
		want[pos.Partition] = span{from: min(w.from, pos.Offset), to: max(w.to, pos.Offset+1)}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("deadletter: %w", errors.Join(errs...))
	}

	got := map[Position]Letter{}
	for _, p := range slices.Sorted(maps.Keys(want)) {
		err := r.read(ctx, p, want[p], func(rec *kgo.Record) bool {
			got[Position{rec.Partition, rec.Offset}] = FromRecord(rec)
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]Letter, 0, len(positions))
	for _, pos := range positions {
		l, ok := got[pos]
		if !ok {
			// Inside the bounds but not a record: a transaction marker.
			errs = append(errs, fmt.Errorf("%s/%s: no record at this offset", r.topic, pos))
			continue
		}
		out = append(out, l)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("deadletter: %w", errors.Join(errs...))
	}
	return out, nil
}

var errStopped = errors.New("stopped by the caller")

// idlePoll bounds one poll that returns nothing; then read checks that the
// records it waits for still exist.
const idlePoll = 3 * time.Second

// read calls fn for each record of partition p in s, then returns; it
// returns errStopped when fn returns false.
func (r *Reader) read(ctx context.Context, p int32, s span, fn func(*kgo.Record) bool) error {
	if s.from >= s.to {
		return nil
	}
	// Control records (transaction markers) take offsets too; keeping them
	// lets the read see that it reached s.to when one is last.
	cl, err := kgo.NewClient(append(r.cl.Opts(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.topic: {p: kgo.NewOffset().At(s.from)}}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(time.Second),
	)...)
	if err != nil {
		return fmt.Errorf("deadletter: consumer for %s: %w", r.topic, err)
	}
	defer cl.Close()
	for {
		pctx, cancel := context.WithTimeout(ctx, idlePoll)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(t string, part int32, err error) {
			var loss *kgo.ErrDataLoss
			switch {
			case errors.Is(err, context.DeadlineExceeded), errors.As(err, &loss):
				// An idle poll, or retention deleted what we were about
				// to read: the check below ends the read if need be.
			case ferr == nil:
				ferr = fmt.Errorf("deadletter: read %s partition %d: %w", t, part, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		n := 0
		for _, rec := range fs.Records() {
			if rec.Topic != r.topic || rec.Partition != p {
				continue
			}
			n++
			if rec.Offset >= s.to {
				return nil
			}
			if !rec.Attrs.IsControl() && !fn(rec) {
				return errStopped
			}
			if rec.Offset+1 >= s.to {
				return nil
			}
		}
		if n == 0 {
			// Nothing came: if retention has deleted everything up to
			// s.to, nothing will.
			starts, err := kadm.NewClient(r.cl).ListStartOffsets(ctx, r.topic)
			if err != nil {
				return fmt.Errorf("deadletter: start offsets of %s: %w", r.topic, err)
			}
			if o, ok := starts.Lookup(r.topic, p); ok && o.Err == nil && o.Offset >= s.to {
				return nil
			}
		}
	}
}
