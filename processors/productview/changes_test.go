package productview_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
)

// closed reports whether ch is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// tellingStore is a Store whose Apply answers err after counting the
// changes; the Writer tells Changes whatever it answers.
type tellingStore struct {
	productview.Store // only Apply is called
	err               error
}

func (s tellingStore) Apply(_ context.Context, _ int, changes []productview.Change) (productview.Result, error) {
	return productview.Result{Applied: len(changes)}, s.err
}

func priceEvent(id string, v int64) schemas.Event {
	return schemas.Event{AggregateID: id, Version: v, Timestamp: time.Now(),
		Data: &schemas.ProductPriceChanged{NewPrice: schemas.Money{Amount: 100 + v, Currency: "EUR"}}}
}

// TestWriterTellsChanges: after each Apply the Writer wakes the watchers of
// the products it wrote, and only those; a watch stopped before is not
// woken, and one Apply wakes a watch once (a second watch is needed for
// the next).
func TestWriterTellsChanges(t *testing.T) {
	const a, b, c = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b", "00000000-0000-4000-8000-00000000000c"
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"written", nil},
		{"the store failed (what it wrote is told too)", errors.New("redis: connection reset")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			changes := new(productview.Changes)
			w, err := productview.NewWriter(tellingStore{err: tt.err}, 1)
			if err != nil {
				t.Fatal(err)
			}
			w.Tell(changes)
			chA1, stopA1 := changes.Watch(a)
			chA2, stopA2 := changes.Watch(a)
			chB, stopB := changes.Watch(b)
			chC, stopC := changes.Watch(c)
			stopC() // no longer waiting: never woken
			_ = w.Apply(context.Background(), []schemas.Event{priceEvent(a, 2), priceEvent(a, 3)})
			if !closed(chA1) || !closed(chA2) {
				t.Error("the watches of the product written were not woken")
			}
			if closed(chB) || closed(chC) {
				t.Error("a watch of a product not written was woken")
			}
			stopA1()
			stopA2() // after the wake: harmless
			chA3, stopA3 := changes.Watch(a)
			defer stopA3()
			if closed(chA3) {
				t.Error("a new watch was woken by an earlier write")
			}
			_ = w.Apply(context.Background(), []schemas.Event{priceEvent(b, 2)})
			if !closed(chB) || closed(chA3) {
				t.Errorf("second Apply (product b): b woken %v, a's new watch woken %v; want true, false", closed(chB), closed(chA3))
			}
			stopB()
		})
	}
}

// TestWriterWithoutChanges: a Writer told nothing writes as before.
func TestWriterWithoutChanges(t *testing.T) {
	w, err := productview.NewWriter(tellingStore{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Apply(context.Background(), []schemas.Event{priceEvent("00000000-0000-4000-8000-00000000000a", 2)}); err != nil {
		t.Fatal(err)
	}
}

// TestChangesConcurrent: readers watch, stop and watch again while writers
// tell, all at once (run with -race); every watch made before a write of
// its product and still waiting is woken by it.
func TestChangesConcurrent(t *testing.T) {
	changes := new(productview.Changes)
	w, err := productview.NewWriter(tellingStore{}, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.Tell(changes)
	ids := []string{"00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002", "00000000-0000-4000-8000-000000000003"}
	var wg sync.WaitGroup
	for r := range 8 {
		wg.Go(func() {
			for i := range 500 {
				ch, stop := changes.Watch(ids[(r+i)%len(ids)])
				if i%2 == 0 {
					select {
					case <-ch:
					default:
					}
				}
				stop()
			}
		})
	}
	for wr := range 2 {
		wg.Go(func() {
			for i := range 500 {
				_ = w.Apply(context.Background(), []schemas.Event{priceEvent(ids[(wr+i)%len(ids)], int64(i+2))})
			}
		})
	}
	wg.Wait()
	// Whatever happened above, a new watch is woken by the next write.
	for _, id := range ids {
		ch, stop := changes.Watch(id)
		_ = w.Apply(context.Background(), []schemas.Event{priceEvent(id, 1000)})
		if !closed(ch) {
			t.Errorf("product %s: a watch made after the concurrent run was not woken", id)
		}
		stop()
	}
}
