package bleveindex

import "sync/atomic"

// Stats counts what an Index's Apply did since it was opened.
type Stats struct {
	Events     int64 // events received
	Applied    int64 // events folded into a written document
	Duplicates int64 // events skipped: the stored document had their version
	Writes     int64 // documents written
	Batches    int64 // bleve batches written
	Permanent  int64 // documents rejected for good
}

type stats struct {
	events, applied, duplicates, writes, batches, permanent atomic.Int64
}

// Stats returns the counters so far.
func (ix *Index) Stats() Stats {
	s := &ix.stats
	return Stats{
		Events: s.events.Load(), Applied: s.applied.Load(), Duplicates: s.duplicates.Load(),
		Writes: s.writes.Load(), Batches: s.batches.Load(), Permanent: s.permanent.Load(),
	}
}
