package redisview

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
)

// Config configures a Store. Its zero value is invalid only for lack of a
// Projection.
type Config struct {
	// Projection names the projection whose documents the store holds, such
	// as "product-view"; it is part of every key. Required: lower-case ASCII
	// letters, digits, '-', '_' and '.'.
	Projection string
	// ScanCount is the COUNT hint of each SCAN and so the most keys Clear
	// unlinks per round trip. Default 1000.
	ScanCount int
	// DocsPerCall is the most documents one script call of Apply carries:
	// on a single server (a *redis.Client) any documents, on a cluster (a
	// *redis.ClusterClient) documents of one hash slot. Default 100; 1 makes
	// one call per document, as a ring or any other client always gets.
	DocsPerCall int
	// DocsPerPipeline is the most documents one round trip of Apply
	// carries; a larger batch goes out in several at once. Default 500.
	DocsPerPipeline int
	// LiveCache is how long Get (and GetMany of generation 0) trusts the
	// live generation this Store last read or set before it reads the
	// pointer again: a view read is then one round trip, not two. Default
	// 100ms; negative: read the pointer on every Get. A swap made through
	// this Store (SetLive) is seen at once; one made elsewhere (a rebuild
	// in another process) reaches this Store's reads within LiveCache, so
	// a rebuild's grace period must be longer (its default is 30 s).
	LiveCache time.Duration
	// VersionCache is the most document versions ApplyIn keeps per
	// partition and generation, on a single server, to write without the
	// script (see ApplyIn); past it they are dropped and read again as
	// needed, and Forget drops a partition's (the runtime's word that the
	// partition went elsewhere). Default 32768 (about 4 MB a partition);
	// negative: ApplyIn goes through Apply's script as a cluster does.
	VersionCache int
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.Projection == "" {
		errs = append(errs, errors.New("redis store: Projection is required"))
	}
	for _, r := range c.Projection {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			errs = append(errs, fmt.Errorf("redis store: Projection %q: only a-z, 0-9, '-', '_' and '.' are allowed", c.Projection))
			break
		}
	}
	if c.ScanCount < 0 {
		errs = append(errs, fmt.Errorf("redis store: ScanCount %d is negative", c.ScanCount))
	}
	if c.DocsPerCall < 0 {
		errs = append(errs, fmt.Errorf("redis store: DocsPerCall %d is negative", c.DocsPerCall))
	}
	if c.DocsPerPipeline < 0 {
		errs = append(errs, fmt.Errorf("redis store: DocsPerPipeline %d is negative", c.DocsPerPipeline))
	}
	return errors.Join(errs...)
}

// A PartitionStore: the Writer finds ApplyIn and Forget by assertion,
// and falls back to Apply's script without a word when one is missing.
var _ productview.PartitionStore = (*Store)(nil)

// Store keeps the versioned documents of one projection, in any number of
// generations, on a Redis server or cluster. It is safe for concurrent use.
type Store struct {
	client          redis.UniversalClient
	projection      string
	scanCount       int
	docsPerCall     int
	docsPerPipeline int
	liveCache       time.Duration
	live            atomic.Pointer[liveRead] // the live generation last read or set
	lossRead        atomic.Pointer[lossRead] // lostSinceLive's last answer
	versionCache    int
	writer          string // this Store's prefix of fence values (ApplyIn)
	seq             atomic.Uint64
	fences          sync.Map    // fenceID → *fence
	settled         atomic.Bool // the client has opened a connection (ApplyIn)
}

// New returns a Store on client. The client stays the caller's to close.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ScanCount == 0 {
		cfg.ScanCount = 1000
	}
	if cfg.DocsPerCall == 0 {
		cfg.DocsPerCall = 100
	}
	if cfg.DocsPerPipeline == 0 {
		cfg.DocsPerPipeline = 500
	}
	if cfg.VersionCache == 0 {
		cfg.VersionCache = 1 << 15
	}
	if cfg.LiveCache == 0 {
		cfg.LiveCache = 100 * time.Millisecond
	}
	return &Store{client: client, projection: cfg.Projection, scanCount: cfg.ScanCount,
		docsPerCall: cfg.DocsPerCall, docsPerPipeline: cfg.DocsPerPipeline, liveCache: cfg.LiveCache,
		versionCache: cfg.VersionCache, writer: newWriterID()}, nil
}

// Projection is the projection name the store was configured with.
func (s *Store) Projection() string { return s.projection }

// Prefix is the key prefix of generation gen: "sv:<projection>:g<gen>:".
func (s *Store) Prefix(gen int) string {
	return "sv:" + s.projection + ":g" + strconv.Itoa(gen) + ":"
}

// Key is the hash key of document id in generation gen:
// "sv:<projection>:g<gen>:{<id>}", or for a reference record
// (productview.IsReference: "category:<id>", "brand:<id>")
// "sv:<projection>:g<gen>:ref:{<id>}". A reference record's key is its own
// hash tag, as a product's is, so no script ever spans a product and a
// reference; it lies under the generation's prefix, so Clear and a rebuild
// take it with the views, but outside Count's "…:g<gen>:{*", which counts
// product views only (what a rebuild compares with the log).
func (s *Store) Key(gen int, id string) string { return docKey(s.Prefix(gen), id) }

func docKey(prefix, id string) string {
	if productview.IsReference(id) {
		return prefix + "ref:{" + id + "}"
	}
	return prefix + "{" + id + "}"
}

// LiveKey is the key of the live-generation pointer.
func (s *Store) LiveKey() string { return "sv:" + s.projection + ":live" }

func checkGen(gen int) error {
	if gen < 1 {
		return fmt.Errorf("%w: got %d", productview.ErrGeneration, gen)
	}
	return nil
}

// checkID refuses IDs that would break the hash tag of a key.
func checkID(id string) error {
	if id == "" {
		return errors.New("empty document ID")
	}
	if strings.ContainsAny(id, "{}") {
		return fmt.Errorf("document ID %q contains '{' or '}'", id)
	}
	return nil
}
