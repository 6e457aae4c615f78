package productsearch_test

import (
	"slices"
	"testing"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productsearch/indextest"
	"github.com/streamview/streamview/schemas"
)

// fold is a fold of one event into a search document, as productsearch.Fold.
type fold func(productsearch.Doc, schemas.Event) productsearch.Doc

// foldStream folds events, delivered the way a crashing consumer delivers
// them (every third batch again with the two before it), into one document
// per product with f.
func foldStream(f fold, events []schemas.Event) map[string]productsearch.Doc {
	docs := map[string]productsearch.Doc{}
	batches := slices.Collect(slices.Chunk(events, 37))
	for i, b := range batches {
		delivery := b
		if i%3 == 2 {
			delivery = slices.Concat(batches[i-2], batches[i-1], b)
		}
		for _, e := range delivery {
			docs[e.AggregateID] = f(docs[e.AggregateID], e)
		}
	}
	return docs
}

// applied reports whether Fold applies e to d: it is newer.
func applied(d productsearch.Doc, e schemas.Event) bool { return e.Version > d.Version }

// brokenFolds are productsearch.Fold with one bug each: the contract suite's
// model must tell every one of them from the real fold.
var brokenFolds = []struct {
	name string
	fold fold
}{
	{"price change not applied", func(d productsearch.Doc, e schemas.Event) productsearch.Doc {
		out := productsearch.Fold(d, e)
		if _, ok := e.Data.(*schemas.ProductPriceChanged); ok && applied(d, e) {
			out.Price, out.Currency = d.Price, d.Currency
		}
		return out
	}},
	{"version not checked", func(d productsearch.Doc, e schemas.Event) productsearch.Doc {
		if !applied(d, e) {
			d.Version = e.Version - 1
		}
		return productsearch.Fold(d, e)
	}},
	{"tags aliased to the event's", func(d productsearch.Doc, e schemas.Event) productsearch.Doc {
		out := productsearch.Fold(d, e)
		if !applied(d, e) {
			return out
		}
		switch p := e.Data.(type) {
		case *schemas.ProductCreated:
			if p.Tags != nil {
				out.Tags = p.Tags
			}
		case *schemas.ProductDetailsUpdated:
			if p.Tags != nil {
				out.Tags = p.Tags
			}
		}
		return out
	}},
	{"absent name clears it", func(d productsearch.Doc, e schemas.Event) productsearch.Doc {
		out := productsearch.Fold(d, e)
		if p, ok := e.Data.(*schemas.ProductDetailsUpdated); ok && applied(d, e) && p.Name == nil {
			out.Name = ""
		}
		return out
	}},
	{"empty tag list does not clear", func(d productsearch.Doc, e schemas.Event) productsearch.Doc {
		out := productsearch.Fold(d, e)
		if p, ok := e.Data.(*schemas.ProductDetailsUpdated); ok && applied(d, e) && p.Tags != nil && len(p.Tags) == 0 {
			out.Tags = d.Tags
		}
		return out
	}},
	{"category name not changed with its ID", func(d productsearch.Doc, e schemas.Event) productsearch.Doc {
		out := productsearch.Fold(d, e)
		if p, ok := e.Data.(*schemas.ProductDetailsUpdated); ok && applied(d, e) && p.CategoryName != nil {
			out.CategoryName = d.CategoryName
		}
		return out
	}},
	{"discontinue ignored", func(d productsearch.Doc, e schemas.Event) productsearch.Doc {
		out := productsearch.Fold(d, e)
		out.Discontinued = d.Discontinued
		return out
	}},
	{"in stock not derived", func(d productsearch.Doc, e schemas.Event) productsearch.Doc {
		out := productsearch.Fold(d, e)
		out.InStock = d.InStock
		return out
	}},
	{"average rating in whole stars", func(d productsearch.Doc, e schemas.Event) productsearch.Doc {
		out := productsearch.Fold(d, e)
		if out.ReviewCount > 0 {
			out.AverageRating = float64(out.RatingSum / out.ReviewCount)
		}
		return out
	}},
	{"creation time moves with updates", func(d productsearch.Doc, e schemas.Event) productsearch.Doc {
		out := productsearch.Fold(d, e)
		out.CreatedAt = out.UpdatedAt
		return out
	}},
}

// stream is a product stream with every kind of event, details updates of
// several fields, cleared lists and discontinued products.
func stream() []schemas.Event {
	return eventgen.Stream(eventgen.Options{Products: 150, Seed: 17, Updates: eventgen.Range{Min: 2, Max: 12}, Discontinue: true, ManyDetails: true})
}

// scribble overwrites the tags of every event's payload in place, as a
// consumer reusing its decode buffers would.
func scribble(events []schemas.Event) {
	for _, e := range events {
		var tags []string
		switch p := e.Data.(type) {
		case *schemas.ProductCreated:
			tags = p.Tags
		case *schemas.ProductDetailsUpdated:
			tags = p.Tags
		}
		for i := range tags {
			tags[i] = "scribbled"
		}
	}
}

// TestModelAgreesWithFold checks productsearch.Fold against the contract
// suite's model, an independent fold: on redelivered streams both must make
// the same documents, including after the events' buffers are reused.
func TestModelAgreesWithFold(t *testing.T) {
	for name, events := range map[string][]schemas.Event{"catalogue": indextest.Catalogue(), "generated": stream()} {
		t.Run(name, func(t *testing.T) {
			m := indextest.NewModel(indextest.Currency, events)
			got := foldStream(productsearch.Fold, events)
			if name == "generated" {
				scribble(events)
			}
			if bad := m.Mismatches(got); len(bad) > 0 {
				t.Fatalf("%d of %d products differ from the model, first: %s", len(bad), len(m.Docs), bad[0])
			}
		})
	}
}

// TestModelCatchesBrokenFolds shows that the model is an oracle: for each
// deliberate bug in the fold, it reports documents that differ.
func TestModelCatchesBrokenFolds(t *testing.T) {
	for _, tt := range brokenFolds {
		t.Run(tt.name, func(t *testing.T) {
			events := stream()
			m := indextest.NewModel(indextest.Currency, events)
			got := foldStream(tt.fold, events)
			scribble(events)
			if bad := m.Mismatches(got); len(bad) == 0 {
				t.Fatalf("the model does not tell a fold with %q from the real one", tt.name)
			} else {
				t.Logf("%d products differ", len(bad))
			}
		})
	}
}
