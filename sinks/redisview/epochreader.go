package redisview

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultEpochMaxAge is EpochReader's max age when NewEpochReader is given
// 0: a little under the one-second poll of serve's watchers (the
// followers' Lost, the notifier's recovery), so that the pollers of one
// process share one read per poll however their ticks fall (a tick a few
// milliseconds early does not find the last read still young), and a loss
// is seen at most that much later than by a read of its own.
const DefaultEpochMaxAge = 900 * time.Millisecond

// EpochReader reads Epoch for the pollers of one process: on a Redis
// Cluster one read is 129 GETs (EpochKey and its sentinels), and each
// poller reading its own once a second multiplied them. A read younger
// than its max age (measured from when it was sent) is answered again;
// callers that come while a read is under way wait for it; an error is
// answered to those who waited for that read, and kept for no one. A
// read never replaces one sent after it, so a caller never sees an epoch
// older than one it was answered before. It is safe for concurrent use;
// its zero value is not: use NewEpochReader.
type EpochReader struct {
	client redis.UniversalClient
	maxAge time.Duration
	now    func() time.Time
	read   func(context.Context) (string, error)
	logger *slog.Logger

	mu     sync.Mutex
	seq    uint64       // reads sent so far
	last   *epochRead   // the newest read answered without error
	flight *epochFlight // the newest read under way, nil when none
	// clock is the highest ClockKey value a read that has ended saw
	// under clockEpoch, the epoch it read with it.
	clock      int64
	clockEpoch string
	// clockRefused is set once a bump of ClockKey was refused by Redis
	// (and warned of).
	clockRefused bool
}

// epochRead is an epoch read and when it was sent.
type epochRead struct {
	epoch string
	sent  time.Time
	seq   uint64
}

// epochFlight is a read under way: done is closed once epoch and err are
// set. waiters counts the callers that joined it (a test's condition).
type epochFlight struct {
	seq     uint64
	sent    time.Time
	done    chan struct{}
	epoch   string
	err     error
	waiters int
}

// NewEpochReader returns a reader of client's Epoch whose answers are at
// most maxAge old; 0 is DefaultEpochMaxAge, a negative maxAge reads
// every time (callers under way at once still share a read).
func NewEpochReader(client redis.UniversalClient, maxAge time.Duration) *EpochReader {
	if maxAge == 0 {
		maxAge = DefaultEpochMaxAge
	}
	r := &EpochReader{client: client, maxAge: maxAge, now: time.Now}
	r.read = r.readTicking
	return r
}

// Log sets the logger that warns, once, when Redis refuses the bump of
// ClockKey (an ACL without write access to it, NOPERM): without it a
// Redis back from an older snapshot goes unseen. It returns r.
func (r *EpochReader) Log(l *slog.Logger) *EpochReader {
	r.logger = l
	return r
}

// readTicking reads the epoch and bumps ClockKey. Under the same epoch,
// a value not above the highest one a read ended before this one saw
// means Redis went back in time (restarted from an older snapshot, a
// failover to a lagging replica): it lost writes, though it kept
// EpochKey, so the read moves EpochKey to a new epoch, the loss every
// poller then sees. Under a new epoch the loss is seen already (an
// emptied Redis, another process's move), and the count starts again. A
// failed bump is not a loss (a Redis that refuses writes fails the
// projectors anyway).
func (r *EpochReader) readTicking(ctx context.Context) (string, error) {
	r.mu.Lock()
	base, baseEpoch := r.clock, r.clockEpoch
	r.mu.Unlock()
	epoch, err := Epoch(ctx, r.client)
	if err != nil {
		return "", err
	}
	clock, err := r.client.Incr(ctx, ClockKey).Result()
	if err != nil {
		r.clockFailed(err)
		return epoch, nil
	}
	back := epoch == baseEpoch && clock <= base
	if back {
		// Of the processes that see it, the first moves EpochKey; the
		// others' moves find it moved and do nothing.
		if err := changeEpoch.Run(ctx, r.client, []string{EpochKey}, epoch, newEpoch()).Err(); err != nil {
			return "", fmt.Errorf("redis: changing %s after Redis went back in time (%s %d, %d seen before): %w", EpochKey, ClockKey, clock, base, err)
		}
		if epoch, err = Epoch(ctx, r.client); err != nil {
			return "", err
		}
	}
	r.mu.Lock()
	if back || epoch != r.clockEpoch {
		r.clock, r.clockEpoch = clock, epoch
	} else {
		r.clock = max(r.clock, clock)
	}
	r.mu.Unlock()
	return epoch, nil
}

// clockFailed warns, once, of a bump of ClockKey that Redis refuses for
// good: the user may not (NOPERM), or the key holds something else. A
// transient refusal (READONLY during a failover, LOADING, OOM) and a
// network error fail the next reads anyway, and are left to them.
func (r *EpochReader) clockFailed(err error) {
	if !redis.HasErrorPrefix(err, "NOPERM") && !redis.HasErrorPrefix(err, "WRONGTYPE") && !redis.HasErrorPrefix(err, "value is not an integer") {
		return
	}
	r.mu.Lock()
	first := !r.clockRefused
	r.clockRefused = true
	r.mu.Unlock()
	if first && r.logger != nil {
		r.logger.Warn("Redis refuses the bump of "+ClockKey+": a Redis restarted from an older snapshot or failed over to a lagging replica will not be seen, and the writes it lost stay missing from the views; give the Redis user write access to the key",
			"key", ClockKey, "err", err)
	}
}

// Epoch returns Redis's epoch (Epoch) as read at most the max age ago,
// reading it when no read is that young: the call of a poller.
func (r *EpochReader) Epoch(ctx context.Context) (string, error) {
	r.mu.Lock()
	if l := r.last; l != nil && r.now().Sub(l.sent) < r.maxAge {
		r.mu.Unlock()
		return l.epoch, nil
	}
	f := r.flight
	if f != nil {
		f.waiters++
	} else {
		f = r.start()
	}
	r.mu.Unlock()
	return r.wait(ctx, f)
}

// Fresh returns Redis's epoch as read by a read sent after the call: the
// call of one that has reason to believe Redis lost data just now (a
// script that found its mark gone), or that compares the epoch with a
// state it has just read. It replaces what Epoch answers.
func (r *EpochReader) Fresh(ctx context.Context) (string, error) {
	r.mu.Lock()
	f := r.start()
	r.mu.Unlock()
	return r.wait(ctx, f)
}

// start sends a read; r.mu is held. The read runs without ctx's
// cancellation: others may wait for it. Its commands are bounded by the
// client's timeouts.
func (r *EpochReader) start() *epochFlight {
	r.seq++
	f := &epochFlight{seq: r.seq, sent: r.now(), done: make(chan struct{})}
	r.flight = f
	go func() {
		ctx := context.Background()
		f.epoch, f.err = r.read(ctx)
		r.mu.Lock()
		if r.flight == f {
			r.flight = nil
		}
		if f.err == nil && (r.last == nil || r.last.seq < f.seq) {
			r.last = &epochRead{epoch: f.epoch, sent: f.sent, seq: f.seq}
		}
		r.mu.Unlock()
		close(f.done)
	}()
	return f
}

func (r *EpochReader) wait(ctx context.Context, f *epochFlight) (string, error) {
	select {
	case <-f.done:
		return f.epoch, f.err
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}
