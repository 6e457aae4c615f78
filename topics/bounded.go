package topics

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Span is the half-open offset range [From, To) of one partition that a
// bounded read covers.
type Span struct{ From, To int64 }

// Spans returns the span of every partition of topic as it stands now:
// from the log start offset to the last stable offset.
//
// The end is the last stable offset, not the high watermark, because a
// read_committed fetch never returns anything at or past the first offset of
// an open transaction: with the high watermark as the end, a read started
// while a transaction is open would wait for that transaction to end (up to
// its timeout). Everything below the last stable offset is decided, so a read
// up to it never waits. On a topic without transactions the two are equal.
//
// A missing topic is an error that wraps kerr.UnknownTopicOrPartition.
func Spans(ctx context.Context, adm *kadm.Client, topic string) (map[int32]Span, error) {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("topics: start offsets of %s: %w", topic, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("topics: last stable offsets of %s: %w", topic, err)
	}
	out := map[int32]Span{}
	starts.Each(func(o kadm.ListedOffset) {
		if o.Topic != topic {
			return
		}
		if e, ok := ends.Lookup(topic, o.Partition); ok {
			out[o.Partition] = Span{From: o.Offset, To: e.Offset}
		}
	})
	return out, nil
}

// boundedIdle is how long a bounded read waits for a poll that brings
// nothing before it checks with the broker whether the partitions still
// behind have anything left to give; see ReadBounded.
const boundedIdle = 3 * time.Second

// boundedQuiet is how long a partition must have brought nothing, with its
// broker answering, before an idle poll takes it as done (unless retention
// has deleted its whole rest). A broker that has just restarted answers
// listings before its fetches return data (its partitions' leaders are
// still loading, the client is still reconnecting): ending a partition
// after one quiet poll then dropped records below the end, and a decider
// that rebuilt its state from such a read decided commands on a state
// that missed products (404 for products that exist).
var boundedQuiet = 30 * time.Second

// ReadBounded reads the partitions of topic named in spans, each from its
// span's From up to (not including) its To, and returns once every one is
// done. It does not wait for records written later, and it commits nothing
// (no consumer group).
//
// fn receives the data records of one partition from one fetch, in offset
// order, never empty; calls for different partitions interleave, calls for
// one partition come in order. fn may keep the slice and the records.
// When fn returns an error the read stops and returns it unchanged.
//
// The read is read_committed: records of aborted transactions are skipped,
// as are transaction markers, which still count as positions. A partition
// is done when the next offset to read is at or past To, so a span whose
// last offset is a marker ends at that marker, and an empty span (From >=
// To) is done at once. Records at or past To are never handed to fn.
//
// Two things can leave a partition short of To with nothing more to read:
// retention deleted the rest of the span (the read then goes on from the new
// log start: a record deleted before it is read is not an error), or the
// span ends with records of a transaction that was aborted with its marker
// at or past To, which read_committed never returns (another transaction,
// still open when the span was listed, holds the last stable offset before
// that marker). Neither leaves a position to see, so when a poll brings
// nothing for 3s the partitions still behind are checked with a listing of
// their offsets: one whose log now starts at or past To is done (retention),
// and one that has brought nothing for 30s (boundedQuiet) while its broker
// answers is done too (a fetch of records a ready broker has comes back at
// once; 30s, not one quiet poll, because a broker that has just restarted
// answers listings before its fetches return data). A broker that does not
// answer is an error, not an end.
//
// opts are the connection options (seed brokers, TLS, SASL) and may tune the
// fetch sizes; the read adds its own consume options after them. Fetch
// errors are returned wrapped with the topic and partition; ctx ending
// returns ctx's error.
func ReadBounded(ctx context.Context, opts []kgo.Opt, topic string, spans map[int32]Span, fn func(recs []*kgo.Record) error) error {
	ends := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	for p, s := range spans {
		if s.From < s.To {
			ends[p] = s.To
			from[p] = kgo.NewOffset().At(s.From)
		}
	}
	if len(from) == 0 {
		return ctx.Err()
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.FetchMaxWait(250 * time.Millisecond)}, opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), // past records deleted by retention
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Markers are kept only to learn positions: often the last
		// offset before To is the marker of a transaction.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("topics: bounded reader of %s: %w", topic, err)
	}
	defer cl.Close()

	done := func(p int32) {
		delete(ends, p)
		cl.PauseFetchPartitions(map[string][]int32{topic: {p}})
	}
	// lastData is when each partition last brought records (or the read
	// began).
	lastData := map[int32]time.Time{}
	for p := range ends {
		lastData[p] = time.Now()
	}
	for len(ends) > 0 {
		pctx, cancel := context.WithTimeout(ctx, boundedIdle)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			var loss *kgo.ErrDataLoss
			switch {
			case errors.Is(err, context.DeadlineExceeded), errors.As(err, &loss):
				// An idle poll, or retention deleted records before
				// they were read: neither is the reader's failure.
			case ferr == nil:
				ferr = fmt.Errorf("topics: read %s partition %d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		got := false
		var cbErr error
		fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
			end, ok := ends[ftp.Partition]
			if cbErr != nil || ftp.Topic != topic || !ok || len(ftp.Records) == 0 {
				return
			}
			got = true
			lastData[ftp.Partition] = time.Now()
			data, next := dataBefore(ftp.Records, end)
			if len(data) > 0 {
				if cbErr = fn(data); cbErr != nil {
					return
				}
			}
			if next >= end {
				done(ftp.Partition)
			}
		})
		if cbErr != nil {
			return cbErr
		}
		if !got && len(ends) > 0 {
			if err := idleCheck(ctx, cl, topic, ends, lastData, done); err != nil {
				return err
			}
		}
	}
	return nil
}

