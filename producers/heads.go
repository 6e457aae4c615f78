package producers

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// Decoder turns a record value into an event; *schemas.Codec is one.
type Decoder interface {
	DecodeEvent([]byte) (schemas.Event, error)
}

// stableWait bounds ReadHeads' wait for open transactions to end.
const stableWait = 10 * time.Second

// Progress is told how many of a read's records have been read, at most
// once a second and once at the end.
type Progress func(read, total int64)

// ReadHeads reads topic as it stands (every partition, up to its last
// stable offset, read_committed) and returns where the log of each
// aggregate in want stands. An aggregate the log holds no event of is
// absent (its Head is the zero Head). The log is folded as the decider
// folds it: an event at or below an aggregate's version is skipped.
//
// Only records whose aggregate-id header names an ID in want (or that have
// none) are decoded, so the cost is one pass over the topic's records. A
// record among them that does not decode makes its aggregate's Head
// Broken (by its header, else by its key), as it makes the decider refuse
// the aggregate's commands.
//
// The read goes up to the ends the partitions had when it began, once
// their open transactions have ended (a decider that stopped just after a
// commit), and fails when one stays open for 10s: a decider is writing.
//
// A topic that does not exist holds no events: the result is empty.
func ReadHeads(ctx context.Context, opts []kgo.Opt, adm *kadm.Client, topic string, dec Decoder, want map[Aggregate]bool, progress Progress) (map[Aggregate]Head, error) {
	heads := map[Aggregate]Head{}
	spans, err := topics.Spans(ctx, adm, topic)
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return heads, nil
	}
	if err != nil {
		return nil, err
	}
	// Up to the ends written before the read, once their transactions
	// have ended: a decider's commit is answered before its markers are
	// written, and a read up to the stable offset then would miss it.
	ends, open, err := topics.StableEnds(ctx, adm, topic, nil, stableWait)
	if err != nil {
		return nil, err
	}
	if len(open) > 0 {
		return nil, fmt.Errorf("%s partitions %v hold a transaction open for over %v: a decider is writing; stop it and publish again", topic, open, stableWait)
	}
	for p, s := range spans {
		s.To = ends[p]
		spans[p] = s
	}
	ids := map[string][]Aggregate{}
	for a := range want {
		ids[a.ID] = append(ids[a.ID], a)
	}
	var total, read int64
	for _, s := range spans {
		total += max(0, s.To-s.From)
	}
	last := time.Now()
	err = topics.ReadBounded(ctx, opts, topic, spans, func(recs []*kgo.Record) error {
		for _, r := range recs {
			id := Header(r, HeaderAggregateID)
			if id != "" && len(ids[id]) == 0 {
				continue
			}
			e, err := dec.DecodeEvent(r.Value)
			if err != nil {
				if id == "" {
					id = string(r.Key) // as the decider marks a product broken
				}
				for _, a := range ids[id] {
					h := heads[a]
					h.Broken = fmt.Sprintf("the event at %s partition %d offset %d does not decode: %v", r.Topic, r.Partition, r.Offset, err)
					heads[a] = h
				}
				continue
			}
			a := AggregateOf(e)
			if !want[a] {
				continue
			}
			if h := heads[a]; e.Version > h.Version {
				heads[a] = h.Next(e)
			}
		}
		read += int64(len(recs))
		if progress != nil && time.Since(last) >= time.Second {
			last = time.Now()
			progress(min(read, total), total)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s to see where its aggregates stand: %w", topic, err)
	}
	if progress != nil && total > 0 {
		progress(total, total) // markers are offsets too: read holds only the records
	}
	return heads, nil
}

// Break is an event that does not continue its aggregate's log.
type Break struct {
	Index int // in the events given
	Err   error
}

// Breaks checks that events, in order, continue the logs whose heads are
// given, and returns each event that does not. An event that breaks its
// aggregate's log is not appended to it, so its aggregate's later events
// break too. heads is not modified.
func Breaks(heads map[Aggregate]Head, events []schemas.Event) []Break {
	next := make(map[Aggregate]Head, len(heads))
	var out []Break
	for i, e := range events {
		a := AggregateOf(e)
		h, ok := next[a]
		if !ok {
			h = heads[a]
		}
		if err := Continues(h, e); err != nil {
			out = append(out, Break{Index: i, Err: err})
			next[a] = h
			continue
		}
		next[a] = h.Next(e)
	}
	return out
}
