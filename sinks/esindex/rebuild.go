package esindex

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/elastic/go-elasticsearch/v8"
)

// Generations is the product-search projection's generations as replays
// and rebuilds drive them (the generations port of processors/rebuild, in
// plain types): one index per generation behind the read alias.
type Generations struct {
	name   string
	client *elasticsearch.Client
	cfg    Config

	mu      sync.Mutex
	indices map[int]*Index
}

// NewGenerations returns the generations of projection name whose indices
// cfg describes (IndexPrefix, Alias, Currency...; cfg.Generation is
// ignored).
func NewGenerations(name string, client *elasticsearch.Client, cfg Config) (*Generations, error) {
	if name == "" {
		return nil, errors.New("elasticsearch: search projection name is required")
	}
	g := &Generations{name: name, client: client, cfg: cfg, indices: map[int]*Index{}}
	if _, err := g.Index(1); err != nil {
		return nil, err
	}
	return g, nil
}

// Index is the index object that writes generation gen: what the runtime
// applies gen's events to. One per generation is kept, so that its write
// cache serves the whole build.
func (g *Generations) Index(gen int) (*Index, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ix, ok := g.indices[gen]; ok {
		return ix, nil
	}
	cfg := g.cfg
	cfg.Generation = gen
	ix, err := New(g.client, cfg)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: search generation %d: %w", gen, err)
	}
	g.indices[gen] = ix
	return ix, nil
}

func (g *Generations) any() *Index {
	ix, _ := g.Index(1) // checked by NewGenerations
	return ix
}

// Name is the projection's name.
func (g *Generations) Name() string { return g.name }

// Live is the generation the alias points to; 0 when none.
func (g *Generations) Live(ctx context.Context) (int, error) { return g.any().LiveGeneration(ctx) }

// Create makes generation gen's index with the mapping.
func (g *Generations) Create(ctx context.Context, gen int) error {
	return g.any().EnsureIndex(ctx, gen)
}

// Count is the number of searchable (not discontinued) documents of
// generation gen, after a refresh.
func (g *Generations) Count(ctx context.Context, gen int) (int64, error) {
	ix, err := g.Index(gen)
	if err != nil {
		return 0, err
	}
	if err := ix.Refresh(ctx); err != nil {
		return 0, err
	}
	return ix.CountGeneration(ctx, gen)
}

// CountsDiscontinued is false: Count leaves discontinued products out.
func (g *Generations) CountsDiscontinued() bool { return false }

// Promote swaps the alias from generation from to generation to.
func (g *Generations) Promote(ctx context.Context, from, to int) error {
	return g.any().SwapAlias(ctx, from, to)
}

// Drop deletes generation gen's index and reports whether there was one.
// It refuses the index behind the alias.
func (g *Generations) Drop(ctx context.Context, gen int) (bool, error) {
	gens, err := g.List(ctx)
	if err != nil || !slices.Contains(gens, gen) {
		return false, err
	}
	ix, err := g.Index(gen)
	if err != nil {
		return false, err
	}
	if err := ix.DeleteIndex(ctx, gen); err != nil {
		return false, err
	}
	return true, nil
}

// Reset empties generation gen, live or not, for a replay, and returns how
// many searchable documents it held.
func (g *Generations) Reset(ctx context.Context, gen int) (int64, error) {
	ix, err := g.Index(gen)
	if err != nil {
		return 0, err
	}
	n, err := ix.CountGeneration(ctx, gen)
	if err != nil {
		return 0, err
	}
	return n, ix.ResetIndex(ctx, gen)
}

// List lists the generations that have an index.
func (g *Generations) List(ctx context.Context) ([]int, error) { return g.any().Generations(ctx) }
