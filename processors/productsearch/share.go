package productsearch

import "github.com/streamview/streamview/schemas"

// Share is one product's share of a batch: its events in the batch's order
// (version order), with their positions in the batch. A search index folds
// a share into one document write, and names a refused event by its
// position in a *batch.Error.
type Share struct {
	ID     string
	Events []schemas.Event
	At     []int // At[i] is the batch index of Events[i]
}

// Shares splits a batch per product, keeping each product's order and the
// order in which products first appear.
func Shares(events []schemas.Event) []*Share {
	byID := make(map[string]*Share)
	var out []*Share
	for i, e := range events {
		s := byID[e.AggregateID]
		if s == nil {
			s = &Share{ID: e.AggregateID}
			byID[e.AggregateID] = s
			out = append(out, s)
		}
		s.Events = append(s.Events, e)
		s.At = append(s.At, i)
	}
	return out
}

// MaxVersion is the newest version among s's events.
func (s *Share) MaxVersion() int64 {
	var v int64
	for _, e := range s.Events {
		v = max(v, e.Version)
	}
	return v
}

// FirstNew is the index into s.Events of the first event newer than
// version, or -1 when none is.
func (s *Share) FirstNew(version int64) int {
	for i, e := range s.Events {
		if e.Version > version {
			return i
		}
	}
	return -1
}
