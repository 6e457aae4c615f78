package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/notifier"
	"github.com/streamview/streamview/processors/webhook"
	"github.com/streamview/streamview/sinks/redisnotify"
)

// TestServeSubscriptions follows a subscription from the HTTP API through
// the decider to the notifier role's webhook, and its deletion.
func TestServeSubscriptions(t *testing.T) {
	brokers := strings.Join(testenv.Kafka(t), ",")
	redisAddr := testenv.Redis(t)
	esURL := testenv.Elasticsearch(t)
	prefix := testenv.Name("svtest:notifier") + ":"
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	var out strings.Builder
	if err := run(context.Background(), []string{"topics", "apply", "--brokers", brokers, "--file", "../../topics.yaml"}, nil, &out, &out); err != nil {
		t.Fatalf("topics apply: %v\n%s", err, out.String())
	}

	type got struct {
		body notifier.Body
		ok   bool
	}
	var (
		mu       sync.Mutex
		received = map[string][]got{} // by path: one receiver per subscription
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ts, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
		var body notifier.Body
		json.Unmarshal(b, &body)
		ok := notifier.Verify("s3cret", ts, b, r.Header.Get(webhook.HeaderSignature)) &&
			r.Header.Get(webhook.HeaderID) == notifier.WebhookID(body.EventID, body.SubscriptionID)
		mu.Lock()
		received[r.URL.Path] = append(received[r.URL.Path], got{body, ok})
		mu.Unlock()
	}))
	defer hook.Close()
	deliveries := func(path string) []got {
		mu.Lock()
		defer mu.Unlock()
		return append([]got(nil), received[path]...)
	}

	ctx, cancel := context.WithCancel(context.Background())
	addrCh := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serveForTest(ctx, []string{"serve", "--roles", "api,decider,notifier", "--brokers", brokers, "--redis", redisAddr,
			"--elasticsearch", esURL, "--addr", "127.0.0.1:0", "--log-level", "warn",
			"--group", testenv.Name("notify-serve"), "--redis-prefix", prefix, "--retry-min", "100ms", "--retry-max", "1s"}, addrCh)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	base := waitListening(t, addrCh, done)

	a := call(t, "POST", base+"/v1/products", `{"name":"Kettle","description":"","price":{"amount":"40.00","currency":"EUR"},
		"categoryId":"kitchen","categoryName":"Kitchen","brandId":"acme","brandName":"Acme","stock":0}`, "Prefer", "wait=20")
	if a.status != 201 {
		t.Fatalf("create: %d %v", a.status, a.body)
	}
	id := a.body["productId"].(string)

	if a := call(t, "POST", base+"/v1/products/"+strings.Replace(id, id[:8], "00000000", 1)+"/subscriptions",
		`{"url":"`+hook.URL+`/x","events":["priceDrop"],"secret":"s3cret"}`); a.status != 404 {
		t.Errorf("subscribe to an unknown product: %d %v, want 404", a.status, a.body)
	}
	if a := call(t, "POST", base+"/v1/products/"+id+"/subscriptions",
		`{"url":"http://example.com/x","events":["priceDrop"],"secret":"s3cret"}`); a.status != 422 {
		t.Errorf("subscribe outside the allowlist: %d %v, want 422", a.status, a.body)
	}
	// If-Match names the product's version, as on every command to it.
	if a := call(t, "POST", base+"/v1/products/"+id+"/subscriptions",
		`{"url":"`+hook.URL+`/x","events":["priceDrop"],"secret":"s3cret"}`, "If-Match", `"2"`); a.status != 409 {
		t.Errorf("subscribe with If-Match of another version: %d %v, want 409", a.status, a.body)
	}
	a = call(t, "POST", base+"/v1/products/"+id+"/subscriptions", `{"url":"`+hook.URL+`/first","events":["priceDrop","backInStock"],"secret":"s3cret"}`, "If-Match", `"1"`)
	if a.status != 201 {
		t.Fatalf("subscribe: %d %v", a.status, a.body)
	}
	first := a.body["subscriptionId"].(string)

	price := func(amount string) {
		t.Helper()
		if a := call(t, "PUT", base+"/v1/products/"+id+"/price", `{"price":{"amount":"`+amount+`","currency":"EUR"}}`, "Prefer", "wait=20"); a.status != 200 {
			t.Fatalf("price %s: %d %v", amount, a.status, a.body)
		}
	}
	price("30.00")                                                                          // a drop
	price("35.00")                                                                          // a rise: nothing
	call(t, "PUT", base+"/v1/products/"+id+"/stock", `{"quantity":4}`, "Prefer", "wait=20") // back in stock
	price("20.00")                                                                          // a drop
	testenv.Eventually(t, 60*time.Second, func() error {
		if n := len(deliveries("/first")); n < 3 {
			return testenv.Errorf("%d deliveries, want 3", n)
		}
		return nil
	})
	d := deliveries("/first")
	if len(d) != 3 || d[0].body.Event != "priceDrop" || d[0].body.Price.Amount != "30.00" || d[0].body.OldPrice.Amount != "40.00" ||
		d[1].body.Event != "backInStock" || *d[1].body.Stock != 4 || d[2].body.Price.Amount != "20.00" {
		t.Fatalf("deliveries %+v", d)
	}
	for _, g := range d {
		if !g.ok || g.body.SubscriptionID != first || g.body.ProductID != id {
			t.Errorf("delivery %+v: bad signature, Webhook-Id or IDs", g)
		}
	}

	if a := call(t, "DELETE", base+"/v1/subscriptions/"+first, "", "Prefer", "wait=20"); a.status != 200 {
		t.Fatalf("unsubscribe: %d %v", a.status, a.body)
	}
	if a := call(t, "DELETE", base+"/v1/subscriptions/"+first, "", "Prefer", "wait=20"); a.status != 404 {
		t.Errorf("unsubscribe again: %d %v, want 404", a.status, a.body)
	}
	a = call(t, "POST", base+"/v1/products/"+id+"/subscriptions", `{"url":"`+hook.URL+`/second","events":["priceDrop"],"secret":"s3cret"}`)
	if a.status != 201 {
		t.Fatalf("subscribe again: %d %v", a.status, a.body)
	}
	price("10.00")
	// The drop's notifications were queued together, before any of them was
	// sent: once the second subscription has its delivery, the first's
	// queue shows whether it got one too. (The shared events topic holds
	// earlier runs' subscriptions, whose receivers are gone: only this
	// test's queues are looked at.)
	store := redisnotify.New(rdb, prefix)
	testenv.Eventually(t, 60*time.Second, func() error {
		if n := len(deliveries("/second")); n != 1 {
			return testenv.Errorf("second subscription: %d deliveries, want 1", n)
		}
		return nil
	})
	if q, err := store.Queued(context.Background(), first); err != nil || q != 0 {
		t.Errorf("the deleted subscription has %d notifications queued (%v), want none", q, err)
	}
	if n := len(deliveries("/first")); n != 3 {
		t.Errorf("the deleted subscription got %d deliveries, want still 3", n)
	}
}
