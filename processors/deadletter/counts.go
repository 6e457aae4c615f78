package deadletter

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/topics"
)

// Counts counts the letters of dead-letter topics per projection group
// (their dlq-projection header), each failed record once: a group read
// again from the start (a replay, a refill after Redis lost its data)
// dead-letters the same records again, and a re-driven copy that fails
// again is the same record (Letter.Origin). A letter that does not say
// where its record was counts alone. A missing topic has none.
//
// It remembers how far it has read each topic, so that a count reads only
// the letters written since the last one: a report polled every few
// seconds over a topic of millions of letters costs what arrived in
// between. When retention deleted letters it had counted, or the topic was
// deleted and made again (another topic ID), it counts the topic again
// from its start (a client's cached metadata may hide a new ID for its
// MetadataMinAge, 5s by default). A
// count stopped by its context keeps what it read, and the next one goes
// on from there.
//
// The zero Counts is ready; it is safe for concurrent use (counts of one
// topic take turns).
type Counts struct {
	mu     sync.Mutex // guards topics
	topics map[string]*tally
	read   atomic.Int64
}

// Read is how many letters c has read from Kafka, over every topic and
// count: what its counts cost.
func (c *Counts) Read() int64 { return c.read.Load() }

// tally is what Counts knows of one topic.
type tally struct {
	turn   chan struct{}
	read   map[int32]topics.Span // per partition: From its log start when counted from it, To the next offset to read
	seed   maphash.Seed
	seen   map[uint64]struct{} // hashes of the origins counted: a million letters take tens of MB, not hundreds
	groups map[string]int64
	id     [16]byte // the topic's ID when counted: another is the topic made again

	last map[string]int64 // the last count returned, under Counts.mu: for a caller that cannot wait for its turn
}

type origin struct {
	group, topic string
	at           Position
}

// Count returns the letters of topic per group. On an error (ctx ending
// among them) it returns the counts read so far with it; when ctx ends
// while another count of topic runs, the last count returned.
func (c *Counts) Count(ctx context.Context, cl *kgo.Client, topic string) (map[string]int64, error) {
	t := c.tally(topic)
	select {
	case t.turn <- struct{}{}:
	case <-ctx.Done():
		c.mu.Lock()
		defer c.mu.Unlock()
		return maps.Clone(t.last), fmt.Errorf("dead letters of %s: %w", topic, ctx.Err())
	}
	defer func() { <-t.turn }()
	counts, err := c.count(ctx, cl, t, topic)
	c.mu.Lock()
	t.last = counts
	c.mu.Unlock()
	return maps.Clone(counts), err
}

// count reads what t has not read of topic; the caller holds t's turn.
func (c *Counts) count(ctx context.Context, cl *kgo.Client, t *tally, topic string) (map[string]int64, error) {
	adm := kadm.NewClient(cl)
	now, err := topics.Spans(ctx, adm, topic)
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.reset()
		return map[string]int64{}, nil
	}
	if err != nil {
		return maps.Clone(t.groups), fmt.Errorf("dead letters of %s: %w", topic, err)
	}
	details, err := adm.ListTopics(ctx, topic)
	if err == nil {
		err = details.Error()
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.reset()
		return map[string]int64{}, nil
	}
	if err != nil {
		return maps.Clone(t.groups), fmt.Errorf("dead letters of %s: %w", topic, err)
	}
	if id := details[topic].ID; id != t.id || t.stale(now) {
		t.reset()
		t.id = id
	}
	for p, s := range now {
		if _, ok := t.read[p]; !ok {
			t.read[p] = topics.Span{From: s.From, To: s.From}
		}
	}
	spans := map[int32]topics.Span{}
	for p, s := range now {
		if next := t.read[p].To; next < s.To {
			spans[p] = topics.Span{From: next, To: s.To}
		}
	}
	err = topics.ReadBounded(ctx, cl.Opts(), topic, spans, func(recs []*kgo.Record) error {
		c.read.Add(int64(len(recs)))
		for _, rec := range recs {
			t.add(FromRecord(rec))
			s := t.read[rec.Partition]
			s.To = rec.Offset + 1
			t.read[rec.Partition] = s
		}
		if afterBatch != nil {
			afterBatch()
		}
		return nil
	})
	if err != nil {
		return maps.Clone(t.groups), fmt.Errorf("dead letters of %s: %w", topic, err)
	}
	// Markers and aborted records below the end are read too.
	for p := range spans {
		s := t.read[p]
		s.To = max(s.To, now[p].To)
		t.read[p] = s
	}
	return maps.Clone(t.groups), nil
}

// afterBatch, when set (by tests), runs after each batch a count reads.
var afterBatch func()

// tally returns topic's tally, made on first use.
func (c *Counts) tally(topic string) *tally {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.topics == nil {
		c.topics = map[string]*tally{}
	}
	t, ok := c.topics[topic]
	if !ok {
		t = &tally{turn: make(chan struct{}, 1), seed: maphash.MakeSeed()}
		t.reset()
		c.topics[topic] = t
	}
	return t
}

// stale reports whether letters t counted are gone: deleted by retention
// (a log start past where t counted from), or the topic made again (an
// end below what t read, a partition gone).
func (t *tally) stale(now map[int32]topics.Span) bool {
	for p, r := range t.read {
		s, ok := now[p]
		if !ok || s.From > r.From || s.To < r.To {
			return true
		}
	}
	return false
}

func (t *tally) reset() {
	t.read = map[int32]topics.Span{}
	t.seen = map[uint64]struct{}{}
	t.groups = map[string]int64{}
}

func (t *tally) add(l Letter) {
	if at, ok := l.Origin(); ok {
		h := maphash.Comparable(t.seed, origin{l.Projection, l.SourceTopic, at})
		if _, ok := t.seen[h]; ok {
			return
		}
		t.seen[h] = struct{}{}
	}
	t.groups[l.Projection]++
}