// dataBefore returns the data records of recs before end and the offset
// after the last record of recs before end (end itself when recs reach it).
// It copies only when it must drop a marker.
func dataBefore(recs []*kgo.Record, end int64) (data []*kgo.Record, next int64) {
	k := len(recs)
	control := false
	for i, r := range recs {
		if r.Offset >= end {
			k = i
			break
		}
		control = control || r.Attrs.IsControl()
	}
	switch {
	case k < len(recs):
		next = end
	case k > 0:
		next = recs[k-1].Offset + 1
	}
	if !control {
		return recs[:k], next
	}
	data = make([]*kgo.Record, 0, k)
	for _, r := range recs[:k] {
		if !r.Attrs.IsControl() {
			data = append(data, r)
		}
	}
	return data, next
}

// idleChecks counts idleCheck's runs, so that tests can tell a read that
// ended at its markers from one that ended by waiting.
var idleChecks atomic.Int64

// idleCheck ends the partitions still behind after a poll that brought
// nothing: those whose log now starts at or past their end (retention
// deleted the rest), and those that have brought nothing for boundedQuiet
// while their broker answers: a fetch of records that read_committed would
// return comes back at once from a broker that is up and ready, so such a
// partition has nothing left below its end. The listing is what tells a
// quiet broker from one that is away: an error there is returned rather
// than taken for the end.
func idleCheck(ctx context.Context, cl *kgo.Client, topic string, ends map[int32]int64, lastData map[int32]time.Time, done func(int32)) error {
	idleChecks.Add(1)
	starts, err := kadm.NewClient(cl).ListStartOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("topics: read %s: start offsets after an idle poll: %w", topic, err)
	}
	for _, p := range slices.Sorted(maps.Keys(ends)) {
		o, ok := starts.Lookup(topic, p)
		switch {
		case !ok:
			return fmt.Errorf("topics: read %s partition %d: the topic has no such partition", topic, p)
		case o.Err != nil:
			return fmt.Errorf("topics: read %s partition %d: idle before offset %d and the broker does not answer: %w", topic, p, ends[p], o.Err)
		case o.Offset >= ends[p] || time.Since(lastData[p]) >= boundedQuiet:
			done(p)
		}
	}
	return nil
}
