package decider

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// Defaults of Config.
const (
	DefaultGroup              = "streamview.decider"
	DefaultMaxBatch           = 1000
	DefaultTransactionTimeout = 10 * time.Second
	DefaultIdempotencyWindow  = 24 * time.Hour
	DefaultMaxDecided         = 250_000
	// DefaultMaxDecidedBytes holds DefaultMaxDecided outcomes of commands
	// with UUID IDs (196 bytes each, see decidedBytes), so that the count
	// stays the bound for them while longer IDs are bounded by bytes.
	DefaultMaxDecidedBytes  = DefaultMaxDecided * (36 + decidedOverhead)
	DefaultRetryMin         = time.Second
	DefaultRetryMax         = 5 * time.Second
	DefaultSnapshotEvery    = 10_000
	DefaultSnapshotInterval = time.Minute
	// MetadataMinAge is the least time between two metadata refreshes of
	// the decider's client (franz-go's default is 5 s). Kafka 4 (KIP-890)
	// may answer a produce in a new transaction CONCURRENT_TRANSACTIONS
	// while the previous transaction's markers are still being written.
	// franz-go v1.22 retries the records only after a metadata refresh,
	// and an answer within the minimum age of the last refresh waited it
	// out: a transaction, and every command in it, was held up to 5 s
	// (seen on the 3-broker cluster). Java clients retry it after 100 ms,
	// doubling to 1 s, without a refresh. The cost: while a partition of
	// the decider's topics has no leader, its client asks for metadata
	// about ten times a second instead of once in 5 s. ClientOpts can
	// set another kgo.MetadataMinAge.
	MetadataMinAge = 100 * time.Millisecond
)

