package esindex

import (
	"sync/atomic"
	"time"
)

// Stats counts what an Index's Apply did since New.
type Stats struct {
	Events     int64 // events received
	Applied    int64 // events folded into a written document
	Duplicates int64 // events skipped: the stored document had their version
	Writes     int64 // documents written
	Conflicts  int64 // writes that met a version conflict and were re-folded
	Throttled  int64 // writes refused with 429/5xx and sent again
	Permanent  int64 // documents rejected for good
	CacheHits  int64 // products folded from the cache, without an _mget
	// NewGuesses counts products taken to be new without an _mget: not
	// cached, their events starting with version 1 (written with
	// op_type=create; a conflict means the guess was wrong).
	NewGuesses int64
	Mgets      int64 // _mget requests
	Bulks      int64 // _bulk requests
	// Refused counts the _bulk and _mget requests refused whole (400, 413),
	// whose documents were sent again in halves.
	Refused int64
	// MgetTime and BulkTime add up the time spent in those requests (by all
	// concurrent Apply calls).
	MgetTime, BulkTime time.Duration
	// FannedOut counts documents a rename's fan-out joined with the new
	// name; Rejoined those a product write joined again because a rename
	// overtook it (Apply's recheck).
	FannedOut, Rejoined int64
}

type stats struct {
	events, applied, duplicates, writes, conflicts, throttled, permanent, cacheHits, newGuesses, mgets, bulks, refused, mgetNanos, bulkNanos, fannedOut, rejoined atomic.Int64
}

// Stats returns the counters so far.
func (ix *Index) Stats() Stats {
	s := &ix.stats
	return Stats{
		Events: s.events.Load(), Applied: s.applied.Load(), Duplicates: s.duplicates.Load(),
		Writes: s.writes.Load(), Conflicts: s.conflicts.Load(), Throttled: s.throttled.Load(),
		Permanent: s.permanent.Load(), CacheHits: s.cacheHits.Load(), NewGuesses: s.newGuesses.Load(), Mgets: s.mgets.Load(), Bulks: s.bulks.Load(), Refused: s.refused.Load(),
		MgetTime: time.Duration(s.mgetNanos.Load()), BulkTime: time.Duration(s.bulkNanos.Load()),
		FannedOut: s.fannedOut.Load(), Rejoined: s.rejoined.Load(),
	}
}
