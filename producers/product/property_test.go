package product_test

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
)

// TestRandomLivesKeepVersionsGapFree decides and folds random command
// sequences and checks that versions never skip or repeat.
func TestRandomLivesKeepVersionsGapFree(t *testing.T) {
	for seed := range uint64(500) {
		checkRandomLife(t, seed, 60)
	}
}

// FuzzRandomLife explores more seeds with go test -fuzz=FuzzRandomLife.
func FuzzRandomLife(f *testing.F) {
	f.Add(uint64(1), uint8(20))
	f.Fuzz(func(t *testing.T, seed uint64, n uint8) { checkRandomLife(t, seed, int(n)) })
}

func checkRandomLife(t *testing.T, seed uint64, n int) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0))
	var (
		s   product.State
		log []schemas.Event
	)
	for i := range n {
		c := randomCommand(r, s)
		before := cloneState(s)
		data, rej := product.Decide(s, c, product.Rules{})
		if !reflect.DeepEqual(s, before) {
			t.Fatalf("seed %d step %d: Decide changed its state argument", seed, i)
		}
		if rej != nil {
			if data != nil {
				t.Fatalf("seed %d step %d: rejected with events %s", seed, i, show(data))
			}
			isInvalid := len(product.Check(c, product.Rules{})) > 0
			if rej.Reason == "" || (rej.Code == schemas.RejectInvalid) != isInvalid ||
				!slices.Contains([]string{schemas.RejectNotFound, schemas.RejectConflict, schemas.RejectInvalid}, rej.Code) {
				t.Fatalf("seed %d step %d: %s: bad rejection %+v", seed, i, c.Type(), rej)
			}
			continue
		}
		if s.Discontinued {
			t.Fatalf("seed %d step %d: %s accepted on a discontinued product", seed, i, c.Type())
		}
		for _, e := range envelope(s, data) {
			if len(log) == 0 && e.Type() != schemas.TypeProductCreated {
				t.Fatalf("seed %d step %d: first event is %s", seed, i, e.Type())
			}
			s = product.Evolve(s, e)
			log = append(log, e)
		}
		if want := before.Version + int64(len(data)); s.Version != want {
			t.Fatalf("seed %d step %d: version %d after %d events on version %d", seed, i, s.Version, len(data), before.Version)
		}
		// Commands that set a value are idempotent: once applied, the same
		// command changes nothing.
		switch c.Data.(type) {
		case *schemas.UpdateProductDetails, *schemas.ChangeProductPrice, *schemas.ChangeProductStock:
			c.ExpectedVersion = nil
			if again, rej := product.Decide(s, c, product.Rules{}); again != nil || rej != nil {
				t.Fatalf("seed %d step %d: %s again yields %s, %v", seed, i, c.Type(), show(again), rej)
			}
		}
	}
	var refold product.State
	for i, e := range log {
		if e.Version != int64(i)+1 {
			t.Fatalf("seed %d: event %d has version %d", seed, i, e.Version)
		}
		refold = product.Evolve(refold, e)
	}
	if !reflect.DeepEqual(refold, s) {
		t.Fatalf("seed %d: folding the log from zero gives\n%+v\nnot\n%+v", seed, refold, s)
	}
}

func cloneState(s product.State) product.State {
	s.Tags = slices.Clone(s.Tags)
	s.ImageURLs = slices.Clone(s.ImageURLs)
	return s
}

// randomCommand draws from small pools, so that no-ops and conflicts come
// up often; one command in eight is made invalid.
func randomCommand(r *rand.Rand, s product.State) schemas.Command {
	pick := func(l ...string) string { return l[r.IntN(len(l))] }
	list := func(l ...[]string) []string { return slices.Clone(l[r.IntN(len(l))]) }
	maybe := func(l ...string) *string {
		if r.IntN(2) == 0 {
			return nil
		}
		return new(pick(l...))
	}
	price := func() schemas.Money { return eur(int64(100 * (1 + r.IntN(2)))) }
	tags := func() []string { return list(nil, []string{}, []string{"a"}, []string{"a", "b"}, []string{"b", "a"}) }
	urls := func() []string { return list(nil, []string{}, []string{"https://x.example/1.jpg"}) }

	bad := r.IntN(8) == 0
	var data schemas.CommandData
	switch r.IntN(7) {
	case 0:
		d := &schemas.CreateProduct{
			Name: pick("A", "B"), Price: price(),
			CategoryID: "c", CategoryName: "C", BrandID: "b", BrandName: "B",
			Tags: tags(), ImageURLs: urls(), Stock: int64(r.IntN(3)),
		}
		if bad {
			d.Tags = []string{"a", "a"}
		}
		data = d
	case 1:
		d := &schemas.UpdateProductDetails{
			Name: maybe("A", "B"), Description: maybe("", "d"), Tags: tags(), ImageURLs: urls(),
		}
		if r.IntN(2) == 0 {
			d.CategoryID, d.CategoryName = new(pick("c", "d")), new(pick("C", "D"))
		}
		if r.IntN(2) == 0 {
			d.BrandID, d.BrandName = new(pick("b", "e")), new(pick("B", "E"))
		}
		if bad {
			d.CategoryID, d.CategoryName = nil, new("C")
		}
		data = d
	case 2:
		d := &schemas.ChangeProductPrice{Price: price()}
		if bad {
			d.Price.Currency = "USD"
		}
		data = d
	case 3, 4:
		d := &schemas.ChangeProductStock{Quantity: int64(r.IntN(3))}
		if bad {
			d.Quantity = -1
		}
		data = d
	case 5:
		d := &schemas.AddProductReview{Rating: int32(1 + r.IntN(5)), UserID: "u"}
		if bad {
			d.Rating = 0
		}
		data = d
	case 6:
		if r.IntN(6) == 0 { // rarely, so that lives go on for a while
			data = &schemas.DiscontinueProduct{}
		} else {
			data = &schemas.ChangeProductStock{Quantity: int64(r.IntN(3))}
		}
	}
	c := cmd(data)
	if bad && r.IntN(4) == 0 {
		c.ProductID = "p-1"
	}
	switch r.IntN(6) {
	case 0:
		c = withVersion(c, s.Version)
	case 1:
		c = withVersion(c, s.Version+int64(r.IntN(3))-1)
	}
	return c
}
