package eventgen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/streamview/streamview/schemas"
)

// BurstTags is how many tags each full details update of a Burst carries.
const BurstTags = 40

// Burst returns n events (n >= 1) of the one product id, versions 1 to n:
// a ProductCreated, then, in turn, full ProductDetailsUpdated (every detail,
// BurstTags tags and a few image URLs, some escaped by JSON), price
// changes, stock changes and reviews. It is the backlog of one busy product
// that lands in one batch (a replay, a rebuild, a restart after a burst),
// where a store that writes one value per event and field at once meets
// its limits. Timestamps are 1ms apart from start (2026-01-01 UTC when
// zero).
func Burst(id string, n int, seed uint64, start time.Time) []schemas.Event {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	if start.IsZero() {
		start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	p := &product{id: id}
	out := make([]schemas.Event, 0, n)
	ts := start
	for len(out) < n {
		var d schemas.EventData
		switch v := len(out) + 1; {
		case v == 1:
			p.price, p.stock = 1999, 10
			d = &schemas.ProductCreated{
				Name: "Burst Kettle", Description: "A kettle everyone edits at once.", Price: eur(p.price),
				CategoryID: "cat-01", CategoryName: "Kettles", BrandID: "brand-01", BrandName: "Acme",
				Tags: burstTags(r, v), ImageURLs: []string{}, Stock: p.stock,
			}
		case v%4 == 0:
			d = burstDetails(r, v)
		case v%4 == 1:
			old := p.price
			p.price = int64(100 + r.IntN(50000))
			d = &schemas.ProductPriceChanged{OldPrice: eur(old), NewPrice: eur(p.price)}
		case v%4 == 2:
			old := p.stock
			p.stock = int64(r.IntN(100))
			d = &schemas.ProductStockChanged{OldQuantity: old, Quantity: p.stock}
		default:
			d = review(r)
		}
		out = append(out, p.next(UUID(r), ts, metadata(r), d))
		ts = ts.Add(time.Millisecond)
	}
	return out
}

// burstDetails changes every detail of the product, as a full PATCH does.
func burstDetails(r *rand.Rand, v int) *schemas.ProductDetailsUpdated {
	str := func(s string) *string { return &s }
	c, b := r.IntN(len(plainCategories)), r.IntN(len(plainBrands))
	return &schemas.ProductDetailsUpdated{
		Name:         str(fmt.Sprintf("%s Kettle %d", plainAdjectives[r.IntN(len(plainAdjectives))], v)),
		Description:  str(fmt.Sprintf("Edit %d of a kettle from %s; café <b>bold</b> & more.", v, plainBrands[b])),
		Tags:         burstTags(r, v),
		ImageURLs:    []string{fmt.Sprintf("https://img.example/%d/a.png", v), fmt.Sprintf("https://img.example/%d/b.png?x=1&y=2", v)},
		CategoryID:   str(fmt.Sprintf("cat-%02d", c)),
		CategoryName: str(plainCategories[c]),
		BrandID:      str(fmt.Sprintf("brand-%02d", b)),
		BrandName:    str(plainBrands[b]),
	}
}

func burstTags(r *rand.Rand, v int) []string {
	tags := make([]string, BurstTags)
	for i := range tags {
		tags[i] = fmt.Sprintf("%s-%d-%d", tagWords[r.IntN(len(tagWords))], v, i)
	}
	tags[0] = "café" // one that JSON escapes
	return tags
}
