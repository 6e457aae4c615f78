package schemas_test

import (
	"fmt"
	"time"

	"github.com/streamview/streamview/schemas"
)

func Example() {
	codec, err := schemas.NewCodec() // add schemas.WithRegistry(cl) and call Register for Confluent framing
	if err != nil {
		panic(err)
	}
	e := schemas.Event{
		ID:            "c3a1e5f2-7b6d-4e8f-9a0b-1c2d3e4f5a03",
		AggregateType: schemas.AggregateProduct,
		AggregateID:   "0b6e0d8c-5d1e-4c71-9a38-2f4f1c1f6a01",
		Version:       3,
		Timestamp:     time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC),
		Metadata: schemas.Metadata{
			CorrelationID: "req-7f3a",
			CausationID:   "6f1c2b9e-8f0a-4a43-b7a5-0d7e2f3c4b02",
			UserID:        "alice",
		},
		Data: &schemas.ProductPriceChanged{
			OldPrice: schemas.Money{Amount: 3999, Currency: "EUR"},
			NewPrice: schemas.Money{Amount: 3499, Currency: "EUR"},
		},
	}
	if err := e.Validate(); err != nil {
		panic(err)
	}
	b, err := codec.EncodeEvent(e)
	if err != nil {
		panic(err)
	}
	fmt.Printf("single-object encoding: % x …\n", b[:2])

	got, err := codec.DecodeEvent(b)
	if err != nil {
		panic(err)
	}
	d := got.Data.(*schemas.ProductPriceChanged)
	fmt.Println(got.Type(), got.Version, d.OldPrice, "→", d.NewPrice)
	// Output:
	// single-object encoding: c3 01 …
	// ProductPriceChanged 3 39.99 EUR → 34.99 EUR
}

func ExampleParseEventJSON() {
	line := `{"eventId":"c3a1e5f2-7b6d-4e8f-9a0b-1c2d3e4f5a03","eventType":"ProductStockChanged",` +
		`"aggregateType":"Product","aggregateId":"0b6e0d8c-5d1e-4c71-9a38-2f4f1c1f6a01","version":0,` +
		`"timestamp":"2026-03-14T15:09:26Z","metadata":{"correlationId":"req-7f3a",` +
		`"causationId":"6f1c2b9e-8f0a-4a43-b7a5-0d7e2f3c4b02","userId":"alice"},` +
		`"data":{"oldQuantity":12,"quantity":-1}}`
	_, err := schemas.ParseEventJSON([]byte(line))
	for _, fe := range schemas.FieldErrors(err) {
		fmt.Println(fe)
	}
	// Output:
	// version: must be >= 1, got 0
	// data.quantity: must be >= 0, got -1
}
