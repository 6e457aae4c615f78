package indextest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/schemas"
)

// renamed builds reference event v of a category or brand.
func renamed(typ, id string, v int64, name string) schemas.Event {
	var data schemas.EventData = &schemas.CategoryRenamed{Name: name}
	if typ == schemas.AggregateBrand {
		data = &schemas.BrandRenamed{Name: name}
	}
	return schemas.Event{
		ID: fmt.Sprintf("%s-%s-v%d", typ, id, v), AggregateType: typ, AggregateID: id, Version: v,
		Timestamp: time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC).Add(time.Duration(v) * time.Minute), Data: data,
	}
}

func productIn(name, cat, catName, brand, brandName string) *schemas.ProductCreated {
	c := created(name, 1000, 1)
	c.CategoryID, c.CategoryName, c.BrandID, c.BrandName = cat, catName, brand, brandName
	return c
}

// textIDs is the sorted IDs of the products a search for text finds.
func textIDs(t *testing.T, ix productsearch.Index, text string) []string {
	t.Helper()
	got := ids(searchAll(t, ix, productsearch.Query{Text: text, PageSize: 100}))
	slices.Sort(got)
	return got
}

func modelTextIDs(m *Model, text string) []string {
	want, _ := m.Search(productsearch.Query{Text: text})
	out := make([]string, len(want))
	for i, d := range want {
		out[i] = d.ID
	}
	slices.Sort(out)
	return out
}

// Every document shows the newest name of its category and brand, whatever
// came first: a rename before the category's first product, product events
// carrying stale names, a redelivered older rename, a product moving to
// another category.
func (s *suite) testReferenceJoin(t *testing.T) {
	ix := s.newIndex(t)
	a, b := "00000000-0000-4000-8000-0000000000a3", "00000000-0000-4000-8000-0000000000b3"
	var m *Model
	step := func(what string, evs ...schemas.Event) {
		t.Helper()
		if m == nil {
			m = NewModel(Currency, nil)
		}
		m.Apply(evs)
		s.apply(t, ix, evs)
		s.only(t, ix, m, productsearch.Query{})
		for _, d := range m.Docs {
			for _, text := range []string{d.CategoryName, d.BrandName} {
				if got, want := textIDs(t, ix, text), modelTextIDs(m, text); !slices.Equal(got, want) {
					t.Fatalf("%s: search %q finds %v, want %v", what, text, got, want)
				}
			}
		}
	}

	step("rename before the first product", renamed(schemas.AggregateCategory, "kitchen", 1, "Kitchenware"))
	step("product with its own, older name", event(a, 1, productIn("Quiet Lamp", "kitchen", "Old Kitchen", "acme", "Acme Old")))
	if got := search(t, ix, productsearch.Query{Page: 1, PageSize: 1}).Products; len(got) != 1 || got[0].CategoryName != "Kitchenware" || got[0].BrandName != "Acme Old" {
		t.Fatalf("hits %+v: want category Kitchenware, brand Acme Old (no brand name yet)", got)
	}
	step("a second product", event(b, 1, productIn("Bold Mug", "kitchen", "Kitchen", "acme", "Acme")))
	step("two brand renames in one batch", renamed(schemas.AggregateBrand, "acme", 1, "Acmecorp"), renamed(schemas.AggregateBrand, "acme", 2, "Acmeplus"))
	if got := textIDs(t, ix, "acmeplus"); !slices.Equal(got, []string{a, b}) {
		t.Fatalf("search acmeplus: %v, want both products", got)
	}
	if got := textIDs(t, ix, "acmecorp"); len(got) != 0 {
		t.Fatalf("search acmecorp (an old brand name) still finds %v", got)
	}
	step("an older rename redelivered", renamed(schemas.AggregateBrand, "acme", 1, "Acmecorp"), renamed(schemas.AggregateCategory, "kitchen", 1, "Kitchenware"))
	step("a product event carrying a stale name", event(a, 2, &schemas.ProductDetailsUpdated{CategoryName: new("Stale Kitchen"), BrandName: new("Acme Stale")}))
	step("a product moving to a category without a name", event(a, 3, &schemas.ProductDetailsUpdated{CategoryID: new("garden"), CategoryName: new("Garden")}))
	step("that category named", renamed(schemas.AggregateCategory, "garden", 1, "Gardening"))
	step("renamed again", renamed(schemas.AggregateCategory, "kitchen", 2, "Cookware"), renamed(schemas.AggregateCategory, "garden", 2, "Outdoors"))
	step("a product created later with an older name", event("00000000-0000-4000-8000-0000000000c3", 1, productIn("Crisp Kettle", "kitchen", "Kitchenware", "acme", "Acmecorp")))
	if got := textIDs(t, ix, "cookware"); len(got) != 2 {
		t.Fatalf("search cookware: %v, want the 2 products of kitchen", got)
	}
}

