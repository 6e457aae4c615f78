package productsearch_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

func ExampleFold() {
	at := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	events := []schemas.Event{
		{AggregateID: "p1", Version: 1, Timestamp: at, Data: &schemas.ProductCreated{
			Name: "Desk lamp", Price: schemas.Money{Amount: 2499, Currency: "EUR"}, Stock: 2}},
		{AggregateID: "p1", Version: 2, Timestamp: at.Add(time.Hour), Data: &schemas.ProductReviewAdded{Rating: 4}},
		{AggregateID: "p1", Version: 2, Timestamp: at.Add(time.Hour), Data: &schemas.ProductReviewAdded{Rating: 4}}, // redelivered
	}
	var d productsearch.Doc
	for _, e := range events {
		d = productsearch.Fold(d, e)
	}
	fmt.Println(d.Name, d.Price, d.ReviewCount, d.AverageRating, d.Version)
	// Output: Desk lamp 2499 1 4 2
}

func ExampleQuery_Validate() {
	q := productsearch.Query{Text: "lamp", Page: 600, PageSize: 20, MinPrice: new(int64(5000)), MaxPrice: new(int64(1000))}
	var ve *productsearch.ValidationError
	if err := q.Validate(); errors.As(err, &ve) {
		for _, f := range ve.Errors {
			fmt.Printf("%s: %s\n", f.Field, f.Message)
		}
	}
	// Output:
	// page: times pageSize must not exceed 10000; page deeper with nextCursor
	// minPrice: must not exceed maxPrice
}
