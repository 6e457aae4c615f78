package storetest

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
)

// mixedStream is a batch that holds many events of one hot product (a
// burst, folded by the store into one write) among other products' events,
// with some of the hot product's events invalid (a payload-less update:
// the view refuses each for good). It returns the batch, the indexes of the
// invalid events, and the hot product's ID.
func mixedStream() (events []schemas.Event, invalid []int, hot string) {
	hot = "00000000-0000-4000-8000-00000000f01d"
	burst := eventgen.Burst(hot, 300, 5, time.Time{})
	others := eventgen.Stream(eventgen.Options{Products: 10, Events: 100, Seed: 5})
	for i, e := range burst {
		if i > 0 && i%37 == 0 {
			// The same envelope, no payload: ChangeOf refuses it.
			switch e.Data.(type) {
			case *schemas.ProductPriceChanged:
				e.Data = (*schemas.ProductPriceChanged)(nil)
			case *schemas.ProductStockChanged:
				e.Data = (*schemas.ProductStockChanged)(nil)
			case *schemas.ProductReviewAdded:
				e.Data = (*schemas.ProductReviewAdded)(nil)
			default:
				e.Data = (*schemas.ProductDetailsUpdated)(nil)
			}
			burst[i] = e
		}
	}
	// Interleave: three hot events, then one other, keeping each product's
	// order.
	for len(burst) > 0 || len(others) > 0 {
		n := min(3, len(burst))
		events = append(events, burst[:n]...)
		burst = burst[n:]
		if len(others) > 0 {
			events = append(events, others[0])
			others = others[1:]
		}
	}
	for i, e := range events {
		if _, err := productview.ChangeOf(e); err != nil {
			invalid = append(invalid, i)
		}
	}
	return events, invalid, hot
}

// A batch of many events of one product, some of them invalid: each invalid
// event is named as permanent on its own (for the runtime to dead-letter
// it alone), and every other event, of that product too, is written, in
// the same Apply. The runtime then applies the rest again: all duplicates.
// The views are the fold of the valid events.
func testMixedInvalid(t *testing.T, s Store) {
	events, invalid, hot := mixedStream()
	if len(invalid) < 5 {
		t.Fatalf("the stream has %d invalid events, want several", len(invalid))
	}
	w, err := productview.NewWriter(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	err = w.Apply(context.Background(), events)
	if got := batch.PermanentAt(err); !slices.Equal(got, invalid) {
		t.Fatalf("Apply named %v as permanent (%v); want the invalid events %v", got, err, invalid)
	}
	var be *batch.Error
	errors.As(err, &be)
	for _, f := range be.Failures {
		if !errors.Is(f.Err, productview.ErrInvalidEvent) {
			t.Errorf("event %d failed with %v, want ErrInvalidEvent", f.Index, f.Err)
		}
	}
	valid := len(events) - len(invalid)
	if st := w.Stats(); st.Applied != int64(valid) || st.Duplicates != 0 {
		t.Fatalf("writer stats %+v, want %d applied, none duplicate", st, valid)
	}

	// The runtime dead-letters the named events and applies the rest again.
	var rest []schemas.Event
	for i, e := range events {
		if !slices.Contains(invalid, i) {
			rest = append(rest, e)
		}
	}
	if err := w.Apply(context.Background(), rest); err != nil {
		t.Fatalf("Apply of the rest: %v", err)
	}
	if st := w.Stats(); st.Applied != int64(valid) || st.Duplicates != int64(valid) {
		t.Fatalf("writer stats %+v, want %d applied and as many duplicates", st, valid)
	}

	want := map[string]productview.View{}
	for _, e := range rest {
		want[e.AggregateID] = productview.Fold(want[e.AggregateID], e)
	}
	reader := productview.NewReader(s)
	for id, v := range want {
		got, ok, err := reader.GetAt(context.Background(), 1, id)
		if err != nil || !ok || !reflect.DeepEqual(got, v) {
			t.Errorf("view %s = %+v, found %v, %v; want the fold %+v", id, got, ok, err, v)
		}
	}
	if want[hot].ReviewCount == 0 {
		t.Error("the hot product has no reviews: the case tests no counter")
	}
}

// A redelivery that repeats the first part of a product's events in a batch
// with the rest (a crash after part of a batch was stored) applies exactly
// the rest: the folded write of the whole meets a version inside its span
// and goes change by change instead.
func testFoldedPartlyRedelivered(t *testing.T, s Store) {
	events, invalid, _ := mixedStream()
	var valid []schemas.Event
	for i, e := range events {
		if !slices.Contains(invalid, i) {
			valid = append(valid, e)
		}
	}
	w, err := productview.NewWriter(s, 1)
	if err != nil {
		t.Fatal(err)
	}
	first := len(valid) / 3
	if err := w.Apply(context.Background(), valid[:first]); err != nil {
		t.Fatal(err)
	}
	if err := w.Apply(context.Background(), valid); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Applied != int64(len(valid)) || st.Duplicates != int64(first) {
		t.Fatalf("writer stats %+v, want %d applied, %d duplicates", st, len(valid), first)
	}
	want := map[string]productview.View{}
	for _, e := range valid {
		want[e.AggregateID] = productview.Fold(want[e.AggregateID], e)
	}
	reader := productview.NewReader(s)
	for id, v := range want {
		got, ok, err := reader.GetAt(context.Background(), 1, id)
		if err != nil || !ok || !reflect.DeepEqual(got, v) {
			t.Errorf("view %s = %+v, found %v, %v; want the fold %+v", id, got, ok, err, v)
		}
	}
}
