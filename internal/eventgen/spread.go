package eventgen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/streamview/streamview/schemas"
)

// spread makes o.Events events: every product created first, in order,
// then each next event on a product that is not discontinued, picked by
// o.Distribution.
func spread(r *rand.Rand, o Options) []schemas.Event {
	var ps []*product
	if len(o.Continue) > 0 {
		for _, c := range o.Continue {
			ps = append(ps, &product{id: c.ID, version: c.Version, price: c.Price, stock: c.Stock})
		}
		o.Products = 0 // nothing to create
	} else {
		ps = make([]*product, o.Products)
		for i := range ps {
			ps[i] = &product{id: UUID(r)}
		}
	}
	out := make([]schemas.Event, 0, o.Events)
	ts := o.Start
	pick := newPicker(r, o, len(ps))
	for len(out) < o.Events {
		var p *product
		if i := len(out); i < o.Products {
			p = ps[i]
		} else {
			p = ps[pick()]
			if p.done {
				continue
			}
		}
		ts = ts.Add(time.Millisecond)
		id, meta := UUID(r), metadata(r)
		d := plainData(r, o.Mix, p.version+1, &p.price, &p.stock)
		if o.Discontinue && p.version > 0 && r.IntN(40) == 0 {
			d = &schemas.ProductDiscontinued{Reason: "end of line"}
			p.done = true
		}
		out = append(out, p.next(id, ts, meta, d))
	}
	return out
}

// The plain vocabulary of spread streams.
var (
	plainCategories = []string{"Shoes", "Shirts", "Coffee", "Kettles", "Lamps", "Chairs", "Books", "Phones", "Bikes", "Tents", "Pens", "Bags"}
	plainBrands     = []string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne",
		"Soylent", "Vandelay", "Pied Piper", "Aperture", "Black Mesa", "Oscorp", "Massive", "Duff", "Krusty", "Gringotts"}
	plainAdjectives = []string{"Red", "Blue", "Quiet", "Fast", "Tiny", "Grand", "Soft", "Bright", "Classic", "Smart"}
)

// plainData is the payload of a product's event at version.
func plainData(r *rand.Rand, mix Mix, version int64, price, stock *int64) schemas.EventData {
	if version == 1 {
		c, b := r.IntN(len(plainCategories)), r.IntN(len(plainBrands))
		*price = int64(100 + r.IntN(50000))
		*stock = int64(r.IntN(100))
		return &schemas.ProductCreated{
			Name:        fmt.Sprintf("%s %s %d", plainAdjectives[r.IntN(len(plainAdjectives))], plainCategories[c], r.IntN(1000)),
			Description: fmt.Sprintf("A %s thing from %s.", plainCategories[c], plainBrands[b]),
			Price:       eur(*price), CategoryID: fmt.Sprintf("cat-%02d", c), CategoryName: plainCategories[c],
			BrandID: fmt.Sprintf("brand-%02d", b), BrandName: plainBrands[b],
			Tags: []string{plainAdjectives[r.IntN(len(plainAdjectives))]}, ImageURLs: []string{}, Stock: *stock,
		}
	}
	switch mix.draw(r) {
	case updatePrice:
		old := *price
		*price = int64(100 + r.IntN(50000))
		return &schemas.ProductPriceChanged{OldPrice: eur(old), NewPrice: eur(*price)}
	case updateStock:
		old := *stock
		*stock = int64(r.IntN(100))
		return &schemas.ProductStockChanged{OldQuantity: old, Quantity: *stock}
	case updateReview:
		return review(r)
	default:
		name := fmt.Sprintf("%s edition %d", plainAdjectives[r.IntN(len(plainAdjectives))], r.IntN(100))
		return &schemas.ProductDetailsUpdated{Name: &name, Tags: []string{"new", plainAdjectives[r.IntN(len(plainAdjectives))]}}
	}
}

func review(r *rand.Rand) *schemas.ProductReviewAdded {
	return &schemas.ProductReviewAdded{ReviewID: UUID(r), Rating: int32(1 + r.IntN(5)), UserID: fmt.Sprintf("user-%d", r.IntN(50)), Comment: "ok"}
}
