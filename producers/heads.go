package producers

import (
	"context"
	"errors"
	"fmt"
	"maps"
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

// stableWait bounds HeadReader.Read's wait for open transactions to end.
const stableWait = 10 * time.Second

// Progress is told how many of a read's records have been read, at most
// once a second and once at the end.
type Progress func(read, total int64)

// HeadReader reads an events topic to learn where the logs of the
// aggregates in Want stand. The log is folded as the decider folds it: an
// event at or below an aggregate's version is skipped. Each Read goes on
// from where the last stopped, so a reader can catch up with what was
// written meanwhile.
//
// Only records whose aggregate-id header names an ID in Want (or that have
// none) are decoded, so the cost is one pass over the topic's records. A
// record among them that does not decode makes its aggregate's Head Broken
// (by its header; without one, by its key as the decider does: a product,
// and the subscriptions that follow it, or a category or brand), as it
// makes the decider refuse the aggregate's commands.
type HeadReader struct {
	Opts     []kgo.Opt // connection options (seed brokers, TLS, SASL)
	Admin    *kadm.Client
	Topic    string
	Decoder  Decoder
	Want     map[Aggregate]bool
	Progress Progress // nil: none

	heads map[Aggregate]Head
	next  map[int32]int64 // per partition, the offset the next Read starts at
	ids   map[string][]Aggregate
}

// Heads returns where each aggregate of Want stands after the reads so
// far; one the log holds no event of is absent (its Head is the zero
// Head). The map is the reader's: do not modify it.
func (r *HeadReader) Heads() map[Aggregate]Head { return r.heads }

// Ends returns, per partition, the offset up to which the reads so far
// have read.
func (r *HeadReader) Ends() map[int32]int64 { return maps.Clone(r.next) }

// Read reads from where the last Read stopped (the log start the first
// time) up to the ends the partitions have now, once their open
// transactions have ended (a decider that stopped just after a commit:
// its commit is answered before its markers are written); it fails when
// one stays open for 10s: a decider is writing. A topic that does not
// exist holds no events.
func (r *HeadReader) Read(ctx context.Context) error {
	if r.heads == nil {
		r.heads, r.next, r.ids = map[Aggregate]Head{}, map[int32]int64{}, map[string][]Aggregate{}
		for a := range r.Want {
			r.ids[a.ID] = append(r.ids[a.ID], a)
		}
	}
	spans, err := topics.Spans(ctx, r.Admin, r.Topic)
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil
	}
	if err != nil {
		return err
	}
	ends, open, err := topics.StableEnds(ctx, r.Admin, r.Topic, nil, stableWait)
	if err != nil {
		return err
	}
	if len(open) > 0 {
		return fmt.Errorf("%s partitions %v hold a transaction open for over %v: a decider is writing; stop it and publish again", r.Topic, open, stableWait)
	}
	var total, read int64
	for p, s := range spans {
		if n, ok := r.next[p]; ok {
			s.From = max(s.From, n)
		}
		s.To = ends[p]
		spans[p] = s
		total += max(0, s.To-s.From)
	}
	last := time.Now()
	err = topics.ReadBounded(ctx, r.Opts, r.Topic, spans, func(recs []*kgo.Record) error {
		for _, rec := range recs {
			r.fold(rec)
		}
		read += int64(len(recs))
		if r.Progress != nil && time.Since(last) >= time.Second {
			last = time.Now()
			r.Progress(min(read, total), total)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading %s to see where its aggregates stand: %w", r.Topic, err)
	}
	for p, s := range spans {
		r.next[p] = max(r.next[p], s.To)
	}
	if r.Progress != nil && total > 0 {
		r.Progress(total, total) // markers are offsets too: read holds only the records
	}
	return nil
}

// fold applies one record to the heads.
func (r *HeadReader) fold(rec *kgo.Record) {
	id := Header(rec, HeaderAggregateID)
	if id != "" && len(r.ids[id]) == 0 {
		return
	}
	e, err := r.Decoder.DecodeEvent(rec.Value)
	if err != nil {
		why := fmt.Sprintf("the event at %s partition %d offset %d does not decode: %v", rec.Topic, rec.Partition, rec.Offset, err)
		for _, a := range r.brokenBy(id, string(rec.Key)) {
			h := r.heads[a]
			h.Broken = why
			r.heads[a] = h
		}
		return
	}
	a := AggregateOf(e)
	if !r.Want[a] {
		return
	}
	if h := r.heads[a]; e.Version > h.Version {
		r.heads[a] = h.Next(e)
	}
}

// brokenBy returns the aggregates of Want an undecodable record stops: by
// its aggregate-id header; without one, by its key, as the decider reads
// it (a category's or brand's reference key, or a product's ID, which its
// subscriptions follow).
func (r *HeadReader) brokenBy(id, key string) []Aggregate {
	if id != "" {
		return r.ids[id]
	}
	if typ, ref, ok := schemas.ParseReferenceKey(key); ok {
		if a := (Aggregate{Type: typ, ID: ref}); r.Want[a] {
			return []Aggregate{a}
		}
		return nil
	}
	var out []Aggregate
	for a := range r.Want {
		switch a.Type {
		case schemas.AggregateProduct:
			if a.ID == key {
				out = append(out, a)
			}
		case schemas.AggregateSubscription:
			if p, ok := schemas.SubscriptionProduct(a.ID); ok && p == key {
				out = append(out, a)
			}
		}
	}
	return out
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
