package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// stableWaits counts the rounds in which StableEnds found a partition
// behind (for the tests).
var stableWaits atomic.Int64

// StableEnds returns the last stable offset of each partition of topic in ps
// (every partition when ps is empty) once each has reached the end offset
// (high watermark) it had when StableEnds was called. From then on,
// everything written to those partitions before the call can be read
// committed: a read_committed fetch returns the committed records and skips
// the aborted ones, and stops at nothing before that end.
//
// This is what a reader needs after an answer that came at a transaction's
// commit: the broker answers EndTxn before it writes the commit markers, and
// the last stable offset moves past the transaction's records only with its
// markers. A transaction begun after the call does not hold StableEnds back.
//
// A transaction stays open until its producer ends it or the broker aborts it
// at its timeout. After wait, StableEnds returns the stable offsets as they
// are with the partitions still behind in open (in order), and no error: the
// caller decides whether to read up to there or to fail.
func StableEnds(ctx context.Context, adm *kadm.Client, topic string, ps []int32, wait time.Duration) (ends map[int32]int64, open []int32, err error) {
	written, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = written.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("topics: end offsets of %s: %w", topic, err)
	}
	if len(ps) == 0 {
		ps = nil // not the caller's array
		written.Each(func(o kadm.ListedOffset) {
			if o.Topic == topic {
				ps = append(ps, o.Partition)
			}
		})
		slices.Sort(ps)
	}
	err = poll(ctx, wait, func() (bool, error, error) {
		stable, err := adm.ListCommittedOffsets(ctx, topic)
		if err == nil {
			err = stable.Error()
		}
		if err != nil {
			return false, nil, fmt.Errorf("topics: last stable offsets of %s: %w", topic, err)
		}
		ends = make(map[int32]int64, len(ps))
		open = nil
		for _, p := range ps {
			s, ok := stable.Lookup(topic, p)
			w, wok := written.Lookup(topic, p)
			if !ok || !wok {
				return false, nil, fmt.Errorf("topics: %s has no partition %d", topic, p)
			}
			ends[p] = s.Offset
			if s.Offset < w.Offset {
				open = append(open, p)
			}
		}
		if len(open) == 0 {
			return true, nil, nil
		}
		stableWaits.Add(1)
		return false, fmt.Errorf("partitions %v behind", open), nil
	})
	switch {
	case err == nil, errors.Is(err, errNotSettled):
		return ends, open, nil
	case ctx.Err() != nil:
		return nil, nil, fmt.Errorf("topics: waiting for the last stable offsets of %s (partitions %v behind): %w", topic, open, err)
	default:
		return nil, nil, err
	}
}
