package webhook

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/topics"
)

// Group is the notifier's consumer group. It has no generations: a
// projection rebuild never touches it.
const Group = "streamview.notifier"

// Name is the notifier's name in dead letters and `streamview dlq
// --projection notifier` (its dead-letter topic is catalog.notifier.dlq).
const Name = "notifier"

// Config configures the notifier. The zero value works with the defaults
// below.
type Config struct {
	// Group is the consumer group; Group when empty.
	Group string
	// Topic is the events topic; topics.Events when empty.
	Topic string
	// DeadLetterTopic receives notifications given up on;
	// topics.DeadLetter(Name) when empty.
	DeadLetterTopic string
	// Workers is how many deliveries run at once (each to another
	// subscription); 16 when 0.
	Workers int
	// Timeout bounds one attempt, answer included; 10s when 0.
	Timeout time.Duration
	// Retry is the backoff between attempts of one notification (full
	// jitter); 1s to 10m when zero.
	Retry backoff.Policy
	// DeadLetterAfter is how long a notification is retried before it
	// goes to the dead-letter topic; 24h when 0.
	DeadLetterAfter time.Duration
	// StopOnGone makes a receiver's 410 Gone final: that notification is
	// dead-lettered at once and its subscription's later ones go to the
	// dead-letter topic unsent. Off, a 410 is retried as any failure (the
	// HTTP contract's "other answers retry").
	StopOnGone bool
	// Lease is how long a worker holds a subscription it took (no other
	// notifier instance delivers to it meanwhile, which keeps its order);
	// a crashed worker's subscriptions are free again after it. At least
	// twice Timeout; max(30s, 3×Timeout) when 0.
	Lease time.Duration
	// SessionTimeout is the consumer group session timeout: how long a
	// crashed member holds its partitions. Kafka's client default (45s)
	// when 0.
	SessionTimeout time.Duration
	// Poll is how often the deliverer looks for due subscriptions; 100ms
	// when 0.
	Poll time.Duration
	// Allowed re-checks each target URL before an attempt (the API checked
	// it when the subscription was made; the allowlist may have changed
	// since). A URL it refuses is dead-lettered unsent. nil allows all.
	Allowed func(*url.URL) bool
	// Logger receives progress and errors; nil discards.
	Logger *slog.Logger
	// Refold says the store started without its subscriptions and queues
	// while the group kept its offsets (dev's in-memory Redis), but knows
	// the Webhook-Ids delivered and dead-lettered (dev reads them back from
	// a journal): the notifier then reads each partition from its start the
	// first time it is given it, folding the subscriptions again and
	// queuing again what is not done (the store skips the rest). Records
	// below the offset the group had committed are not dead-lettered again
	// (the run before did that), and its commits never move the group back,
	// so a stop during that read loses nothing.
	Refold bool
	// Recovery, when set, is how the notifier finds its store whole
	// again after the store lost its data (a Redis emptied, or restarted
	// without persistence): it asks Lost at its start and every
	// CheckEvery, and after a loss it stops, has Recovery restore what
	// outlives the store (the Webhook-Ids delivered and dead-lettered)
	// and reads the log again as under Refold. nil: a store that cannot
	// lose its data.
	Recovery Recovery
	// CheckEvery is how often Recovery.Lost is asked; 1s when 0.
	CheckEvery time.Duration
	// Horizon bounds what the notifier remembers. An event older than
	// Horizon when it is read queues no notification (a stale price drop
	// or return to stock; counted in Stats.Stale), and every TrimEvery
	// the store forgets the Webhook-Ids finished (delivered or
	// dead-lettered) before now − Horizon − Skew (Trim). That is safe: a
	// Webhook-Id finished at t belongs to an event no later than t, so
	// once t is before now − Horizon − Skew its event is older than the
	// horizon, even on a clock up to Skew behind, and no redelivery,
	// replay or refold queues it again: its record is no longer needed.
	// It must exceed DeadLetterAfter plus Skew, so that an event does not
	// pass the horizon while its notification may still be retried.
	// 0: never; every Webhook-Id is kept for ever.
	Horizon time.Duration
	// TrimEvery is how often the store is trimmed under Horizon; 1h when
	// 0.
	TrimEvery time.Duration
	// Skew is the margin kept beyond Horizon for clocks that disagree
	// (the decider's, which stamps events, and the notifiers'); 1h when
	// 0.
	Skew time.Duration
}

