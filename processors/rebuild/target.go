package rebuild

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/esindex"
	"github.com/streamview/streamview/sinks/redisview"
)

// Target is one projection's store of generations, as replays and rebuilds
// see it. Views (Redis) and Search (Elasticsearch) are the two.
type Target interface {
	// Name is the projection's name: its groups are
	// streamview.<Name>.g<N>.
	Name() string
	// Live is the generation that queries read; 0 when none is.
	Live(ctx context.Context) (int, error)
	// Create makes generation gen ready to be written (an empty index).
	Create(ctx context.Context, gen int) error
	// Projection is what the runtime applies generation gen's events to.
	Projection(gen int) (processors.Projection, error)
	// Count is the number of documents generation gen holds, counted as
	// CountsDiscontinued says, with every acknowledged write visible.
	Count(ctx context.Context, gen int) (int64, error)
	// CountsDiscontinued tells whether Count includes discontinued
	// products.
	CountsDiscontinued() bool
	// Promote makes generation to live in place of from, in one step.
	Promote(ctx context.Context, from, to int) error
	// Drop removes generation gen's documents and reports whether there were
	// any. It refuses the live generation.
	Drop(ctx context.Context, gen int) (bool, error)
	// Reset empties generation gen, live or not, for a replay, and returns
	// how many documents it held.
	Reset(ctx context.Context, gen int) (int64, error)
}

// ErrLive is returned when an operation would remove the live generation.
var ErrLive = errors.New("rebuild: refusing to remove the live generation")

// Views is the product-view projection's target: generations of a Redis
// view store, the live one named by its live pointer.
type Views struct {
	store *redisview.Store
}

// NewViews returns the target of store; the projection's name is the
// store's Projection.
func NewViews(store *redisview.Store) *Views { return &Views{store: store} }

func (v *Views) Name() string { return v.store.Projection() }

func (v *Views) Live(ctx context.Context) (int, error) {
	gen, err := v.store.Live(ctx)
	if errors.Is(err, productview.ErrNoLive) {
		return 0, nil
	}
	return gen, err
}

func (v *Views) Create(context.Context, int) error { return nil }

func (v *Views) Projection(gen int) (processors.Projection, error) {
	return productview.New(v.store, gen)
}

func (v *Views) Count(ctx context.Context, gen int) (int64, error) {
	n, err := v.store.Count(ctx, gen)
	return int64(n), err
}

func (v *Views) CountsDiscontinued() bool { return true }

// Promote sets the live pointer. It checks the pointer first, so that two
// rebuilds cannot both swap; the check and the set are two commands, which
// is enough because only a rebuild moves the pointer and its group admits
// one rebuild at a time.
func (v *Views) Promote(ctx context.Context, from, to int) error {
	live, err := v.Live(ctx)
	if err != nil {
		return err
	}
	if live != from {
		return fmt.Errorf("rebuild: %s: live generation is %d, not %d: another rebuild swapped it", v.store.LiveKey(), live, from)
	}
	return v.store.SetLive(ctx, to)
}

func (v *Views) Drop(ctx context.Context, gen int) (bool, error) {
	if live, err := v.Live(ctx); err != nil {
		return false, err
	} else if live == gen {
		return false, fmt.Errorf("%w: g%d (%s) is live", ErrLive, gen, v.store.Prefix(gen))
	}
	n, err := v.store.Clear(ctx, gen)
	return n > 0, err
}

func (v *Views) Reset(ctx context.Context, gen int) (int64, error) {
	n, err := v.store.Clear(ctx, gen)
	return int64(n), err
}

// Search is the product-search projection's target: one Elasticsearch
// index per generation behind the read alias.
type Search struct {
	name   string
	client *elasticsearch.Client
	cfg    esindex.Config

	mu      sync.Mutex
	indices map[int]*esindex.Index
}

// NewSearch returns the target of projection name whose indices cfg
// describes (IndexPrefix, Alias, Currency...; cfg.Generation is ignored).
func NewSearch(name string, client *elasticsearch.Client, cfg esindex.Config) (*Search, error) {
	if name == "" {
		return nil, errors.New("rebuild: search projection name is required")
	}
	s := &Search{name: name, client: client, cfg: cfg, indices: map[int]*esindex.Index{}}
	if _, err := s.Index(1); err != nil {
		return nil, err
	}
	return s, nil
}

// Index is the index object that writes generation gen. One per generation
// is kept, so that its write cache serves the whole build.
func (s *Search) Index(gen int) (*esindex.Index, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix, ok := s.indices[gen]; ok {
		return ix, nil
	}
	cfg := s.cfg
	cfg.Generation = gen
	ix, err := esindex.New(s.client, cfg)
	if err != nil {
		return nil, fmt.Errorf("rebuild: search generation %d: %w", gen, err)
	}
	s.indices[gen] = ix
	return ix, nil
}

func (s *Search) any() *esindex.Index {
	ix, _ := s.Index(1) // checked by NewSearch
	return ix
}

func (s *Search) Name() string { return s.name }

func (s *Search) Live(ctx context.Context) (int, error) { return s.any().LiveGeneration(ctx) }

func (s *Search) Create(ctx context.Context, gen int) error { return s.any().EnsureIndex(ctx, gen) }

func (s *Search) Projection(gen int) (processors.Projection, error) { return s.Index(gen) }

func (s *Search) Count(ctx context.Context, gen int) (int64, error) {
	ix, err := s.Index(gen)
	if err != nil {
		return 0, err
	}
	if err := ix.Refresh(ctx); err != nil {
		return 0, err
	}
	return ix.CountGeneration(ctx, gen)
}

func (s *Search) CountsDiscontinued() bool { return false }

func (s *Search) Promote(ctx context.Context, from, to int) error {
	return s.any().SwapAlias(ctx, from, to)
}

func (s *Search) Drop(ctx context.Context, gen int) (bool, error) {
	gens, err := s.any().Generations(ctx)
	if err != nil || !slices.Contains(gens, gen) {
		return false, err
	}
	ix, err := s.Index(gen)
	if err != nil {
		return false, err
	}
	if err := ix.DeleteIndex(ctx, gen); err != nil {
		return false, err
	}
	return true, nil
}

func (s *Search) Reset(ctx context.Context, gen int) (int64, error) {
	ix, err := s.Index(gen)
	if err != nil {
		return 0, err
	}
	n, err := ix.CountGeneration(ctx, gen)
	if err != nil {
		return 0, err
	}
	return n, ix.ResetIndex(ctx, gen)
}

// Generations lists the generations that have an index.
func (s *Search) Generations(ctx context.Context) ([]int, error) { return s.any().Generations(ctx) }
