package esindex

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// Generations lists the generations that have an index (<IndexPrefix>-g<N>),
// ascending, whether or not the alias points to them: what a rebuild
// inspects to find one it left behind.
func (ix *Index) Generations(ctx context.Context) ([]int, error) {
	var m map[string]json.RawMessage
	err := ix.do(ctx, "list indices "+ix.cfg.IndexPrefix+"-g*",
		esapi.IndicesGetAliasRequest{Index: []string{ix.cfg.IndexPrefix + "-g*"}}, &m)
	if isStatus(err, http.StatusNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var gens []int
	for name := range m {
		if gen, ok := parseGeneration(ix.cfg.IndexPrefix, name); ok {
			gens = append(gens, gen)
		}
	}
	slices.Sort(gens)
	return gens, nil
}

// ResetIndex empties generation gen for a replay: it deletes the index and
// creates it again with the mapping, putting the read alias back on it when
// the alias was there. Elasticsearch removes an index's aliases with it, so
// searches through the alias fail until the index is back: the downtime a
// replay accepts. (This cluster has no delete-by-query to empty it in place.)
func (ix *Index) ResetIndex(ctx context.Context, gen int) error {
	if gen < 1 {
		return errors.New("elasticsearch: reset index: generation must be 1 or more")
	}
	live, err := ix.aliasTargets(ctx)
	if err != nil {
		return err
	}
	name := ix.IndexName(gen)
	err = ix.do(ctx, "delete index "+name, esapi.IndicesDeleteRequest{Index: []string{name}}, nil)
	if err != nil && !isStatus(err, http.StatusNotFound) {
		return err
	}
	if gen == ix.cfg.Generation {
		ix.ensured.Store(false)
		ix.forget()
	}
	if err := ix.EnsureIndex(ctx, gen); err != nil {
		return err
	}
	if slices.Contains(live, name) {
		return ix.SwapAlias(ctx, 0, gen)
	}
	return nil
}
