package rebuild

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/topics"
)

// ClientID is the Kafka client ID of a rebuild's consumer, so that the
// rebuild can tell a projector that joined its group from itself.
const ClientID = "streamview-rebuild"

// Config declares a rebuild or a replay of one projection. Brokers is
// required; every other field has a working zero value.
type Config struct {
	// Brokers are the Kafka seed brokers. Required.
	Brokers []string
	// ClientOpts are extra Kafka client options (TLS, SASL, a dialer),
	// applied after the package's own to every client it makes.
	ClientOpts []kgo.Opt
	// Topic is the events topic; topics.Events when empty.
	Topic string
	// DeadLetterTopic receives the new generation's dead letters; the
	// runtime's default, topics.DeadLetter(projection), when empty.
	DeadLetterTopic string
	// Decoder decodes the events; a *schemas.Codec when nil.
	Decoder processors.Decoder
	// MaxBatch is the new generation's batch size; the runtime's default
	// (2000) when 0.
	MaxBatch int
	// Aggregates are the aggregate types the new generation takes
	// (processors.Config.Aggregates); the runtime's default when empty.
	Aggregates []string
	// SessionTimeout is the consumer group session of the new
	// generation's processor (processors.Config.SessionTimeout): how long
	// a rebuild whose process crashed keeps its group, and so keeps
	// another from resuming or aborting it. The Kafka client's default
	// (45s) when 0.
	SessionTimeout time.Duration

	// CaughtUpLag is how many records the new group may be behind the end
	// of the topic, summed over partitions, to count as caught up, once it
	// has read the log as it was when the build began; it counts as caught
	// up too when it is then less than a second behind at the rate it
	// consumes. The check and the swap that follow wait for exact
	// offsets either way.
	CaughtUpLag int64
	// KeepOld keeps the old generation's documents (Redis keys,
	// Elasticsearch index) after the swap; its group is deleted either way.
	KeepOld bool
	// Grace is how long after the swap the old generation's documents stay,
	// for queries that read the old pointer just before it. 0: removed at
	// once.
	Grace time.Duration
	// HandoverTimeout bounds the wait for the old generation's projectors
	// to stop when asked. Default 1 minute.
	HandoverTimeout time.Duration
	// AbortTimeout bounds Abort's wait for a rebuild running in another
	// process to stop when asked (it reads its state for the request once
	// a second). Default 30 seconds.
	AbortTimeout time.Duration
	// TakeoverTimeout bounds the wait, after the swap, for a projector to
	// join the new generation's group before the rebuild stops consuming.
	// Default 30 seconds.
	TakeoverTimeout time.Duration
	// Force swaps even when the new generation's document count differs
	// from the log's.
	Force bool

	// Progress, when set, is called every ProgressInterval while the
	// rebuild runs, and at each change of phase.
	Progress func(Progress)
	// ProgressInterval defaults to 1 second.
	ProgressInterval time.Duration
	// Logger receives progress and decisions; nil discards.
	Logger *slog.Logger
	// Hooks, when set, returns the hooks of the new generation's processor
	// (its metrics), as the projector role gives its own.
	Hooks func(gen int) processors.Hooks
	// StoreEpoch, when set, names the data the target's store holds
	// (redisview.Epoch): another value than at the rebuild's start means
	// the store lost its data (a Redis emptied, or restarted without
	// persistence), and what the rebuild had built with it. The rebuild
	// then stops with ErrStoreLost, removes what it built since and its
	// state, and swaps nothing: the new generation would lack what it had
	// written before the loss. Read about once a second while the
	// rebuild builds, and just before the swap.
	StoreEpoch func(ctx context.Context) (string, error)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("rebuild: Brokers is required"))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("rebuild: MaxBatch must not be negative, got %d", c.MaxBatch))
	}
	if c.CaughtUpLag < 0 {
		errs = append(errs, fmt.Errorf("rebuild: CaughtUpLag must not be negative, got %d", c.CaughtUpLag))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Grace", c.Grace}, {"HandoverTimeout", c.HandoverTimeout}, {"AbortTimeout", c.AbortTimeout}, {"TakeoverTimeout", c.TakeoverTimeout}, {"ProgressInterval", c.ProgressInterval}, {"SessionTimeout", c.SessionTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("rebuild: %s must not be negative, got %v", d.name, d.v))
		}
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = topics.Events
	}
	if c.HandoverTimeout == 0 {
		c.HandoverTimeout = time.Minute
	}
	if c.TakeoverTimeout == 0 {
		c.TakeoverTimeout = 30 * time.Second
	}
	if c.AbortTimeout == 0 {
		c.AbortTimeout = 30 * time.Second
	}
	if c.ProgressInterval == 0 {
		c.ProgressInterval = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) kafkaOpts(extra ...kgo.Opt) []kgo.Opt {
	opts := append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, extra...)
	return append(opts, c.ClientOpts...)
}
