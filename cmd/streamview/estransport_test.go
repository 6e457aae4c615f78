package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// TestESTransportReusesConnections sends rounds of concurrent requests, as
// the search lanes' bulks and the API's reads are, through esTransport: the
// connections of the first round are kept and used again, instead of all
// but net/http's default two being closed after each request and dialled
// again.
func TestESTransportReusesConnections(t *testing.T) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "{}")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	client := &http.Client{Transport: esTransport()}
	const concurrent, rounds = 16, 10
	for range rounds {
		var wg sync.WaitGroup
		for range concurrent {
			wg.Go(func() {
				res, err := client.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			})
		}
		wg.Wait()
	}
	// One connection per request in flight, and some spares: net/http
	// puts a connection back as idle after its reader sees the body's end,
	// which can come after the next round's request has started to dial
	// (seen in CI: 17). Without the reuse each round closes all but two and
	// dials the rest again: 124 connections here with net/http's two idle
	// connections a host.
	if n, most := opened.Load(), int64(2*concurrent); n > most {
		t.Errorf("%d rounds of %d concurrent requests opened %d connections, want at most %d (one per request in flight, and spares)", rounds, concurrent, n, most)
	}
}