// Config declares a decider. The zero value with Brokers set works.
type Config struct {
	// Brokers are the seed brokers. Required.
	Brokers []string
	// CommandsTopic, EventsTopic and ResultsTopic default to
	// topics.Commands, topics.Events and topics.CommandResults. The three
	// topics must have the same number of partitions, and the results
	// topic must retain records for at least IdempotencyWindow.
	CommandsTopic, EventsTopic, ResultsTopic string
	// StateTopic is the compacted snapshot topic, co-partitioned with
	// the others; topics.State when "". See the package documentation,
	// "Snapshots".
	StateTopic string
	// SnapshotEvery is how many decided commands of a partition lead to
	// a snapshot of the products they changed, written in the same
	// transaction as the batch that reaches it; DefaultSnapshotEvery
	// (10,000) when 0, no snapshots at all (and no state topic needed)
	// when negative. A restore reads at most about this many commands'
	// events beyond the snapshot.
	SnapshotEvery int
	// SnapshotInterval bounds how long changed products wait for a
	// snapshot when fewer than SnapshotEvery commands come;
	// DefaultSnapshotInterval (1 min) when 0.
	SnapshotInterval time.Duration
	// Group is the consumer group on the commands topic; DefaultGroup
	// when "".
	Group string
	// TransactionalID must be unique per running instance. Default: the
	// host name and a random suffix. Set a stable one per replica (a
	// StatefulSet pod name) where you can: a restarted instance then
	// fences its predecessor and ends its open transaction at once,
	// instead of after TransactionTimeout.
	TransactionalID string
	// Rules are the catalogue's rules (its currency).
	Rules product.Rules
	// Logger receives progress and errors; nil discards.
	Logger *slog.Logger

	// MaxBatch bounds the commands decided in one transaction;
	// DefaultMaxBatch when 0.
	MaxBatch int
	// TransactionTimeout is how long the broker lets a transaction stay
	// open before it aborts it; DefaultTransactionTimeout (10s) when 0.
	// After a crash, the events and results partitions the dead instance
	// wrote to stay unreadable (read_committed) for up to this long.
	TransactionTimeout time.Duration
	// StableWait bounds how long a partition's state rebuild waits for
	// transactions open on its events partition to end; default
	// TransactionTimeout + 5s, so that a crashed owner's transaction has
	// been aborted by the broker before the read.
	StableWait time.Duration
	// IdempotencyWindow is how long a decided command ID is remembered,
	// also across restarts (see the package documentation);
	// DefaultIdempotencyWindow (24h) when 0.
	IdempotencyWindow time.Duration
	// MaxDecided bounds the remembered command IDs per partition, the
	// oldest forgotten first; DefaultMaxDecided (250,000, some 25 MiB)
	// when 0. Past about MaxDecided × partitions commands a day, the
	// effective window is shorter than IdempotencyWindow.
	MaxDecided int
	// MaxDecidedBytes bounds the memory of the remembered command IDs per
	// partition (each counted by decidedBytes: its ID's length plus 160),
	// the oldest forgotten first; DefaultMaxDecidedBytes (some 47 MiB)
	// when 0. A process's whole memory of outcomes is at most this times
	// the partitions it owns.
	MaxDecidedBytes int64
	// Retry spaces the attempts after a failure: a batch aborted because
	// its partitions' state cannot be built or its commands decoded now,
	// and a new session after one that failed. The pause doubles, with
	// jitter, from Retry.Min (DefaultRetryMin, 1s) up to Retry.Max
	// (DefaultRetryMax, 5s), and starts again from Min after a committed
	// batch.
	Retry backoff.Policy
	// SessionTimeout and RebalanceTimeout of the group member; the
	// franz-go defaults (45s, 60s) when 0.
	SessionTimeout, RebalanceTimeout time.Duration
	// ClientOpts are extra Kafka connection options (TLS, SASL, a
	// dialer), applied after the decider's own to every client it makes.
	ClientOpts []kgo.Opt
	// Hooks watch the decider for metrics and traces; the zero value
	// watches nothing.
	Hooks Hooks
	// Outcomes, when set, is told the outcomes of each transaction the
	// decider committed, in the batch's order, once the broker has
	// acknowledged the commit: the very results that read_committed
	// readers of ResultsTopic will read, known here a fetch sooner (the
	// commit markers, then the readers' fetch). Never those of a
	// transaction that aborted or whose end failed. An API in the same
	// process passes its results reader's Deliver
	// (commandbus.Results.Deliver), so that a Prefer: wait is answered
	// without that round trip; the results topic stays the way for every
	// other instance. It is called on the decider's goroutine, between
	// batches: it must not block. It must not keep the slice.
	Outcomes func([]schemas.CommandResult)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("decider: Brokers is required"))
	}
	d := c.withDefaults()
	if d.CommandsTopic == d.EventsTopic || d.CommandsTopic == d.ResultsTopic || d.EventsTopic == d.ResultsTopic {
		errs = append(errs, fmt.Errorf("decider: the commands (%s), events (%s) and results (%s) topics must differ",
			d.CommandsTopic, d.EventsTopic, d.ResultsTopic))
	}
	if d.snapshots() && (d.StateTopic == d.CommandsTopic || d.StateTopic == d.EventsTopic || d.StateTopic == d.ResultsTopic) {
		errs = append(errs, fmt.Errorf("decider: the state topic (%s) must differ from the commands, events and results topics", d.StateTopic))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("decider: MaxBatch must not be negative, got %d", c.MaxBatch))
	}
	if c.MaxDecided < 0 {
		errs = append(errs, fmt.Errorf("decider: MaxDecided must not be negative, got %d", c.MaxDecided))
	}
	if c.MaxDecidedBytes < 0 {
		errs = append(errs, fmt.Errorf("decider: MaxDecidedBytes must not be negative, got %d", c.MaxDecidedBytes))
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"TransactionTimeout", c.TransactionTimeout}, {"StableWait", c.StableWait},
		{"IdempotencyWindow", c.IdempotencyWindow}, {"SessionTimeout", c.SessionTimeout},
		{"RebalanceTimeout", c.RebalanceTimeout}, {"SnapshotInterval", c.SnapshotInterval},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("decider: %s must not be negative, got %v", f.name, f.v))
		}
	}
	if c.TransactionTimeout > 0 && c.TransactionTimeout < time.Second {
		errs = append(errs, fmt.Errorf("decider: TransactionTimeout must be at least 1s, got %v", c.TransactionTimeout))
	}
	if err := c.Retry.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("decider: Retry: %w", err))
	}
	if err := c.Rules.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("decider: %w", err))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.CommandsTopic == "" {
		c.CommandsTopic = topics.Commands
	}
	if c.EventsTopic == "" {
		c.EventsTopic = topics.Events
	}
	if c.ResultsTopic == "" {
		c.ResultsTopic = topics.CommandResults
	}
	if c.StateTopic == "" {
		c.StateTopic = topics.State
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = DefaultSnapshotEvery
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	if c.Group == "" {
		c.Group = DefaultGroup
	}
	if c.TransactionalID == "" {
		c.TransactionalID = defaultTransactionalID()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.TransactionTimeout == 0 {
		c.TransactionTimeout = DefaultTransactionTimeout
	}
	if c.StableWait == 0 {
		c.StableWait = c.TransactionTimeout + 5*time.Second
	}
	if c.IdempotencyWindow == 0 {
		c.IdempotencyWindow = DefaultIdempotencyWindow
	}
	if c.MaxDecided == 0 {
		c.MaxDecided = DefaultMaxDecided
	}
	if c.MaxDecidedBytes == 0 {
		c.MaxDecidedBytes = DefaultMaxDecidedBytes
	}
	c.Retry = c.Retry.WithDefaults(DefaultRetryMin, DefaultRetryMax)
	return c
}

// snapshots reports whether the decider writes and reads snapshots.
func (c Config) snapshots() bool { return c.SnapshotEvery >= 0 }

func defaultTransactionalID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "streamview-decider-" + host + "-" + hex.EncodeToString(b[:])
}
