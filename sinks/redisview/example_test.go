package redisview_test

import (
	"context"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview"
)

func Example() {
	srv, _ := miniredis.Run() // any Redis will do
	defer srv.Close()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer client.Close()
	ctx := context.Background()

	store, err := redisview.New(client, redisview.Config{Projection: "product-view"})
	if err != nil {
		panic(err)
	}
	fmt.Println(store.Key(1, "4b1d"))

	review := productview.Change{ID: "4b1d", Version: 2, Incr: []productview.Incr{{Name: "reviewCount", By: 1}}}
	res, _ := store.Apply(ctx, 1, []productview.Change{
		{ID: "4b1d", Version: 1, Set: []productview.Field{{Name: "name", Value: "Kettle"}}},
		review,
		review, // redelivered: skipped by version
	})
	fmt.Printf("applied %d, duplicates %d\n", res.Applied, res.Duplicates)

	live, _ := store.EnsureLive(ctx, 1)
	doc, found, _ := store.Get(ctx, "4b1d")
	fmt.Println(live, found, doc.Version, doc.Fields["name"], doc.Fields["reviewCount"])
	// Output:
	// sv:product-view:g1:{4b1d}
	// applied 2, duplicates 1
	// 1 true 2 Kettle 1
}