// refStream is a random stream of products in a few categories and brands,
// most events carrying a stale or made-up name, and the renames of those
// categories and brands: the product events and the reference events, each
// in version order per aggregate.
func refStream(seed uint64, products int) (productEvents, refEvents []schemas.Event) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	cats, brands := []string{"c1", "c2", "c3"}, []string{"b1", "b2"}
	stale := func(id string) string { return fmt.Sprintf("Stale %s %d", id, r.IntN(3)) }
	for i := range products {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", seed*1000+uint64(i))
		cat, brand := cats[r.IntN(len(cats))], brands[r.IntN(len(brands))]
		v := int64(1)
		productEvents = append(productEvents, event(id, v, productIn(fmt.Sprintf("Item %d", i), cat, stale(cat), brand, stale(brand))))
		for range r.IntN(4) {
			v++
			var data schemas.EventData
			switch r.IntN(4) {
			case 0:
				cat = cats[r.IntN(len(cats))]
				data = &schemas.ProductDetailsUpdated{CategoryID: new(cat), CategoryName: new(stale(cat))}
			case 1:
				data = &schemas.ProductDetailsUpdated{BrandName: new(stale(brand))}
			case 2:
				data = &schemas.ProductPriceChanged{NewPrice: schemas.Money{Amount: int64(100 + r.IntN(5000)), Currency: Currency}}
			default:
				data = &schemas.ProductStockChanged{Quantity: int64(r.IntN(3))}
			}
			productEvents = append(productEvents, event(id, v, data))
		}
	}
	for _, c := range cats {
		for v := range int64(1 + r.IntN(3)) {
			refEvents = append(refEvents, renamed(schemas.AggregateCategory, c, v+1, fmt.Sprintf("Cat%sRev%d", c, v+1)))
		}
	}
	for _, b := range brands {
		for v := range int64(1 + r.IntN(3)) {
			refEvents = append(refEvents, renamed(schemas.AggregateBrand, b, v+1, fmt.Sprintf("Brand%sRev%d", b, v+1)))
		}
	}
	return productEvents, refEvents
}

// lanes splits events into n lanes by aggregate (each aggregate's events
// stay in one lane, in order, as a partition keeps them), then cuts each
// lane into batches of random size, some sent twice or with an earlier
// batch again (a redelivery after a crash before the commit).
func lanes(r *rand.Rand, events []schemas.Event, n int) [][][]schemas.Event {
	lane := map[string]int{}
	split := make([][]schemas.Event, n)
	for _, e := range events {
		k := e.AggregateType + "/" + e.AggregateID
		l, ok := lane[k]
		if !ok {
			l = r.IntN(n)
			lane[k] = l
		}
		split[l] = append(split[l], e)
	}
	out := make([][][]schemas.Event, n)
	for l, evs := range split {
		var batches [][]schemas.Event
		for len(evs) > 0 {
			k := min(len(evs), 1+r.IntN(8))
			batches = append(batches, evs[:k])
			evs = evs[k:]
			if r.IntN(4) == 0 {
				batches = append(batches, batches[r.IntN(len(batches))])
			}
		}
		out[l] = batches
	}
	return out
}

// Random interleavings of product and reference events, applied by
// concurrent lanes with redeliveries, always end with every document
// showing the newest reference names: hits, searches by the new names and
// facet labels as the model says.
func (s *suite) testReferenceInterleavings(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			ix := s.newIndex(t)
			products, refs := refStream(seed, 24)
			m := NewModel(Currency, slices.Concat(refs, products))
			r := rand.New(rand.NewPCG(seed, 7))
			// Two product lanes and two reference lanes, on other partitions.
			all := slices.Concat(lanes(r, products, 2), lanes(r, refs, 2))
			var wg sync.WaitGroup
			errs := make(chan error, len(all))
			for _, batches := range all {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for _, b := range batches {
						if err := ix.Apply(ctx(t), b); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatalf("Apply: %v", err)
			}
			// A late redelivery of old product events with stale names.
			s.apply(t, ix, products[:len(products)/2])
			if s.refresh != nil {
				s.refresh(t, ix)
			}
			s.only(t, ix, m, productsearch.Query{})
			q := productsearch.Query{PageSize: 100}
			want, _ := m.Search(q)
			sameHits(t, "after concurrent lanes", searchAll(t, ix, q), hits(want), true)
			for _, ref := range m.Refs {
				if got, want := textIDs(t, ix, ref.Name), modelTextIDs(m, ref.Name); !slices.Equal(got, want) || len(want) == 0 && ref.Type == schemas.AggregateCategory && m.hasCategory(ref.ID) {
					t.Fatalf("search %q finds %v, want %v", ref.Name, got, want)
				}
			}
		})
	}
}

func (m *Model) hasCategory(id string) bool {
	for _, d := range m.Docs {
		if d.CategoryID == id && !d.Discontinued {
			return true
		}
	}
	return false
}
