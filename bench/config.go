package bench

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/productsearch"
)

// Config shapes one run. Its zero value measures 1M events of 100k products
// on the servers of `make services-up`.
type Config struct {
	// Servers are the Kafka, Redis and Elasticsearch of the run.
	Servers
	// Events is how many events are produced and projected; 1,000,000 when 0.
	Events int
	// Products is how many products the events belong to; Events/10 when 0
	// (100,000 for the default 1M events). Each product's first event
	// creates it, so at most Events.
	Products int
	// Batch is the projection runtime's MaxBatch and the raw sink's pipeline
	// size; 2000 (the runtime's default) when 0.
	Batch int
	// Seed makes the event stream; runs with equal seeds measure equal data.
	Seed uint64
	// Distribution is how the events after the creates pick their product:
	// "zipf" (the default: a few hot products get most events, s = 1.1, as
	// in real catalogues) or "uniform".
	Distribution string
	// Rounds is how many times the projection runs, each on a fresh
	// generation and group between two runs of the raw writes (raw,
	// projection, raw, projection, raw ...); the verdict is the median
	// round's. DefaultRounds when 0.
	Rounds int
	// RedisScript makes bench redis's projection check versions in Apply's
	// script on every batch, as on a Redis Cluster, instead of
	// remembering them per partition (redisview.Store.ApplyIn): to compare
	// the two guards.
	RedisScript bool
	// Out receives progress lines and the final table; nil discards.
	Out io.Writer
	// Logger receives the projection runtime's log (retries, dead
	// letters); nil discards.
	Logger *slog.Logger
}

// DefaultDistribution is the data set's distribution over products when
// Config.Distribution is empty.
const DefaultDistribution = "zipf"

// DefaultRounds is Config.Rounds when 0: the median of three
// alternations. One step's pace on this kind of machine (the servers on the
// same cores) moves by a tenth or more between runs; one round's ratio
// rides on that, the median of three much less.
const DefaultRounds = 3

// Default sizes.
const (
	DefaultEvents = 1_000_000
	DefaultBatch  = 2000
	// The search run's: 1M events, as the Redis run's (at 200k each step
	// lasts a second or two, and Elasticsearch's pace varies by a third
	// between the raw runs before and after the projection), and the
	// search projector's batch.
	DefaultSearchEvents = 1_000_000
	DefaultSearchBatch  = productsearch.Batch
)

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Events < 0 {
		errs = append(errs, fmt.Errorf("bench: Events %d is negative", c.Events))
	}
	if c.Products < 0 {
		errs = append(errs, fmt.Errorf("bench: Products %d is negative", c.Products))
	}
	if c.Batch < 0 {
		errs = append(errs, fmt.Errorf("bench: Batch %d is negative", c.Batch))
	}
	if c.Rounds < 0 {
		errs = append(errs, fmt.Errorf("bench: Rounds %d is negative", c.Rounds))
	}
	if _, err := eventgen.ParseDistribution(c.withDefaults().Distribution); err != nil {
		errs = append(errs, fmt.Errorf("bench: %w", err))
	}
	if d := c.withDefaults(); d.Events > 0 && d.Products > d.Events {
		errs = append(errs, fmt.Errorf("bench: %d products need at least as many events, got %d", d.Products, d.Events))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	c.Servers = c.Servers.withDefaults()
	if c.Events == 0 {
		c.Events = DefaultEvents
	}
	if c.Products == 0 {
		c.Products = max(1, c.Events/10)
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Distribution == "" {
		c.Distribution = DefaultDistribution
	}
	if c.Rounds == 0 {
		c.Rounds = DefaultRounds
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// kafkaOpts are the options of every Kafka client of the run.
func (c Config) kafkaOpts(extra ...kgo.Opt) []kgo.Opt {
	opts := append([]kgo.Opt{kgo.SeedBrokers(c.withDefaults().Brokers...)}, c.KafkaOpts...)
	return append(opts, extra...)
}

// Servers are the servers a benchmark reaches, with the defaults of make
// services-up.
type Servers struct {
	// Brokers are the Kafka seed brokers; 127.0.0.1:9092 when empty.
	Brokers []string
	// RedisAddr is the Redis server; 127.0.0.1:6379 when empty.
	RedisAddr string
	// ElasticsearchURL is the Elasticsearch; http://127.0.0.1:9200 when
	// empty.
	ElasticsearchURL string
	// KafkaOpts are added to every Kafka client of the run: TLS and SASL
	// (cmd/streamview passes connect.Kafka.SecurityOpts).
	KafkaOpts []kgo.Opt
	// Redis, when set, is the Redis client's configuration (TLS, ACL user)
	// and RedisAddr is ignored.
	Redis *redis.Options
	// Elasticsearch, when set, is the Elasticsearch client's configuration
	// (credentials, TLS) and ElasticsearchURL is ignored.
	Elasticsearch *elasticsearch.Config
}

func (s Servers) withDefaults() Servers {
	if len(s.Brokers) == 0 {
		s.Brokers = []string{"127.0.0.1:9092"}
	}
	if s.RedisAddr == "" {
		s.RedisAddr = "127.0.0.1:6379"
	}
	if s.ElasticsearchURL == "" {
		s.ElasticsearchURL = "http://127.0.0.1:9200"
	}
	return s
}
