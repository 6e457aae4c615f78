package productview_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
)

func ptr[T any](v T) *T { return &v }

var ts = time.Date(2026, 11, 26, 6, 33, 49, 123_999_999, time.FixedZone("CET", 3600))

func event(version int64, data schemas.EventData) schemas.Event {
	return schemas.Event{ID: "e", AggregateType: schemas.AggregateProduct, AggregateID: "p-1", Version: version, Timestamp: ts, Data: data}
}

func fields(kv ...string) []productview.Field {
	var fs []productview.Field
	for i := 0; i < len(kv); i += 2 {
		fs = append(fs, productview.Field{Name: kv[i], Value: kv[i+1]})
	}
	return fs
}

func TestChange(t *testing.T) {
	const at = "2026-11-26T05:33:49.123Z"
	for _, tc := range []struct {
		name string
		e    schemas.Event
		want productview.Change
	}{
		{"created", event(1, &schemas.ProductCreated{
			Name: "Kettle", Description: "d", Price: schemas.Money{Amount: 2999, Currency: "EUR"},
			CategoryID: "c", CategoryName: "C", BrandID: "b", BrandName: "B",
			Tags: []string{"x", "y"}, ImageURLs: nil, Stock: 4,
		}), productview.Change{ID: "p-1", Version: 1, Set: fields(
			"name", "Kettle", "description", "d", "priceAmount", "2999", "priceCurrency", "EUR",
			"categoryId", "c", "categoryName", "C", "brandId", "b", "brandName", "B",
			"tags", `["x","y"]`, "imageUrls", `[]`, "stock", "4", "createdAt", at, "updatedAt", at,
		)}},
		{"details, some fields", event(2, &schemas.ProductDetailsUpdated{
			Name: ptr("N"), Tags: []string{}, BrandID: ptr("b2"), BrandName: ptr("B2"),
		}), productview.Change{ID: "p-1", Version: 2, Set: fields(
			"name", "N", "brandId", "b2", "brandName", "B2", "tags", "[]", "updatedAt", at,
		)}},
		{"details, nothing", event(3, &schemas.ProductDetailsUpdated{}),
			productview.Change{ID: "p-1", Version: 3, Set: fields("updatedAt", at)}},
		{"price", event(4, &schemas.ProductPriceChanged{
			OldPrice: schemas.Money{Amount: 1, Currency: "EUR"}, NewPrice: schemas.Money{Amount: 1500, Currency: "JPY"},
		}), productview.Change{ID: "p-1", Version: 4, Set: fields("priceAmount", "1500", "priceCurrency", "JPY", "updatedAt", at)}},
		{"stock", event(5, &schemas.ProductStockChanged{OldQuantity: 3, Quantity: 0}),
			productview.Change{ID: "p-1", Version: 5, Set: fields("stock", "0", "updatedAt", at)}},
		{"review", event(6, &schemas.ProductReviewAdded{ReviewID: "r", Rating: 4, UserID: "u"}),
			productview.Change{ID: "p-1", Version: 6, Set: fields("updatedAt", at),
				Incr: []productview.Incr{{Name: "reviewCount", By: 1}, {Name: "ratingSum", By: 4}}}},
		{"discontinued", event(7, &schemas.ProductDiscontinued{Reason: "r"}),
			productview.Change{ID: "p-1", Version: 7, Set: fields("discontinued", "1", "updatedAt", at)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := productview.ChangeOf(tc.e)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Change =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

type unknownData struct{}

func (unknownData) EventType() string { return "ProductRenamed" }

func TestChangeInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    schemas.Event
	}{
		{"no payload", event(1, nil)},
		{"nil payload", event(1, (*schemas.ProductCreated)(nil))},
		{"nil review", event(1, (*schemas.ProductReviewAdded)(nil))},
		{"unknown type", event(1, unknownData{})},
		{"version 0", event(0, &schemas.ProductDiscontinued{})},
		{"no aggregate ID", func() schemas.Event { e := event(1, &schemas.ProductDiscontinued{}); e.AggregateID = ""; return e }()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := productview.ChangeOf(tc.e); !errors.Is(err, productview.ErrInvalidEvent) {
				t.Fatalf("Change = %v, want ErrInvalidEvent", err)
			}
			// Fold ignores what Change refuses.
			v := productview.View{Name: "kept"}
			if got := productview.Fold(v, tc.e); !reflect.DeepEqual(got, v) {
				t.Fatalf("Fold changed the view: %+v", got)
			}
		})
	}
}

func TestFoldSkipsOldVersions(t *testing.T) {
	v := productview.Fold(productview.View{}, event(2, &schemas.ProductStockChanged{Quantity: 7}))
	for _, e := range []schemas.Event{
		event(2, &schemas.ProductStockChanged{Quantity: 1}),
		event(1, &schemas.ProductReviewAdded{Rating: 5}),
	} {
		if got := productview.Fold(v, e); !reflect.DeepEqual(got, v) {
			t.Fatalf("Fold of version %d over version %d changed the view: %+v", e.Version, v.Version, got)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	for name, f := range map[string]map[string]string{
		"stock":       {"stock": "many"},
		"reviewCount": {"reviewCount": "1.5"},
		"tags":        {"tags": "not json"},
		"price":       {"priceCurrency": "EUR", "priceAmount": "x"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := productview.Decode(productview.Doc{ID: "p", Generation: 1, Version: 1, Fields: f}); !errors.Is(err, productview.ErrCorrupt) {
				t.Fatalf("Decode = %v, want ErrCorrupt", err)
			}
		})
	}
}
