package decider

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// DefaultMembers is the members a Members runs when asked for 0.
const DefaultMembers = 1

// Members runs several deciders of one configuration in one process: each
// is its own member of the group, with its own transactional producer
// (Config.TransactionalID with "-m<i>" appended when there is more than
// one) and its own states, and decides the partitions the group gives it
// in its own serial transactions.
//
// Why: a decider runs one Kafka transaction at a time (begin, produce the
// events and results, commit the offsets, end), and a transactional
// producer cannot begin the next before the last has ended (with Kafka 4's
// KIP-890, franz-go's EndAndBeginTransaction no longer overlaps them).
// So one member's rate is its batch size over a transaction's broker round
// trips, and every command waits for the transaction in flight before its
// own. Members on disjoint partitions run their transactions side by
// side. Exactly once holds as it does between decider processes: a
// partition has one owner at a time, and a new owner rebuilds its state
// from the committed log (see the package documentation).
//
// More members than partitions leaves the extra ones idle (they take over
// when a member's session ends).
type Members struct {
	ds []*Decider
}

// NewMembers returns n deciders of cfg (DefaultMembers when n is 0).
func NewMembers(cfg Config, codec Codec, n int) (*Members, error) {
	if n < 0 {
		return nil, fmt.Errorf("decider: members must not be negative, got %d", n)
	}
	if n == 0 {
		n = DefaultMembers
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base := cfg.withDefaults().TransactionalID
	m := &Members{}
	for i := range n {
		c := cfg
		c.TransactionalID = base
		if n > 1 {
			c.TransactionalID = fmt.Sprintf("%s-m%d", base, i)
		}
		d, err := New(c, codec)
		if err != nil {
			return nil, err
		}
		m.ds = append(m.ds, d)
	}
	return m, nil
}

// Deciders are the members, for tests and stats per member.
func (m *Members) Deciders() []*Decider { return m.ds }

// Config is the first member's configuration (the members differ only in
// their TransactionalID).
func (m *Members) Config() Config { return m.ds[0].Config() }

// Run runs every member until ctx ends and returns the first error a
// member returned (see Decider.Run), after the others have stopped.
func (m *Members) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, d := range m.ds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Run(ctx); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
				cancel() // one member cannot run: neither can the rest
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Health is the first failing member's health, or a healthy one.
func (m *Members) Health() Health {
	for _, d := range m.ds {
		if h := d.Health(); h.Failing {
			return h
		}
	}
	return Health{}
}

// Stats sums the members' counters.
func (m *Members) Stats() Stats {
	var s Stats
	for _, d := range m.ds {
		t := d.Stats()
		s.Decided += t.Decided
		s.Accepted += t.Accepted
		s.Rejected += t.Rejected
		s.Duplicates += t.Duplicates
		s.Undecodable += t.Undecodable
		s.Events += t.Events
		s.Committed += t.Committed
		s.Aborted += t.Aborted
		s.Sessions += t.Sessions
		s.Rebuilds += t.Rebuilds
		s.RebuildEvents += t.RebuildEvents
		s.RebuildTime += t.RebuildTime
		s.UndecodableEvents += t.UndecodableEvents
		s.SnapshotRestores += t.SnapshotRestores
		s.SnapshotProducts += t.SnapshotProducts
		s.Snapshots += t.Snapshots
		s.SnapshotRecords += t.SnapshotRecords
		s.Partitions += t.Partitions
	}
	return s
}
