package processors

import (
	"context"
	"slices"
	"testing"

	"github.com/streamview/streamview/schemas"
)

type joiningProjection struct{}

func (joiningProjection) Apply(context.Context, []schemas.Event) error { return nil }
func (joiningProjection) Aggregates() []string {
	return []string{schemas.AggregateProduct, schemas.AggregateCategory}
}

// A projection that names its aggregate types (AggregateProjection) gets
// them when the Config names none; a Config that names some wins.
func TestProjectionAggregates(t *testing.T) {
	r, err := New(Config{Name: "joined", Generation: 1}, nil, joiningProjection{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.takes(schemas.AggregateCategory) || !r.takes(schemas.AggregateProduct) || r.takes(schemas.AggregateBrand) || r.takes(schemas.AggregateSubscription) {
		t.Fatalf("takes: Aggregates %v", r.Config().Aggregates)
	}
	r, err = New(Config{Name: "joined", Generation: 1, Aggregates: []string{schemas.AggregateBrand}}, nil, joiningProjection{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Config().Aggregates, []string{schemas.AggregateBrand}) || r.takes(schemas.AggregateProduct) {
		t.Fatalf("Config.Aggregates did not win: %v", r.Config().Aggregates)
	}
	plain, err := New(Config{Name: "plain", Generation: 1}, nil, struct{ Projection }{joiningProjection{}})
	if err != nil {
		t.Fatal(err)
	}
	if !plain.takes(schemas.AggregateProduct) || plain.takes(schemas.AggregateCategory) {
		t.Fatalf("a projection without Aggregates takes products only: %v", plain.Config().Aggregates)
	}
}
