package bleveindex

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/index/scorch"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

// Index is the embedded product-search index. It is safe for concurrent
// use: searches run in parallel with each other, Apply calls one at a time
// between them.
type Index struct {
	idx      bleve.Index
	opts     options
	analyzer analysis.Analyzer // the text fields', for the words of a query

	// mu serializes Apply, which reads the stored documents, folds and
	// writes them back: two interleaved would lose events. Search holds it
	// for reading, so that its requests (the page's and the facets') see
	// the same documents.
	mu sync.RWMutex

	closeOnce sync.Once
	closeErr  error

	stats stats
}

var _ productsearch.Index = (*Index)(nil)

// ErrIncompatible is returned by Open for an index that another mapping
// version of this package wrote: delete its directory and replay the
// projection into a new one. Test with errors.Is.
var ErrIncompatible = errors.New("bleve: index written by another mapping version")

// lockTimeout bounds how long Open waits for an index directory that another
// Index (in this or another process) holds open.
const lockTimeout = time.Second

// Option configures Open and NewMemory.
type Option func(*options)

type options struct {
	currency string
	logger   *slog.Logger
}

// WithCurrency sets the catalogue currency: the unit of price filters and of
// the price facet bands (productsearch.PriceBands). Default "EUR".
func WithCurrency(currency string) Option {
	return func(o *options) { o.currency = currency }
}

// WithLogger sets where Apply reports rejected documents. Default: nowhere.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

func newOptions(opts []Option) (options, error) {
	o := options{currency: "EUR"}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if !schemas.ValidCurrency(o.currency) {
		return o, fmt.Errorf("bleve: currency %q: want an ISO 4217 code such as EUR", o.currency)
	}
	return o, nil
}

// Open opens the on-disk index in directory path, creating it when path
// does not exist or is an empty directory. Apply returns only once its batch
// is on disk. A directory can be open in one Index at a time: Open fails
// after a second if another one holds it. An index that another mapping
// version wrote is ErrIncompatible.
func Open(path string, opts ...Option) (*Index, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	cfg := map[string]any{"bolt_timeout": lockTimeout.String()}
	idx, err := bleve.OpenUsing(path, cfg)
	switch {
	case err == nil:
		if err := checkMappingVersion(idx); err != nil {
			_ = idx.Close()
			return nil, fmt.Errorf("bleve: opening %s: %w", path, err)
		}
		return wrap(idx, o)
	case errors.Is(err, bleve.ErrorIndexPathDoesNotExist), errors.Is(err, bleve.ErrorIndexMetaMissing) && emptyDir(path):
		m, err := newMapping()
		if err != nil {
			return nil, err
		}
		idx, err := bleve.NewUsing(path, m, scorch.Name, scorch.Name, cfg)
		if err != nil {
			return nil, fmt.Errorf("bleve: creating %s: %w", path, err)
		}
		return newIndex(idx, o)
	default:
		return nil, fmt.Errorf("bleve: opening %s: %w", path, err)
	}
}

// NewMemory returns an empty index held in memory only (bleve.NewMemOnly):
// for tests and throw-away dev runs. Its content is gone after Close.
//
// It runs on bleve's older engine (upsidedown on an in-memory tree), not on
// scorch like Open: scorch without a directory never merges its segments,
// one per Apply, so its searches slow down with every batch (ten to sixty
// times slower after two thousand batches of a 3,000-product catalogue).
func NewMemory(opts ...Option) (*Index, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	m, err := newMapping()
	if err != nil {
		return nil, err
	}
	idx, err := bleve.NewMemOnly(m)
	if err != nil {
		return nil, fmt.Errorf("bleve: creating an in-memory index: %w", err)
	}
	return newIndex(idx, o)
}

// newIndex wraps a new, empty idx.
func newIndex(idx bleve.Index, o options) (*Index, error) {
	if err := idx.SetInternal(mappingVersionKey, []byte(mappingVersion)); err != nil {
		_ = idx.Close()
		return nil, fmt.Errorf("bleve: recording the mapping version: %w", err)
	}
	return wrap(idx, o)
}

func wrap(idx bleve.Index, o options) (*Index, error) {
	a := idx.Mapping().AnalyzerNamed(analyzerName)
	if a == nil {
		_ = idx.Close()
		return nil, fmt.Errorf("bleve: the index mapping lacks analyzer %s", analyzerName)
	}
	return &Index{idx: idx, opts: o, analyzer: a}, nil
}

func checkMappingVersion(idx bleve.Index) error {
	v, err := idx.GetInternal(mappingVersionKey)
	if err != nil {
		return err
	}
	if len(v) == 0 {
		// Created, then stopped before the version was written?
		if n, err := idx.DocCount(); err == nil && n == 0 {
			return idx.SetInternal(mappingVersionKey, []byte(mappingVersion))
		}
	}
	if string(v) != mappingVersion {
		return fmt.Errorf("%w: it has version %q, this build writes %q", ErrIncompatible, v, mappingVersion)
	}
	return nil
}

func emptyDir(path string) bool {
	entries, err := os.ReadDir(path)
	return err == nil && len(entries) == 0
}

// Close releases the index; an on-disk index keeps everything Apply wrote.
// Calls after the first return the first one's result.
func (ix *Index) Close() error {
	ix.closeOnce.Do(func() {
		if err := ix.idx.Close(); err != nil {
			ix.closeErr = fmt.Errorf("bleve: closing: %w", err)
		}
	})
	return ix.closeErr
}

// Count is the number of searchable products. See productsearch.Index.
func (ix *Index) Count(ctx context.Context) (int64, error) {
	req := bleve.NewSearchRequestOptions(filterQuery(searchable()), 0, 0, false)
	req.Score = bleve.ScoreNone
	res, err := ix.idx.SearchInContext(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("bleve: counting: %w", err)
	}
	return int64(res.Total), nil
}
