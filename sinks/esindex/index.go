package esindex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/processors/productsearch"
)

// Index is the product-search index on Elasticsearch. Apply writes to the
// index of Config.Generation; Search and Count read Config.Alias. It is safe
// for concurrent use.
type Index struct {
	client *elasticsearch.Client
	cfg    Config
	write  string // the index Apply writes to

	ensureMu sync.Mutex
	ensured  atomic.Bool

	cache *docCache
	refs  refCache
	stats stats

	// afterJoin, when set (by tests), runs after Apply joined a chunk's
	// documents with the reference names and before it writes them: where
	// a rename on another lane can overtake them.
	afterJoin func()
}

var _ productsearch.Index = (*Index)(nil)

// forget drops what Apply remembers of the write index (documents and
// reference names): the index was deleted or reset.
func (ix *Index) forget() {
	ix.cache.clear()
	ix.refs.clear()
}

// New returns an Index on client configured by cfg (see Config for the
// defaults). It sends no request; Apply creates its generation's index on
// first use, or call EnsureIndex.
func New(client *elasticsearch.Client, cfg Config) (*Index, error) {
	if client == nil {
		return nil, errors.New("elasticsearch: nil client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("elasticsearch: config: %w", err)
	}
	cfg = cfg.withDefaults()
	return &Index{client: client, cfg: cfg, write: indexName(cfg.IndexPrefix, cfg.Generation), cache: newDocCache(cfg.CacheDocs, cfg.CacheBytes)}, nil
}

// IndexName is the concrete index of generation gen: <IndexPrefix>-g<gen>.
func (ix *Index) IndexName(gen int) string { return indexName(ix.cfg.IndexPrefix, gen) }

// Alias is the read alias.
func (ix *Index) Alias() string { return ix.cfg.Alias }

func indexName(prefix string, gen int) string { return prefix + "-g" + strconv.Itoa(gen) }

// parseGeneration returns N of an index named <prefix>-g<N>.
func parseGeneration(prefix, name string) (int, bool) {
	s, ok := strings.CutPrefix(name, prefix+"-g")
	if !ok || s == "" || s[0] == '0' {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}

// EnsureIndex creates the index of generation gen with the mapping unless
// it exists. An existing index of mapping version 1 is upgraded in place
// (version 2 only adds the reference join's fields); one of another
// MappingVersion is an error: a changed mapping needs a new generation.
func (ix *Index) EnsureIndex(ctx context.Context, gen int) error {
	if gen < 1 {
		return fmt.Errorf("elasticsearch: generation %d: must be 1 or more", gen)
	}
	name := ix.IndexName(gen)
	body, err := ix.cfg.createBody()
	if err != nil {
		return err
	}
	err = ix.do(ctx, "create index "+name, esapi.IndicesCreateRequest{Index: name, Body: bytes.NewReader(body)}, nil)
	if err == nil {
		ix.cfg.Logger.InfoContext(ctx, "created search index", "index", name, logkey.Projection, "product-search")
		return nil
	}
	if !isType(err, "resource_already_exists_exception") {
		return err
	}
	var m map[string]struct {
		Mappings json.RawMessage `json:"mappings"`
	}
	if err := ix.do(ctx, "get mapping "+name, esapi.IndicesGetMappingRequest{Index: []string{name}}, &m); err != nil {
		return err
	}
	v := mappingVersionOf(m[name].Mappings)
	if v == 1 {
		return ix.upgradeMapping(ctx, name)
	}
	if v != MappingVersion {
		return fmt.Errorf("elasticsearch: index %s has mapping version %d, this code writes %d: build a new generation", name, v, MappingVersion)
	}
	return nil
}

// upgradeMapping brings an index of mapping version 1 to version 2 in
// place: version 2 only adds fields (the reference join's), which
// Elasticsearch accepts on a live index, and a version 1 index holds no
// reference names yet, so its documents are already what version 2 would
// have written. Everything else in the mapping is the same.
func (ix *Index) upgradeMapping(ctx context.Context, name string) error {
	var full struct {
		Meta       json.RawMessage            `json:"_meta"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(mapping, &full); err != nil {
		return fmt.Errorf("elasticsearch: reading the mapping: %w", err)
	}
	added := map[string]json.RawMessage{}
	for _, f := range []string{"categoryRefVersion", "brandRefVersion", "ref"} {
		added[f] = full.Properties[f]
	}
	body, _ := json.Marshal(map[string]any{"_meta": full.Meta, "properties": added})
	if err := ix.do(ctx, "upgrade mapping of "+name, esapi.IndicesPutMappingRequest{Index: []string{name}, Body: bytes.NewReader(body)}, nil); err != nil {
		return err
	}
	ix.cfg.Logger.InfoContext(ctx, "upgraded search index mapping", "index", name, "from", 1, "to", MappingVersion, logkey.Projection, "product-search")
	return nil
}

// ensureWrite makes sure the write index exists before the first bulk, so
// that a bulk never auto-creates it with a dynamic mapping.
func (ix *Index) ensureWrite(ctx context.Context) error {
	if ix.ensured.Load() {
		return nil
	}
	ix.ensureMu.Lock()
	defer ix.ensureMu.Unlock()
	if ix.ensured.Load() {
		return nil
	}
	if err := ix.EnsureIndex(ctx, ix.cfg.Generation); err != nil {
		return err
	}
	ix.ensured.Store(true)
	return nil
}

// DeleteIndex deletes the index of generation gen; a missing one is no
// error. It refuses to delete the index the alias points to.
func (ix *Index) DeleteIndex(ctx context.Context, gen int) error {
	live, err := ix.aliasTargets(ctx)
	if err != nil {
		return err
	}
	name := ix.IndexName(gen)
	if slices.Contains(live, name) {
		return fmt.Errorf("elasticsearch: index %s is behind alias %s: swap the alias first", name, ix.cfg.Alias)
	}
	err = ix.do(ctx, "delete index "+name, esapi.IndicesDeleteRequest{Index: []string{name}}, nil)
	if isStatus(err, http.StatusNotFound) {
		err = nil
	}
	if err == nil && gen == ix.cfg.Generation {
		ix.ensured.Store(false)
		ix.forget()
	}
	return err
}

// ErrAliasMoved is returned by SwapAlias when the alias is not where the
// caller said: another rebuild swapped it.
var ErrAliasMoved = errors.New("elasticsearch: the alias does not point where expected")

// SwapAlias points the read alias from generation from to generation to in
// one _aliases request, so searches see either index, never none or both.
// from 0 means the alias does not exist yet. When the alias points elsewhere
// it returns ErrAliasMoved and changes nothing.
func (ix *Index) SwapAlias(ctx context.Context, from, to int) error {
	if to < 1 || from < 0 {
		return fmt.Errorf("elasticsearch: swap alias from %d to %d: bad generation", from, to)
	}
	cur, err := ix.aliasTargets(ctx)
	if err != nil {
		return err
	}
	var want []string
	if from > 0 {
		want = []string{ix.IndexName(from)}
	}
	if !slices.Equal(cur, want) {
		return fmt.Errorf("%w: %s points to %v, expected %v", ErrAliasMoved, ix.cfg.Alias, cur, want)
	}
	var actions []map[string]any
	for _, idx := range cur {
		actions = append(actions, map[string]any{"remove": map[string]any{"index": idx, "alias": ix.cfg.Alias, "must_exist": true}})
	}
	actions = append(actions, map[string]any{"add": map[string]any{"index": ix.IndexName(to), "alias": ix.cfg.Alias}})
	body, _ := json.Marshal(map[string]any{"actions": actions})
	var res struct {
		Errors        bool              `json:"errors"`
		ActionResults []json.RawMessage `json:"action_results"`
	}
	op := fmt.Sprintf("swap alias %s to %s", ix.cfg.Alias, ix.IndexName(to))
	if err := ix.do(ctx, op, esapi.IndicesUpdateAliasesRequest{Body: bytes.NewReader(body)}, &res); err != nil {
		return err
	}
	if res.Errors {
		return fmt.Errorf("%w: %s: %s", ErrAliasMoved, op, res.ActionResults)
	}
	ix.cfg.Logger.InfoContext(ctx, "swapped search alias", "alias", ix.cfg.Alias, "from", want, "to", ix.IndexName(to), logkey.Projection, "product-search")
	return nil
}

// LiveGeneration is the generation the read alias points to, 0 when the
// alias does not exist.
func (ix *Index) LiveGeneration(ctx context.Context) (int, error) {
	cur, err := ix.aliasTargets(ctx)
	if err != nil || len(cur) == 0 {
		return 0, err
	}
	if len(cur) > 1 {
		return 0, fmt.Errorf("elasticsearch: alias %s points to several indices: %v", ix.cfg.Alias, cur)
	}
	gen, ok := parseGeneration(ix.cfg.IndexPrefix, cur[0])
	if !ok {
		return 0, fmt.Errorf("elasticsearch: alias %s points to %s, not a generation of %s", ix.cfg.Alias, cur[0], ix.cfg.IndexPrefix)
	}
	return gen, nil
}

// aliasTargets lists the indices behind the alias, sorted.
func (ix *Index) aliasTargets(ctx context.Context) ([]string, error) {
	var m map[string]json.RawMessage
	err := ix.do(ctx, "get alias "+ix.cfg.Alias, esapi.IndicesGetAliasRequest{Name: []string{ix.cfg.Alias}}, &m)
	if isStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

// Count is the number of searchable (not discontinued) products behind the
// alias.
func (ix *Index) Count(ctx context.Context) (int64, error) {
	return ix.count(ctx, ix.cfg.Alias)
}

// CountGeneration is the number of searchable products in the index of
// generation gen, for a rebuild's progress.
func (ix *Index) CountGeneration(ctx context.Context, gen int) (int64, error) {
	return ix.count(ctx, ix.IndexName(gen))
}

func (ix *Index) count(ctx context.Context, target string) (int64, error) {
	body, _ := json.Marshal(map[string]any{"query": map[string]any{"bool": map[string]any{"filter": searchable()}}})
	var res struct {
		Count int64 `json:"count"`
	}
	err := ix.do(ctx, "count "+target, esapi.CountRequest{Index: []string{target}, Body: bytes.NewReader(body)}, &res)
	return res.Count, err
}

// Refresh makes everything Apply wrote to the write index searchable now.
// Tests use it; in production the refresh interval does it.
func (ix *Index) Refresh(ctx context.Context) error {
	return ix.do(ctx, "refresh "+ix.write, esapi.IndicesRefreshRequest{Index: []string{ix.write}}, nil)
}

// Config returns the configuration in force, defaults applied.
func (ix *Index) Config() Config { return ix.cfg }
