package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/netcut"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview"
)

// queryTimeout is the --query-timeout of the outage tests; an answer must
// come within it plus a margin for a loaded machine.
const (
	queryTimeout = 2 * time.Second
	answerBound  = queryTimeout + 5*time.Second
)

// startAPI runs `streamview serve --roles api` (and extra flags) against
// redisAddr and esURL (either may be a blackhole) and returns the API's
// base URL. It does not wait for /readyz: a blackholed store keeps it at
// 503.
func startAPI(t *testing.T, redisAddr, esURL string, extra ...string) string {
	t.Helper()
	brokers := strings.Join(testenv.Kafka(t), ",")
	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serveForTest(ctx, append([]string{"serve", "--roles", "api", "--brokers", brokers, "--redis", redisAddr,
			"--elasticsearch", esURL, "--addr", "127.0.0.1:0", "--log-level", "error", "--query-timeout", queryTimeout.String()}, extra...), addrCh)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case addr := <-addrCh:
		return "http://" + addr
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	}
	return ""
}

// timedCall is call, failing the test when the answer takes longer than
// answerBound (the client itself gives up later, so a hang shows as a
// failure, not as a stuck test).
func timedCall(t *testing.T, url string) answer {
	t.Helper()
	start := time.Now()
	c := &http.Client{Timeout: answerBound + 30*time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v after %v", url, err, time.Since(start))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if d := time.Since(start); d > answerBound {
		t.Fatalf("GET %s answered %d after %v: want an answer within %v", url, resp.StatusCode, d, answerBound)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: decodeBody(t, b)}
}

func decodeBody(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var body map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("not JSON: %s", b)
		}
	}
	return body
}

// seedView writes one product view into the live generation of the real
// Redis and returns its ID.
func seedView(t *testing.T, redisAddr string) string {
	t.Helper()
	client := newRedis(redisAddr)
	defer client.Close()
	store, err := redisview.New(client, redisview.Config{Projection: productview.Name})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	gen, err := store.EnsureLive(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	w, err := productview.NewWriter(store, gen)
	if err != nil {
		t.Fatal(err)
	}
	events := eventgen.Stream(eventgen.Options{Products: 1, Events: 1, Seed: uint64(time.Now().UnixNano())})
	if err := w.Apply(ctx, events); err != nil {
		t.Fatal(err)
	}
	return events[0].AggregateID
}

func wantUnavailable(t *testing.T, a answer, what string) {
	t.Helper()
	if a.status != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" ||
		!strings.HasPrefix(a.header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("%s: %d %v %v: want 503 problem+json with Retry-After", what, a.status, a.header, a.body)
	}
}

// readyzNames checks that /readyz answers 503 within the bound, naming
// failing as failing.
func readyzNames(t *testing.T, base, failing string) {
	t.Helper()
	a := timedCall(t, base+"/readyz")
	checks, _ := a.body["checks"].(map[string]any)
	if a.status != http.StatusServiceUnavailable || checks[failing] != "failing" {
		t.Fatalf("readyz: %d %v: want 503 naming %s", a.status, a.body, failing)
	}
}

// TestBlackholedElasticsearch: against an Elasticsearch that accepts and
// never answers, serve starts (its search projector waits for
// Elasticsearch in the background), a search is a 503 within the query
// timeout and product views still answer from the real Redis.
func TestBlackholedElasticsearch(t *testing.T) {
	redisAddr := testenv.Redis(t)
	hole, err := netcut.NewBlackhole()
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	id := seedView(t, redisAddr)
	base := startAPI(t, redisAddr, "http://"+hole.Addr(), "--roles", "api,projector", "--projections", "product-search")

	for range 2 { // the second search meets the connection the first left behind
		wantUnavailable(t, timedCall(t, base+"/v1/products/search?q=shoe"), "search")
	}
	if v := timedCall(t, base+"/v1/products/"+id); v.status != http.StatusOK || v.body["id"] != id {
		t.Fatalf("view while Elasticsearch hangs: %d %v", v.status, v.body)
	}
	readyzNames(t, base, "elasticsearch")
}

// TestBlackholedRedis: against a Redis that accepts and never answers, a
// product view is a 503 within the query timeout and search still answers
// from the real Elasticsearch.
func TestBlackholedRedis(t *testing.T) {
	esURL := testenv.Elasticsearch(t)
	hole, err := netcut.NewBlackhole()
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	// The read alias exists once a projector has started; make sure of it.
	st := stack{currency: "EUR"}
	if err := attachElasticsearch(context.Background(), &st, esURL); err != nil {
		t.Fatal(err)
	}
	if _, err := st.searchLive(context.Background()); err != nil {
		t.Fatal(err)
	}
	base := startAPI(t, hole.Addr(), esURL)

	const id = "6f0c2a62-2b4c-4f7e-9d55-000000000002"
	wantUnavailable(t, timedCall(t, base+"/v1/products/"+id), "view")
	// A read with ?minVersion= waits its ?wait=, then one more bounded read.
	start := time.Now()
	c := &http.Client{Timeout: time.Minute}
	resp, err := c.Get(base + "/v1/products/" + id + "?minVersion=1&wait=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := time.Since(start); resp.StatusCode != http.StatusServiceUnavailable || d > time.Second+answerBound {
		t.Fatalf("view with minVersion while Redis hangs: %d after %v", resp.StatusCode, d)
	}
	if s := timedCall(t, base+"/v1/products/search?q=shoe"); s.status != http.StatusOK {
		t.Fatalf("search while Redis hangs: %d %v", s.status, s.body)
	}
	readyzNames(t, base, "redis")
}