// DefaultSkew is Config.Skew's default.
const DefaultSkew = time.Hour

// DefaultDeadLetterAfter is Config.DeadLetterAfter's default.
const DefaultDeadLetterAfter = 24 * time.Hour

// Stale reports whether an event stamped at ts is older than the horizon
// at now, and queues no notification; never without a Horizon.
func (c Config) Stale(ts, now time.Time) bool {
	return c.Horizon > 0 && ts.Before(now.Add(-c.Horizon))
}

// TrimBefore is the time before which a finished Webhook-Id is no longer
// needed at now: now − Horizon − Skew; the zero time (keep everything)
// without a Horizon. Read-backs of a journal skip what it says is older.
func (c Config) TrimBefore(now time.Time) time.Time {
	if c.Horizon <= 0 {
		return time.Time{}
	}
	return now.Add(-c.Horizon - cmp.Or(c.Skew, DefaultSkew))
}

// Recovery is a store's way back after a loss; see Config.Recovery.
type Recovery interface {
	// Lost reports whether the store lost its data since the last
	// Restore, or, at the notifier's start, while no notifier ran.
	Lost(ctx context.Context) (bool, error)
	// Restore puts back into the store the Webhook-Ids delivered and
	// dead-lettered (kept where the loss did not reach them) and marks the
	// store whole, so that Lost answers false until the next loss. The
	// notifier then reads the log again: the subscriptions fold again, and
	// what was queued and not done is queued again.
	Restore(ctx context.Context) error
}

// HorizonTooShort reports whether a notification could be retried past
// the Horizon: a Horizon that does not exceed DeadLetterAfter plus Skew
// (their defaults when 0). Validate refuses such a Config.
func (c Config) HorizonTooShort() bool {
	d := c.withDefaults()
	return c.Horizon > 0 && c.Horizon <= d.DeadLetterAfter+d.Skew
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("webhook: Workers %d is negative", c.Workers))
	}
	if c.Timeout < 0 || c.DeadLetterAfter < 0 || c.Lease < 0 || c.Poll < 0 || c.CheckEvery < 0 || c.Horizon < 0 || c.TrimEvery < 0 || c.Skew < 0 {
		errs = append(errs, errors.New("webhook: Timeout, DeadLetterAfter, Lease, Poll, CheckEvery, Horizon, TrimEvery and Skew must not be negative"))
	}
	if d := c.withDefaults(); c.HorizonTooShort() {
		errs = append(errs, fmt.Errorf("webhook: Horizon %v must exceed DeadLetterAfter %v plus Skew %v: a notification is retried for up to DeadLetterAfter, and its event must not pass the horizon meanwhile", c.Horizon, d.DeadLetterAfter, d.Skew))
	}
	if err := c.Retry.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("webhook: Retry: %w", err))
	}
	if d := c.withDefaults(); d.Lease < 2*d.Timeout {
		errs = append(errs, fmt.Errorf("webhook: Lease %v must be at least twice Timeout %v", d.Lease, d.Timeout))
	}
	return errors.Join(errs...)
}

// DefaultTimeout is a delivery attempt's timeout when Config.Timeout is 0.
const DefaultTimeout = 10 * time.Second

func (c Config) withDefaults() Config {
	if c.Group == "" {
		c.Group = Group
	}
	if c.Topic == "" {
		c.Topic = topics.Events
	}
	if c.DeadLetterTopic == "" {
		c.DeadLetterTopic = topics.DeadLetter(Name)
	}
	if c.Workers == 0 {
		c.Workers = 16
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	c.Retry = c.Retry.WithDefaults(time.Second, 10*time.Minute)
	if c.DeadLetterAfter == 0 {
		c.DeadLetterAfter = DefaultDeadLetterAfter
	}
	if c.Lease == 0 {
		c.Lease = max(30*time.Second, 3*c.Timeout)
	}
	if c.Poll == 0 {
		c.Poll = 100 * time.Millisecond
	}
	if c.CheckEvery == 0 {
		c.CheckEvery = time.Second
	}
	if c.TrimEvery == 0 {
		c.TrimEvery = time.Hour
	}
	if c.Skew == 0 {
		c.Skew = DefaultSkew
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
