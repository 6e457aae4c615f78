package esindex_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productsearch/indextest"
	"github.com/streamview/streamview/sinks/esindex"
)

// client connects to the real Elasticsearch, or skips.
func client(t testing.TB) *elasticsearch.Client {
	t.Helper()
	url := testenv.Elasticsearch(t)
	c, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: strings.Split(url, ",")})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newIndex makes generation 1 of a uniquely named index, with the alias on
// it, deleted when t ends.
func newIndex(t testing.TB, c *elasticsearch.Client, cfg esindex.Config) *esindex.Index {
	t.Helper()
	prefix := testenv.Name("test-ps")
	if cfg.IndexPrefix == "" {
		cfg.IndexPrefix = prefix
	}
	if cfg.Alias == "" {
		cfg.Alias = prefix + "-read"
	}
	if cfg.Currency == "" {
		cfg.Currency = indextest.Currency
	}
	ix, err := esindex.New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ix.EnsureIndex(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := ix.SwapAlias(ctx, 0, 1); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		req := c.Indices.Delete
		res, err := req([]string{ix.IndexName(1), ix.IndexName(2), ix.IndexName(3)}, req.WithContext(ctx), req.WithIgnoreUnavailable(true))
		if err != nil {
			t.Errorf("deleting test indices: %v", err)
			return
		}
		res.Body.Close()
	})
	return ix
}

func refresh(t *testing.T, ix productsearch.Index) {
	t.Helper()
	if err := ix.(*esindex.Index).Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
}
