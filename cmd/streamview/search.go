package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/sinks/esindex"
)

// attachElasticsearch gives st the Elasticsearch search index at url: reads
// through the alias, writes per generation.
func attachElasticsearch(ctx context.Context, st *stack, url string) error {
	client, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{url}, Transport: esTransport()})
	if err != nil {
		return fmt.Errorf("elasticsearch client for %s: %w", url, err)
	}
	newIndex := func(gen int) (*esindex.Index, error) {
		cfg := esindex.Config{Generation: gen, Currency: st.currency, Logger: st.logger}
		if st.esIndex.shards > 0 { // dev leaves them to esindex's defaults
			cfg = st.esIndex.apply(cfg)
		}
		return esindex.New(client, cfg)
	}
	reader, err := newIndex(1)
	if err != nil {
		return err
	}
	st.search = reader
	st.searchWrite = func(gen int) (productsearch.Index, error) { return newIndex(gen) }
	st.searchLive = func(ctx context.Context) (int, error) { return ensureSearchLive(ctx, reader) }
	st.searchReady = func(ctx context.Context) error {
		res, err := client.Cluster.Health(client.Cluster.Health.WithContext(ctx))
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("cluster health: %s", res.Status())
		}
		return nil
	}
	return nil
}

// Bounds of every Elasticsearch request, so that a server that accepts
// connections and never answers fails a request instead of hanging it. The
// API's reads are bounded tighter by their context (--query-timeout); the
// projector's bulk writes may take longer on a busy cluster, and a write
// that runs out is retried by the runtime with backoff.
const (
	esDialTimeout     = 5 * time.Second
	esResponseTimeout = 60 * time.Second // until the answer's headers
)

func esTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: esDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = esDialTimeout
	t.ResponseHeaderTimeout = esResponseTimeout
	return t
}

// ensureSearchLive returns the generation the read alias points to, creating
// generation 1 behind it on first start.
func ensureSearchLive(ctx context.Context, ix *esindex.Index) (int, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		gen, err := ix.LiveGeneration(ctx)
		if err == nil && gen > 0 {
			return gen, nil
		}
		if err == nil {
			if err = ix.EnsureIndex(ctx, 1); err == nil {
				err = ix.SwapAlias(ctx, 0, 1)
				if err == nil || errors.Is(err, esindex.ErrAliasMoved) {
					continue // another process may have won the race: read again
				}
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("elasticsearch: no live search generation: %w (is Elasticsearch up?)", err)
		}
		backoff.Sleep(ctx, time.Second)
	}
}
