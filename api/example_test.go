package api_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/api"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview"
)

// instantBus stands in for the command bus: it accepts every command at
// once as version 1. cmd/streamview wires a *commandbus.Sender and a
// *commandbus.Results instead.
type instantBus struct {
	mu      sync.Mutex
	results map[string]schemas.CommandResult
}

func (b *instantBus) SendBound(_ context.Context, c schemas.Command, _ string) (commandbus.Sent, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.results[c.ID] = schemas.CommandResult{CommandID: c.ID, ProductID: c.ProductID, Status: schemas.StatusAccepted, Version: 1}
	return commandbus.Sent{CommandID: c.ID, ProductID: c.ProductID}, nil
}

// Bound knows no keys: an example has no retries to check.
func (b *instantBus) Bound(string) (commandbus.KeyBinding, bool) {
	return commandbus.KeyBinding{}, false
}

func (b *instantBus) Status(id string) (commandbus.Status, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.results[id]
	return commandbus.Status{CommandID: id, ProductID: r.ProductID, State: r.Status, Result: r}, ok
}

func (b *instantBus) Wait(ctx context.Context, id string) (schemas.CommandResult, error) {
	if st, ok := b.Status(id); ok {
		return st.Result, nil
	}
	<-ctx.Done()
	return schemas.CommandResult{}, ctx.Err()
}

// A client creates a product and waits for the decider's outcome; with an
// Idempotency-Key, a retry would get the same IDs and outcome. A bad price
// is refused before anything is published.
func Example() {
	srv := api.New(api.Config{}, api.Deps{Commands: &instantBus{results: map[string]schemas.CommandResult{}}})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()

	post := func(key, body string) {
		req, _ := http.NewRequest("POST", ts.URL+"/v1/products", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Prefer", "wait=5")
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Println(resp.Status, resp.Header.Get("Content-Type"))
		fmt.Print(string(b))
	}
	post("example-order-1", `{"name":"Trail Shoe","description":"","price":{"amount":"89.90","currency":"EUR"},
		"categoryId":"shoes","categoryName":"Shoes","brandId":"acme","brandName":"ACME"}`)
	post("example-order-2", `{"name":"Trail Shoe","description":"","price":{"amount":"89.999","currency":"EUR"},
		"categoryId":"shoes","categoryName":"Shoes","brandId":"acme","brandName":"ACME"}`)
	// Output:
	// 201 Created application/json
	// {"commandId":"90401111-3e93-5ce3-8470-0565c0e6c132","productId":"6dd7a4b9-b0d0-59e4-97a2-b2de454fb3cc","status":"accepted","version":1}
	// 422 Unprocessable Entity application/problem+json
	// {"type":"tag:streamview,2025:problem/invalid-fields","title":"Unprocessable Entity","status":422,"detail":"The request has an invalid field: price.amount must have at most 2 decimals in EUR.","errors":[{"field":"price.amount","message":"must have at most 2 decimals in EUR"}]}
}

// cmd/streamview wires the real parts: a command Sender whose Tracker is
// the Results reader (so that a command is pending from the moment it is
// sent), the product views over Redis, and a search index.
func ExampleServer_ListenAndServe() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	logger := slog.Default()
	brokers := []string{"127.0.0.1:9092"}

	codec, err := schemas.NewCodec()
	if err != nil {
		log.Fatal(err)
	}
	results, err := commandbus.NewResults(commandbus.ResultsConfig{Brokers: brokers, Logger: logger}, codec)
	if err != nil {
		log.Fatal(err)
	}
	sender, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: brokers, Tracker: results, Logger: logger}, codec)
	if err != nil {
		log.Fatal(err)
	}
	defer sender.Close()

	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	store, err := redisview.New(rdb, redisview.Config{Projection: productview.Name})
	if err != nil {
		log.Fatal(err)
	}
	var index productsearch.Index // sinks/esindex.New(...), or the embedded index

	cfg := api.Config{Currency: "EUR", Logger: logger}
	if err := cfg.Validate(); err != nil {
		log.Fatal(err)
	}
	srv := api.New(cfg, api.Deps{
		Commands: struct {
			*commandbus.Sender
			*commandbus.Results
		}{sender, results},
		Views:  productview.NewReader(store),
		Search: index,
		Ready: []api.Check{
			{Name: "redis", Check: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
		},
	})

	// cmd/streamview runs these two in its errgroup.
	go func() {
		if err := results.Run(ctx); err != nil {
			log.Print(err)
			stop()
		}
	}()
	if err := srv.ListenAndServe(ctx, api.DefaultAddr); err != nil {
		log.Fatal(err)
	}
}
