package deadletter

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"

	"github.com/streamview/streamview/topics"
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

// bounds returns each partition's span now (see topics.Spans). A missing
// topic is an error that wraps kerr.UnknownTopicOrPartition.
func (r *Reader) bounds(ctx context.Context) (map[int32]topics.Span, error) {
	b, err := topics.Spans(ctx, kadm.NewClient(r.cl), r.topic)
	if err != nil {
		return nil, fmt.Errorf("deadletter: %w", err)
	}
	return b, nil
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
	want := map[int32]topics.Span{}
	var errs []error
	for _, pos := range positions {
		s, ok := b[pos.Partition]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s/%s: %s has no partition %d", r.topic, pos, r.topic, pos.Partition))
			continue
		case pos.Offset < s.From:
			errs = append(errs, fmt.Errorf("%s/%s: deleted by retention (partition %d starts at offset %d)", r.topic, pos, pos.Partition, s.From))
			continue
		case pos.Offset >= s.To:
			errs = append(errs, fmt.Errorf("%s/%s: past the end (partition %d ends at offset %d)", r.topic, pos, pos.Partition, s.To))
			continue
		}
		w, ok := want[pos.Partition]
		if !ok {
			w = topics.Span{From: pos.Offset, To: pos.Offset + 1}
		}
		want[pos.Partition] = topics.Span{From: min(w.From, pos.Offset), To: max(w.To, pos.Offset+1)}
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

// read calls fn for each record of partition p in s, then returns; it
// returns errStopped when fn returns false.
func (r *Reader) read(ctx context.Context, p int32, s topics.Span, fn func(*kgo.Record) bool) error {
	err := topics.ReadBounded(ctx, r.cl.Opts(), r.topic, map[int32]topics.Span{p: s}, func(recs []*kgo.Record) error {
		for _, rec := range recs {
			if !fn(rec) {
				return errStopped
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStopped) {
		return fmt.Errorf("deadletter: %w", err)
	}
	return err
}
