package eventgen_test

import (
	"reflect"
	"testing"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/schemas"
)

// checkValid fails t unless events is a stream a decider could have
// written: per product, versions 1, 2, 3 … in order, a ProductCreated
// first (unless the product is continued), nothing after a
// ProductDiscontinued, every event valid.
func checkValid(t *testing.T, events []schemas.Event, continued map[string]int64) map[string]int64 {
	t.Helper()
	version := map[string]int64{}
	for id, v := range continued {
		version[id] = v
	}
	done := map[string]bool{}
	for i, e := range events {
		if err := e.Validate(); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		id := e.AggregateID
		if e.Version != version[id]+1 {
			t.Fatalf("event %d of %s: version %d after %d", i, id, e.Version, version[id])
		}
		if (e.Version == 1) != (e.Type() == schemas.TypeProductCreated) {
			t.Fatalf("event %d of %s: %s at version %d", i, id, e.Type(), e.Version)
		}
		if done[id] {
			t.Fatalf("event %d of %s: %s after ProductDiscontinued", i, id, e.Type())
		}
		done[id] = e.Type() == schemas.TypeProductDiscontinued
		version[id] = e.Version
	}
	return version
}

func count(events []schemas.Event) map[string]int {
	n := map[string]int{}
	for _, e := range events {
		n[e.Type()]++
	}
	return n
}

func TestStream(t *testing.T) {
	tests := []struct {
		name     string
		o        eventgen.Options
		products int
		check    func(t *testing.T, events []schemas.Event, types map[string]int)
	}{
		{name: "spread", o: eventgen.Options{Products: 30, Events: 900, Seed: 1}, products: 30,
			check: func(t *testing.T, events []schemas.Event, types map[string]int) {
				if len(events) != 900 || types[schemas.TypeProductDiscontinued] != 0 {
					t.Errorf("%d events, %d discontinued; want 900, 0", len(events), types[schemas.TypeProductDiscontinued])
				}
			}},
		{name: "spread with discontinues", o: eventgen.Options{Products: 30, Events: 900, Seed: 2, Discontinue: true}, products: 30,
			check: func(t *testing.T, _ []schemas.Event, types map[string]int) {
				if types[schemas.TypeProductDiscontinued] == 0 {
					t.Error("no product discontinued")
				}
			}},
		{name: "fewer events than products", o: eventgen.Options{Products: 10, Events: 4, Seed: 3}, products: 4},
		{name: "catalogue", o: eventgen.Options{Products: 200, Seed: 4, Updates: eventgen.Range{Min: 2, Max: 5}, Discontinue: true}, products: 200,
			check: func(t *testing.T, events []schemas.Event, types map[string]int) {
				perProduct := map[string]int{}
				for _, e := range events {
					if e.Type() != schemas.TypeProductDiscontinued {
						perProduct[e.AggregateID]++
					}
				}
				for id, n := range perProduct {
					if n < 3 || n > 6 {
						t.Fatalf("product %s: %d events besides a discontinue, want 1 + 2..5", id, n)
					}
				}
				if types[schemas.TypeProductDiscontinued] == 0 {
					t.Error("no product discontinued")
				}
			}},
		{name: "mix without prices and details", o: eventgen.Options{Products: 50, Seed: 5, Updates: eventgen.Range{Max: 10}, Mix: eventgen.Mix{Stock: 1, Review: 3}}, products: 50,
			check: func(t *testing.T, _ []schemas.Event, types map[string]int) {
				if types[schemas.TypeProductPriceChanged]+types[schemas.TypeProductDetailsUpdated] != 0 || types[schemas.TypeProductReviewAdded] <= types[schemas.TypeProductStockChanged] {
					t.Errorf("types %v: want only reviews and stock changes, reviews most", types)
				}
			}},
		{name: "many details", o: eventgen.Options{Products: 50, Seed: 6, Updates: eventgen.Range{Min: 20, Max: 20}, Mix: eventgen.Mix{Details: 1}, ManyDetails: true}, products: 50,
			check: func(t *testing.T, events []schemas.Event, _ map[string]int) {
				var images, cleared int
				for _, e := range events {
					if d, ok := e.Data.(*schemas.ProductDetailsUpdated); ok {
						if d.ImageURLs != nil {
							images++
						}
						if d.Tags != nil && len(d.Tags) == 0 {
							cleared++
						}
					}
				}
				if images == 0 || cleared == 0 {
					t.Errorf("%d image URL changes, %d cleared tag lists; want some of both", images, cleared)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := eventgen.Stream(tt.o)
			if again := eventgen.Stream(tt.o); !reflect.DeepEqual(events, again) {
				t.Fatal("the same Options gave different events")
			}
			if got := len(checkValid(t, events, nil)); got != tt.products {
				t.Errorf("%d products, want %d", got, tt.products)
			}
			if tt.check != nil {
				tt.check(t, events, count(events))
			}
		})
	}
}

func TestStreamContinues(t *testing.T) {
	before := eventgen.Stream(eventgen.Options{Products: 5, Events: 40, Seed: 7})
	last := map[string]int64{}
	for _, e := range before {
		last[e.AggregateID] = e.Version
	}
	var cont []eventgen.Continued
	for id, v := range last {
		cont = append(cont, eventgen.Continued{ID: id, Version: v, Stock: 3})
	}
	after := eventgen.Stream(eventgen.Options{Continue: cont, Events: 100, Seed: 8, Mix: eventgen.Mix{Stock: 1, Review: 1}})
	versions := checkValid(t, after, last)
	if len(after) != 100 || len(versions) != len(last) {
		t.Errorf("%d events on %d products, want 100 on the %d continued", len(after), len(versions), len(last))
	}
}
