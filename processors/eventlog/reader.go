package eventlog

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/processors/producthistory"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// Index is the part of producthistory.Store the reader needs.
type Index interface {
	Range(ctx context.Context, id string, from int64, n int) ([]producthistory.Entry, int64, error)
}

// Decoder turns a record value into an event; *schemas.Codec is one.
type Decoder interface {
	DecodeEvent([]byte) (schemas.Event, error)
}

// Config configures a Reader.
type Config struct {
	// Topic is the events topic; topics.Events when empty.
	Topic string
	// Client reads the topic: a long-lived plain client of the caller's,
	// which stays the caller's to close. Required.
	Client *kgo.Client
}

// Reader reads products' events; safe for concurrent use.
type Reader struct {
	index Index
	dec   Decoder
	cfg   Config
}

// ErrIndex is wrapped by the errors of a record that is not the event the
// index names: the index and the topic disagree (a topic recreated under a
// kept index); replay the product-history projection.
var ErrIndex = errors.New("the history index does not match the events topic")

// New returns a Reader of the events the index locates.
func New(cfg Config, index Index, dec Decoder) (*Reader, error) {
	if cfg.Client == nil {
		return nil, errors.New("eventlog: a Kafka Client is required")
	}
	if cfg.Topic == "" {
		cfg.Topic = topics.Events
	}
	return &Reader{index: index, dec: dec, cfg: cfg}, nil
}

// Events returns up to limit events of product id from version from on, in
// version order; next is the version after them when the index holds more
// (0 otherwise), and found is false for a product the index does not know.
func (r *Reader) Events(ctx context.Context, id string, from int64, limit int) (events []schemas.Event, next int64, found bool, err error) {
	entries, total, err := r.index.Range(ctx, id, from, limit)
	if err != nil {
		return nil, 0, false, fmt.Errorf("eventlog: %w", err)
	}
	if total == 0 {
		return nil, 0, false, nil
	}
	byPartition := map[int32][]int64{}
	for _, e := range entries {
		byPartition[e.Partition] = append(byPartition[e.Partition], e.Offset)
	}
	recs := map[int32]map[int64]*kgo.Record{}
	for p, offs := range byPartition {
		got, err := topics.ReadAt(ctx, r.cfg.Client, r.cfg.Topic, p, offs)
		if err != nil {
			return nil, 0, true, fmt.Errorf("eventlog: events of %s: %w", id, err)
		}
		recs[p] = got
	}
	events = make([]schemas.Event, 0, len(entries))
	for _, e := range entries {
		rec, ok := recs[e.Partition][e.Offset]
		if !ok {
			return nil, 0, true, fmt.Errorf("eventlog: %s version %d: no record at %s partition %d offset %d: %w", id, e.Version, r.cfg.Topic, e.Partition, e.Offset, ErrIndex)
		}
		ev, err := r.dec.DecodeEvent(rec.Value)
		if err != nil {
			return nil, 0, true, fmt.Errorf("eventlog: %s version %d at %s partition %d offset %d: %w", id, e.Version, r.cfg.Topic, e.Partition, e.Offset, err)
		}
		if ev.AggregateID != id || ev.Version != e.Version {
			return nil, 0, true, fmt.Errorf("eventlog: %s partition %d offset %d holds %s version %d, not %s version %d: %w",
				r.cfg.Topic, e.Partition, e.Offset, ev.AggregateID, ev.Version, id, e.Version, ErrIndex)
		}
		events = append(events, ev)
	}
	if n := from + int64(len(events)); len(events) == limit && n <= total {
		next = n
	}
	return slices.Clip(events), next, true, nil
}
