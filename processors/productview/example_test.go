package productview_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview"
)

func ExampleFold() {
	at := time.Date(2026, 11, 26, 6, 33, 49, 123_456_789, time.UTC)
	var v productview.View
	for i, data := range []schemas.EventData{
		&schemas.ProductCreated{Name: "Kettle", Price: schemas.Money{Amount: 2999, Currency: "EUR"}, Stock: 3},
		&schemas.ProductReviewAdded{Rating: 5},
		&schemas.ProductReviewAdded{Rating: 4},
		&schemas.ProductReviewAdded{Rating: 4},
	} {
		v = productview.Fold(v, schemas.Event{AggregateID: "p-1", Version: int64(i + 1), Timestamp: at, Data: data})
	}
	fmt.Println(v.Price.Amount, v.ReviewCount, v.AverageRating, v.InStock, v.UpdatedAt, v.Version)
	// Output: 29.99 3 4.33 true 2026-11-26T06:33:49.123Z 4
}

func ExampleWriter() {
	srv, _ := miniredis.Run() // any Redis will do
	defer srv.Close()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer client.Close()
	ctx := context.Background()

	store, _ := redisview.New(client, redisview.Config{Projection: productview.Name})
	proj, _ := productview.NewWriter(store, 1) // generation 1
	created := schemas.Event{AggregateID: "p-1", Version: 1, Timestamp: time.Unix(0, 0), Data: &schemas.ProductCreated{
		Name: "Kettle", Price: schemas.Money{Amount: 2999, Currency: "EUR"}, Tags: []string{"kitchen"},
	}}
	// The runtime may deliver a batch twice: the second time is all duplicates.
	for range 2 {
		if err := proj.Apply(ctx, []schemas.Event{created}); err != nil {
			panic(err)
		}
	}
	fmt.Printf("%+v\n", proj.Stats())

	store.EnsureLive(ctx, 1)
	view, found, _ := productview.NewReader(store).Get(ctx, "p-1")
	fmt.Println(found)
	json.NewEncoder(os.Stdout).Encode(view)
	// Output:
	// {Applied:1 Duplicates:1}
	// true
	// {"id":"p-1","name":"Kettle","description":"","price":{"amount":"29.99","currency":"EUR"},"categoryId":"","categoryName":"","brandId":"","brandName":"","averageRating":0,"reviewCount":0,"inStock":false,"stock":0,"tags":["kitchen"],"imageUrls":[],"discontinued":false,"createdAt":"1970-01-01T00:00:00.000Z","updatedAt":"1970-01-01T00:00:00.000Z","version":1}
}
