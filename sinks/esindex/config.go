package esindex

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/schemas"
)

// Config configures an Index. Its zero value works: every field has a
// default, applied by New.
type Config struct {
	// IndexPrefix names the concrete indices, <IndexPrefix>-g<N>.
	// Default "product-search".
	IndexPrefix string
	// Alias is the read alias that Search and Count query and that
	// SwapAlias moves. Default "product-search".
	Alias string
	// Generation is the generation Apply writes to. Default 1.
	Generation int
	// Currency is the catalogue currency: the unit of price filters and of
	// the price facet bands. Default "EUR".
	Currency string

	// Shards is the number of primary shards of a new index. Default 1: it
	// keeps facet counts exact and scores equal between pages, and one shard
	// holds millions of products.
	Shards int
	// Replicas of a new index. Default 0 (a single-node cluster).
	Replicas int
	// RefreshInterval of a new index: how soon writes become searchable.
	// Default "1s".
	RefreshInterval string
	// Refresh is the refresh parameter of Apply's bulk requests: "" (the
	// default: Apply does not wait for visibility), "wait_for" or "true".
	Refresh string

	// BulkMaxDocs, BulkMaxBytes and BulkFlushInterval are the thresholds of
	// the bulk writer: a bulk request is sent when it holds BulkMaxDocs
	// documents (default 5000, also the size of one _mget), when it reaches
	// BulkMaxBytes of body (default 5 MiB), or when its oldest document has
	// waited BulkFlushInterval while the batch is still being folded
	// (default 1s). Apply always sends what is left before returning.
	BulkMaxDocs       int
	BulkMaxBytes      int
	BulkFlushInterval time.Duration
	// MaxRounds bounds how often Apply re-reads and re-folds documents whose
	// write met a version conflict or a 429/5xx item before it returns a
	// retryable error. Default 10.
	MaxRounds int
	// CacheDocs is how many documents Apply remembers after writing them,
	// with their _seq_no, so that a product's next batch is folded without an
	// _mget (the conditional write still checks it). Default
	// DefaultCacheDocs (200,000); negative disables the cache. A product
	// the cache has forgotten costs a realtime _mget before its write,
	// which Elasticsearch pays in CPU (1M events of 100k products: 13.5–16.8
	// µs per event with 50,000 remembered, 10.5–14.1 with all of them).
	CacheDocs int
	// CacheBytes bounds the same cache by the size of its documents' JSON:
	// a document may be up to ~34 KB, so 200,000 of them could take 6.8 GB.
	// Past either bound the documents written longest ago are forgotten
	// first. Default 64 MiB, which usually comes first: about 150,000
	// documents of 444 bytes (eventgen's), about 80 MB of heap (a cached
	// document takes 1.25 times its JSON). It must not be negative.
	CacheBytes int64
	// Retry spaces the rounds that re-send throttled (429/5xx) documents:
	// the pause doubles each round, with jitter, from Retry.Min (default
	// 100ms) up to Retry.Max (default 5s).
	Retry backoff.Policy

	// Logger receives debug and warning records; nil discards them.
	Logger *slog.Logger
}

// DefaultCacheBytes is Config.CacheBytes when not set: 64 MiB.
const DefaultCacheBytes = 64 << 20

// DefaultCacheDocs is Config.CacheDocs when not set.
const DefaultCacheDocs = 200_000

// DefaultBulkMaxDocs and DefaultBulkMaxBytes are Config.BulkMaxDocs and
// Config.BulkMaxBytes when not set.
const (
	DefaultBulkMaxDocs  = 5000
	DefaultBulkMaxBytes = 5 << 20
)

func (c Config) withDefaults() Config {
	if c.IndexPrefix == "" {
		c.IndexPrefix = "product-search"
	}
	if c.Alias == "" {
		c.Alias = "product-search"
	}
	if c.Generation == 0 {
		c.Generation = 1
	}
	if c.Currency == "" {
		c.Currency = "EUR"
	}
	if c.Shards == 0 {
		c.Shards = 1
	}
	if c.RefreshInterval == "" {
		c.RefreshInterval = "1s"
	}
	if c.BulkMaxDocs == 0 {
		c.BulkMaxDocs = DefaultBulkMaxDocs
	}
	if c.BulkMaxBytes == 0 {
		c.BulkMaxBytes = DefaultBulkMaxBytes
	}
	if c.BulkFlushInterval == 0 {
		c.BulkFlushInterval = time.Second
	}
	if c.MaxRounds == 0 {
		c.MaxRounds = 10
	}
	if c.CacheDocs == 0 {
		c.CacheDocs = DefaultCacheDocs
	}
	if c.CacheBytes == 0 {
		c.CacheBytes = DefaultCacheBytes
	}
	c.Retry = c.Retry.WithDefaults(100*time.Millisecond, 5*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem of c (after defaults) at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if err := validName(c.IndexPrefix); err != nil {
		errs = append(errs, fmt.Errorf("IndexPrefix: %w", err))
	}
	if err := validName(c.Alias); err != nil {
		errs = append(errs, fmt.Errorf("Alias: %w", err))
	} else if _, ok := parseGeneration(c.IndexPrefix, c.Alias); ok {
		errs = append(errs, fmt.Errorf("Alias %q has the form of a generation index of IndexPrefix %q", c.Alias, c.IndexPrefix))
	}
	if c.Generation < 1 {
		errs = append(errs, fmt.Errorf("Generation %d: must be 1 or more", c.Generation))
	}
	if !schemas.ValidCurrency(c.Currency) {
		errs = append(errs, fmt.Errorf("Currency %q: not an ISO 4217 code", c.Currency))
	}
	if c.Shards < 1 || c.Replicas < 0 {
		errs = append(errs, fmt.Errorf("Shards %d, Replicas %d: need at least 1 shard and no negative replicas", c.Shards, c.Replicas))
	}
	switch c.Refresh {
	case "", "wait_for", "true", "false":
	default:
		errs = append(errs, fmt.Errorf("Refresh %q: must be empty, wait_for, true or false", c.Refresh))
	}
	if c.BulkMaxDocs < 1 || c.BulkMaxBytes < 1 || c.BulkFlushInterval < 0 {
		errs = append(errs, errors.New("BulkMaxDocs, BulkMaxBytes must be positive and BulkFlushInterval not negative"))
	}
	if c.MaxRounds < 1 {
		errs = append(errs, errors.New("MaxRounds must be positive"))
	}
	if c.CacheBytes < 0 {
		errs = append(errs, fmt.Errorf("CacheBytes %d: must not be negative (CacheDocs < 0 disables the cache)", c.CacheBytes))
	}
	if err := c.Retry.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("Retry: %w", err))
	}
	return errors.Join(errs...)
}

// validName checks the rules of an Elasticsearch index or alias name.
func validName(s string) error {
	switch {
	case s == "" || len(s) > 200:
		return fmt.Errorf("%q: must be 1 to 200 bytes", s)
	case s != strings.ToLower(s):
		return fmt.Errorf("%q: must be lower case", s)
	case strings.ContainsAny(s, `\/*?"<>| ,#:`):
		return fmt.Errorf(`%q: must not contain \ / * ? " < > | space , # :`, s)
	case strings.HasPrefix(s, "-") || strings.HasPrefix(s, "_") || strings.HasPrefix(s, "+") || s == "." || s == "..":
		return fmt.Errorf("%q: must not start with -, _ or +", s)
	}
	return nil
}
