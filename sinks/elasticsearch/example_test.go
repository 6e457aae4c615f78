package elasticsearch_test

import (
	"context"
	"log"

	es "github.com/elastic/go-elasticsearch/v8"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/sinks/elasticsearch"
)

// A rebuild writes generation 2 beside the live generation 1, then moves the
// read alias in one step.
func Example_rebuild() {
	client, err := es.NewClient(es.Config{Addresses: []string{"http://127.0.0.1:9200"}})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	next, err := elasticsearch.New(client, elasticsearch.Config{Generation: 2})
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
