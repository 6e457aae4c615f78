package processors

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/topics"
)

// Config declares one projection generation.
type Config struct {
	// Name of the projection, e.g. "product-view". Required.
	Name string
	// Generation is the projection's generation, 1 or more. Required.
	Generation int
	// Topic is the events topic; topics.Events when empty.
	Topic string
	// DeadLetterTopic receives records that can never be applied;
	// topics.DeadLetter(Name) (catalog.<Name>.dlq) when empty.
	DeadLetterTopic string
	// DeadLettered reports a record of the topic whose dead letter this
	// group wrote before: a group reset to read its log again into a
	// store that starts empty (dev's in-memory ones) does not write it
	// twice. nil: every bad record is dead-lettered.
	DeadLettered func(partition int32, offset int64) bool
	// Aggregates are the aggregate types whose events the projection
	// takes; events of other types that share the topic (such as a
	// product's webhook subscriptions) are skipped: committed, never
	// applied. [schemas.AggregateProduct] when empty.
	Aggregates []string
	// MaxBatch bounds the records handed to the projection at once; 2000
	// when 0.
	MaxBatch int
	// BatchesPerPoll is how many batches one poll may bring: a lane takes
	// the whole batches of its part, applies them one after another while
	// the next is decoded, and commits their offsets together after the
	// last (a rest shorter than a batch goes with the next poll's records).
	// 8 when 0; 1 turns the overlap off.
	BatchesPerPoll int
	// Concurrency is how many partitions' batches are applied at once; 8
	// when 0. The projection must then be safe for concurrent use; 1 applies
	// one batch at a time.
	Concurrency int
	// MinApplyInterval is the least time between the starts of two
	// batches of one partition's lane: records that come sooner wait for
	// it, and go in the same batch as the records that come meanwhile (up
	// to MaxBatch; a lane that holds a full batch does not wait). A lane
	// that was idle for that long applies at once, so only a busy partition
	// pays: at most this much added latency, for up to MaxBatch times fewer
	// Apply calls (round trips to the store) than one per poll. 0 applies
	// as soon as the lane is free.
	MinApplyInterval time.Duration
	// CommitInterval is the least time between two commits of the
	// applied offsets (one commit carries every lane's progress since the
	// previous one). Applied records not yet committed come again to the
	// next owner after a crash, which the projection tolerates. 100ms when
	// 0, as Kafka Streams commits under exactly-once; negative commits as
	// soon as the previous commit is done.
	CommitInterval time.Duration
	// DrainTimeout bounds how long a rebalance waits for the lanes of the
	// revoked partitions to apply and commit what they hold; what is left
	// then is abandoned, to come again to the next owner. 30s when 0: under
	// the group's rebalance timeout (60s by default), so that a sink that is
	// down does not get the member evicted.
	DrainTimeout time.Duration
	// SessionTimeout is the consumer group session timeout: how long the
	// group waits for a member that stopped heartbeating (a process
	// killed, a machine gone) before its partitions go to the others, so
	// how long they go unprojected after a crash. A member that stops
	// cleanly leaves at once whatever it is. Heartbeats go every quarter
	// of it. 0 keeps the Kafka client's default (45s); the broker accepts
	// values between its group.min.session.timeout.ms and
	// group.max.session.timeout.ms (6s and 30min by default).
	SessionTimeout time.Duration
	// MinBackoff and MaxBackoff bound the retry delay of a failing sink
	// (a backoff.Policy); 50ms and 5s when 0, a default never crossing a
	// bound that is set. The delay doubles per attempt with full jitter.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives progress and errors; nil discards.
	Logger *slog.Logger
	// Hooks watch the runner for metrics and traces; the zero value
	// watches nothing.
	Hooks Hooks
}

// DefaultCommitInterval is Config.CommitInterval when it is 0.
const DefaultCommitInterval = 100 * time.Millisecond

// Group is the consumer group of the generation.
func (c Config) Group() string { return GroupName(c.Name, c.Generation) }

// GroupName is the consumer group of generation gen of projection name.
func GroupName(name string, gen int) string { return fmt.Sprintf("streamview.%s.g%d", name, gen) }

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("processors: Name is required"))
	}
	if c.Generation < 1 {
		errs = append(errs, fmt.Errorf("processors: Generation must be at least 1, got %d", c.Generation))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("processors: MaxBatch must not be negative"))
	}
	if c.MinApplyInterval < 0 {
		errs = append(errs, fmt.Errorf("processors: MinApplyInterval must not be negative"))
	}
	if c.DrainTimeout < 0 {
		errs = append(errs, fmt.Errorf("processors: DrainTimeout must not be negative"))
	}
	if c.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("processors: Concurrency must not be negative"))
	}
	if c.BatchesPerPoll < 0 {
		errs = append(errs, fmt.Errorf("processors: BatchesPerPoll must not be negative"))
	}
	if c.SessionTimeout < 0 {
		errs = append(errs, fmt.Errorf("processors: SessionTimeout must not be negative"))
	}
	if err := c.retryPolicy().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("processors: %w", err))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = topics.Events
	}
	if c.DeadLetterTopic == "" {
		c.DeadLetterTopic = topics.DeadLetter(c.Name)
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 2000
	}
	if c.Concurrency == 0 {
		c.Concurrency = 8
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 30 * time.Second
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = DefaultCommitInterval
	}
	if c.BatchesPerPoll == 0 {
		c.BatchesPerPoll = 8
	}
	bo := c.retryPolicy().WithDefaults(backoff.DefaultMin, backoff.DefaultMax)
	c.MinBackoff, c.MaxBackoff = bo.Min, bo.Max
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// retryPolicy is the backoff between attempts to apply a batch or to
// produce dead letters.
func (c Config) retryPolicy() backoff.Policy {
	return backoff.Policy{Min: c.MinBackoff, Max: c.MaxBackoff}
}
