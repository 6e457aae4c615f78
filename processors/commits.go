package processors

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/internal/logkey"
)

// commits commits what the lanes have applied, for every partition in one
// request, in the background: a lane hands over the offset after the
// records it has stored (and dead-lettered) and goes on with its next
// records instead of waiting for the round trip. kgo runs a group's
// commits one at a time, so lanes that each committed their own polls
// queued behind each other's round trips; now a round trip carries every
// lane's progress since the last one.
//
// Only offsets of stored records are ever handed over, so a commit never
// covers a record that was not applied; what is applied but not yet
// committed when a member dies comes again to the next owner, which the
// projection tolerates (Apply is idempotent). A partition leaving (revoked
// or lost) first waits out a commit in flight; a revoked partition's
// applied offsets are then committed at once, a lost one's dropped.
type commits struct {
	cl     *kgo.Client
	stats  *stats
	log    *slog.Logger
	policy backoff.Policy
	// interval is the least time from one commit's start to the next's.
	interval time.Duration

	mu      sync.Mutex // guards pending
	pending map[topicPartition]*appliedPart
	wake    chan struct{} // capacity 1: something was handed over

	inflight sync.Mutex // held for a commit round trip and its bookkeeping
}

// appliedPart is a partition's applied progress not yet committed: the
// offset after its last stored record, and the counts the stats take once
// the commit succeeds.
type appliedPart struct {
	at                  kgo.EpochOffset
	data, applied, dead int
}

func newCommits(cl *kgo.Client, st *stats, log *slog.Logger, policy backoff.Policy, interval time.Duration) *commits {
	return &commits{cl: cl, stats: st, log: log, policy: policy, interval: interval, pending: map[topicPartition]*appliedPart{}, wake: make(chan struct{}, 1)}
}

// applied hands over tp's records up to and including last: stored, their
// dead letters produced. data, applied and dead are what they count.
func (c *commits) applied(tp topicPartition, last *kgo.Record, data, applied, dead int) {
	at := kgo.EpochOffset{Epoch: last.LeaderEpoch, Offset: last.Offset + 1}
	c.mu.Lock()
	pa := c.pending[tp]
	if pa == nil {
		pa = &appliedPart{at: at}
		c.pending[tp] = pa
	}
	if pa.at.Less(at) {
		pa.at = at
	}
	pa.data, pa.applied, pa.dead = pa.data+data, pa.applied+applied, pa.dead+dead
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run commits what is handed over until ctx ends: at most one commit in
// flight and one per interval, each carrying everything applied since the
// previous one. (At 1,000 commands/s, committing as soon as the previous
// commit was done made 160-190 OffsetCommit requests a second for the
// view and search projections together; at 100ms they make about 20.) A
// failed commit is tried again after a backoff (and with whatever was
// applied meanwhile), until it succeeds or its partitions leave.
func (c *commits) run(ctx context.Context) {
	bo := c.policy.Start()
	for {
		select {
		case <-c.wake:
		case <-ctx.Done():
			return
		}
		began := time.Now()
		if c.commit(ctx, nil) {
			bo = c.policy.Start()
			if !backoff.Sleep(ctx, c.interval-time.Since(began)) {
				return
			}
			continue
		}
		if !backoff.Sleep(ctx, bo.Next()) {
			return
		}
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// commit commits the pending offsets of only's partitions (all when only
// is nil) and reports whether every one of them was committed. Those that
// fail stay pending, merged with what was applied meanwhile. The commit is
// bounded by commitTimeout and outlives ctx: what is stored need not come
// again.
func (c *commits) commit(ctx context.Context, only []topicPartition) bool {
	c.inflight.Lock()
	defer c.inflight.Unlock()
	c.mu.Lock()
	taken := map[topicPartition]*appliedPart{}
	for tp, pa := range c.pending {
		if only == nil || containsTP(only, tp) {
			taken[tp] = pa
			delete(c.pending, tp)
		}
	}
	c.mu.Unlock()
	if len(taken) == 0 {
		return true
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	for tp, pa := range taken {
		if offsets[tp.topic] == nil {
			offsets[tp.topic] = map[int32]kgo.EpochOffset{}
		}
		offsets[tp.topic][tp.partition] = pa.at
	}
	failed := map[topicPartition]error{}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	c.cl.CommitOffsetsSync(cctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			for tp := range taken {
				failed[tp] = err
			}
			return
		}
		answered := map[topicPartition]bool{}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				tp := topicPartition{t.Topic, p.Partition}
				answered[tp] = true
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					failed[tp] = err
				}
			}
		}
		for tp := range taken {
			if !answered[tp] {
				failed[tp] = kerr.UnknownServerError
			}
		}
	})
	cancel()

	var done struct{ data, applied, dead int }
	committed := map[int32]int64{}
	c.mu.Lock()
	for tp, pa := range taken {
		if err, ok := failed[tp]; ok {
			c.log.Warn("commit failed; trying again (the records are applied again by the next owner should the partition move first)",
				logkey.Topic, tp.topic, logkey.Partition, tp.partition, logkey.Offset, pa.at.Offset, "err", err)
			if now := c.pending[tp]; now != nil { // applied more meanwhile: commit that, count both
				now.data, now.applied, now.dead = now.data+pa.data, now.applied+pa.applied, now.dead+pa.dead
			} else {
				c.pending[tp] = pa
			}
			continue
		}
		committed[tp.partition] = pa.at.Offset
		done.data, done.applied, done.dead = done.data+pa.data, done.applied+pa.applied, done.dead+pa.dead
	}
	c.mu.Unlock()
	if len(committed) > 0 {
		c.stats.record(committed, done.data, done.applied, done.dead)
	}
	return len(failed) == 0
}

// leave ends tps' pending commits once no commit is in flight: with
// commit, what their lanes applied is committed first (revoked partitions,
// or a stop while they are still ours), else it is dropped (lost ones:
// another member may own them already, and this member's commit would
// overwrite its progress).
func (c *commits) leave(ctx context.Context, tps []topicPartition, commit bool) {
	if len(tps) == 0 {
		return
	}
	if commit {
		c.commit(ctx, tps)
	}
	c.inflight.Lock()
	defer c.inflight.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tp := range tps {
		delete(c.pending, tp)
	}
}

func containsTP(tps []topicPartition, tp topicPartition) bool {
	for _, x := range tps {
		if x == tp {
			return true
		}
	}
	return false
}
