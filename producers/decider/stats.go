package decider

import (
	"sync/atomic"
	"time"

	"github.com/streamview/streamview/schemas"
)

// Stats are the decider's counters since New. Decisions count once their
// transaction has committed.
type Stats struct {
	Decided     int64 // commands decided (accepted + rejected)
	Accepted    int64
	Rejected    int64
	Duplicates  int64 // commands whose ID was decided already: answered again, no events
	Undecodable int64 // command records that did not decode
	Events      int64 // events produced

	Committed int64 // transactions committed
	Aborted   int64 // transactions aborted (their commands come again)
	Sessions  int64 // group sessions started (more than 1: a session failed)

	Rebuilds          int64         // partition states built from the events topic
	RebuildEvents     int64         // events read by those rebuilds
	RebuildTime       time.Duration // time spent in them, waits for open transactions included
	UndecodableEvents int64         // events that did not decode while rebuilding
	// SnapshotRestores counts rebuilds that started from a snapshot
	// (the rest replayed the partition's whole events log);
	// SnapshotProducts the product records they read.
	SnapshotRestores, SnapshotProducts int64
	// Snapshots counts committed transactions that wrote a snapshot,
	// SnapshotRecords the records they wrote (products and checkpoints).
	Snapshots, SnapshotRecords int64

	Partitions int // partition states held now
}

type counters struct {
	decided, accepted, rejected, duplicates, undecodable, events   atomic.Int64
	committed, aborted, sessions                                   atomic.Int64
	rebuilds, rebuildEvents, rebuildNanos, undecodableEvents       atomic.Int64
	snapshotRestores, snapshotProducts, snapshots, snapshotRecords atomic.Int64
}

// tally counts one batch until it commits.
type tally struct {
	accepted, rejected, duplicates, undecodable, events int64
	// results are the outcomes of the batch's result records, in order,
	// kept only for Config.Outcomes.
	results []schemas.CommandResult
}

func (c *counters) add(t tally) {
	c.decided.Add(t.accepted + t.rejected)
	c.accepted.Add(t.accepted)
	c.rejected.Add(t.rejected)
	c.duplicates.Add(t.duplicates)
	c.undecodable.Add(t.undecodable)
	c.events.Add(t.events)
}

// Stats returns the current counters.
func (d *Decider) Stats() Stats {
	c := &d.stats
	return Stats{
		Decided: c.decided.Load(), Accepted: c.accepted.Load(), Rejected: c.rejected.Load(),
		Duplicates: c.duplicates.Load(), Undecodable: c.undecodable.Load(), Events: c.events.Load(),
		Committed: c.committed.Load(), Aborted: c.aborted.Load(), Sessions: c.sessions.Load(),
		Rebuilds: c.rebuilds.Load(), RebuildEvents: c.rebuildEvents.Load(),
		RebuildTime: time.Duration(c.rebuildNanos.Load()), UndecodableEvents: c.undecodableEvents.Load(),
		SnapshotRestores: c.snapshotRestores.Load(), SnapshotProducts: c.snapshotProducts.Load(),
		Snapshots: c.snapshots.Load(), SnapshotRecords: c.snapshotRecords.Load(),
		Partitions: d.reg.len(),
	}
}
