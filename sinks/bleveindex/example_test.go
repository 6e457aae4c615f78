package bleveindex_test

import (
	"context"
	"fmt"
	"time"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/bleveindex"
)

func Example() {
	ctx := context.Background()
	ix, err := bleveindex.NewMemory() // or bleveindex.Open(dir) to keep it
	if err != nil {
		panic(err)
	}
	defer ix.Close()

	created := schemas.Event{
		ID: "e1", AggregateType: schemas.AggregateProduct, AggregateID: "p1", Version: 1,
		Timestamp: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		Data: &schemas.ProductCreated{
			Name: "Quiet Lamp", Description: "A lamp for reading.", Price: schemas.Money{Amount: 1999, Currency: "EUR"},
			CategoryID: "cat-1", CategoryName: "Lighting", BrandID: "brand-1", BrandName: "Lumen", Stock: 3,
		},
	}
	// Applying the same batch twice changes nothing: the version decides.
	for range 2 {
		if err := ix.Apply(ctx, []schemas.Event{created}); err != nil {
			panic(err)
		}
	}

	r, err := ix.Search(ctx, productsearch.Query{Text: "lamp LIGHTING", Page: 1, PageSize: 10})
	if err != nil {
		panic(err)
	}
	for _, h := range r.Products {
		fmt.Println(h.ID, h.Name, h.Price.Amount, h.InStock)
	}
	fmt.Println("total", r.Total, "category", r.Facets.Category)
	// Output:
	// p1 Quiet Lamp 1999 true
	// total 1 category [{cat-1 Lighting 1}]
}
