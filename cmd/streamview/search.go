package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/internal/connect"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/sinks/esindex"
)

// attachElasticsearch gives st the search index of the Elasticsearch at
// url, without credentials or TLS settings.
func attachElasticsearch(ctx context.Context, st *stack, url string) error {
	return attachSearch(ctx, st, connect.Elasticsearch{URLs: []string{url}})
}

// attachSearch gives st the Elasticsearch search index of conn: reads
// through the alias, writes per generation.
func attachSearch(ctx context.Context, st *stack, conn connect.Elasticsearch) error {
	client, err := newElasticsearch(conn)
	if err != nil {
		return err
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
	if st.searchGens, err = esindex.NewGenerations(searchProjection, client, esindex.Config{Currency: st.currency, Logger: st.logger}); err != nil {
		return err
	}
	st.searchWrite = func(gen int) (productsearch.Index, error) { return newIndex(gen) }
	st.searchLive = func(ctx context.Context) (int, error) { return ensureSearchLive(ctx, reader) }
	st.searchReady = func(ctx context.Context) error { return esHealth(ctx, client, conn) }
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
	// esIdleConns is how many idle connections to each Elasticsearch node
	// are kept for the next request. net/http keeps 2, so the search
	// lanes' concurrent bulks and the API's reads opened a connection for
	// most requests and closed it after (2,091 opened in a 20 s bench api
	// step at 1,000 commands/s, 15 with 64); each costs both sides a TCP
	// handshake and the node an HTTP channel set up.
	esIdleConns = 64
)

func esTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: esDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	t.TLSHandshakeTimeout = esDialTimeout
	t.ResponseHeaderTimeout = esResponseTimeout
	t.MaxIdleConnsPerHost = esIdleConns
	t.MaxIdleConns = max(t.MaxIdleConns, esIdleConns)
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
