package esindex_test

import (
	"context"
	"log"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/sinks/esindex"
)

// A rebuild writes generation 2 beside the live generation 1, then moves the
// read alias in one step.
func Example_rebuild() {
	client, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{"http://127.0.0.1:9200"}})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	next, err := esindex.New(client, esindex.Config{Generation: 2})
	if err != nil {
		log.Fatal(err)
	}
	if err := next.EnsureIndex(ctx, 2); err != nil {
		log.Fatal(err)
	}
	// … the runtime replays the events topic into next.Apply until caught up …
	live, err := next.LiveGeneration(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := next.SwapAlias(ctx, live, 2); err != nil {
		log.Fatal(err)
	}
	res, err := next.Search(ctx, productsearch.Query{Text: "desk lamp", InStockOnly: true, Page: 1, PageSize: 20})
	if err != nil {
		log.Fatal(err)
	}
	log.Println(res.Total, "products")
}
