package rebuild_test

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview"
)

// Rebuild the product views beside the live generation and swap to it.
// Any Kafka and Redis will do; these are in-process.
func ExampleRebuilder_Run() {
	ctx := context.Background()
	cluster, _ := kfake.NewCluster(kfake.NumBrokers(1))
	defer cluster.Close()
	mr, _ := miniredis.Run()
	defer mr.Close()
	rc := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	defer rc.Close()

	// A log of 100 events of 10 products, and generation 1 live (empty:
	// no projector ever ran, so the rebuild is the first to read the log).
	cl, _ := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	defer cl.Close()
	kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, "events")
	codec, _ := schemas.NewCodec()
	events := eventgen.Stream(eventgen.Options{Products: 10, Events: 100, Seed: 1})
	producers.NewPublisher(cl, codec, "events").Publish(ctx, events...)
	store, _ := redisview.New(rc, redisview.Config{Projection: "product-view"})
	store.EnsureLive(ctx, 1)

	// The wiring (cmd/streamview) puts the store's generations and the
	// projection of a generation together.
	target := rebuild.Target{Generations: store.Generations(), Projection: func(gen int) (processors.Projection, error) {
		return productview.NewWriter(store, gen)
	}}
	r, err := rebuild.New(rebuild.Config{Brokers: cluster.ListenAddrs(), Topic: "events"},
		target, rebuild.NewControl(redisview.RebuildState(rc, "product-view")))
	if err != nil {
		panic(err)
	}
	res, err := r.Run(ctx)
	if err != nil {
		panic(err)
	}
	live, _ := store.Live(ctx)
	fmt.Printf("generation %d is live: %d records read, %d views (the log makes %d)\n", live, res.Records, res.Documents, res.Expected)
	// Output:
	// generation 2 is live: 100 records read, 10 views (the log makes 10)
}
