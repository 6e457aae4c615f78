package eventgen_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/schemas"
)

func TestBurst(t *testing.T) {
	const id = "00000000-0000-4000-8000-00000000b0b0"
	events := eventgen.Burst(id, 101, 3, time.Time{})
	if v := checkValid(t, events, nil); len(v) != 1 || v[id] != 101 {
		t.Fatalf("versions %v, want %s up to 101", v, id)
	}
	n := count(events)
	for _, typ := range []string{schemas.TypeProductDetailsUpdated, schemas.TypeProductPriceChanged, schemas.TypeProductStockChanged, schemas.TypeProductReviewAdded} {
		if n[typ] != 25 {
			t.Errorf("%d %s, want 25: %v", n[typ], typ, n)
		}
	}
	for _, e := range events {
		if d, ok := e.Data.(*schemas.ProductDetailsUpdated); ok && (len(d.Tags) != eventgen.BurstTags || d.Name == nil || d.BrandName == nil) {
			t.Fatalf("v%d: a details update that is not full: %+v", e.Version, d)
		}
	}
	if again := eventgen.Burst(id, 101, 3, time.Time{}); !reflect.DeepEqual(again, events) {
		t.Fatal("Burst is not deterministic")
	}
}
