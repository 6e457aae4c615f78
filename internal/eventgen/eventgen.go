// Package eventgen makes valid, deterministic product event streams for
// tests and benchmarks: per product a ProductCreated followed by random
// updates, with gap-free versions.
package eventgen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/streamview/streamview/schemas"
)

// Options shape a stream.
type Options struct {
	Products int    // number of products
	Events   int    // total events, at least Products
	Seed     uint64 // random seed
	// Start is the timestamp of the first event; each next event is 1ms later.
	Start time.Time
	// Discontinue, when true, lets a product's last event be a discontinue.
	Discontinue bool
}

// UUID returns a deterministic UUID-shaped ID from r.
func UUID(r *rand.Rand) string {
	a, b := r.Uint64(), r.Uint64()
	a = (a &^ (0xf << 12)) | (4 << 12)   // version 4
	b = (b &^ (0x3 << 62)) | (0x2 << 62) // variant 10
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// Stream returns the events in an order Kafka could deliver them: each
// product's events in version order, products interleaved at random.
func Stream(o Options) []schemas.Event {
	r := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	type product struct {
		id           string
		version      int64
		price, stock int64
		done         bool
	}
	ps := make([]*product, o.Products)
	for i := range ps {
		ps[i] = &product{id: UUID(r)}
	}
	out := make([]schemas.Event, 0, o.Events)
	ts := o.Start
	for len(out) < o.Events {
		var p *product
		if i := len(out); i < o.Products {
			p = ps[i] // create every product first, in order
		} else {
			p = ps[r.IntN(len(ps))]
			if p.done {
				continue
			}
		}
		p.version++
		ts = ts.Add(time.Millisecond)
		e := schemas.Event{
			ID: UUID(r), AggregateType: schemas.AggregateProduct, AggregateID: p.id, Version: p.version, Timestamp: ts,
			Metadata: schemas.Metadata{CorrelationID: UUID(r), CausationID: UUID(r), UserID: fmt.Sprintf("user-%d", r.IntN(50))},
		}
		e.Data = data(r, p.version, &p.price, &p.stock)
		if o.Discontinue && p.version > 1 && r.IntN(40) == 0 {
			e.Data = &schemas.ProductDiscontinued{Reason: "end of line"}
			p.done = true
		}
		out = append(out, e)
		if len(out) == o.Events && o.Events < o.Products {
			break
		}
	}
	return out
}

var (
	categories = []string{"Shoes", "Shirts", "Coffee", "Kettles", "Lamps", "Chairs", "Books", "Phones", "Bikes", "Tents", "Pens", "Bags"}
	brands     = []string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne",
		"Soylent", "Vandelay", "Pied Piper", "Aperture", "Black Mesa", "Oscorp", "Massive", "Duff", "Krusty", "Gringotts"}
	adjectives = []string{"Red", "Blue", "Quiet", "Fast", "Tiny", "Grand", "Soft", "Bright", "Classic", "Smart"}
)

func data(r *rand.Rand, version int64, price, stock *int64) schemas.EventData {
	eur := func(v int64) schemas.Money { return schemas.Money{Amount: v, Currency: "EUR"} }
	if version == 1 {
		c, b := r.IntN(len(categories)), r.IntN(len(brands))
		*price = int64(100 + r.IntN(50000))
		*stock = int64(r.IntN(100))
		return &schemas.ProductCreated{
			Name:        fmt.Sprintf("%s %s %d", adjectives[r.IntN(len(adjectives))], categories[c], r.IntN(1000)),
			Description: fmt.Sprintf("A %s thing from %s.", categories[c], brands[b]),
			Price:       eur(*price), CategoryID: fmt.Sprintf("cat-%02d", c), CategoryName: categories[c],
			BrandID: fmt.Sprintf("brand-%02d", b), BrandName: brands[b],
			Tags: []string{adjectives[r.IntN(len(adjectives))]}, ImageURLs: []string{}, Stock: *stock,
		}
	}
	switch r.IntN(4) {
	case 0:
		old := *price
		*price = int64(100 + r.IntN(50000))
		return &schemas.ProductPriceChanged{OldPrice: eur(old), NewPrice: eur(*price)}
	case 1:
		old := *stock
		*stock = int64(r.IntN(100))
		return &schemas.ProductStockChanged{OldQuantity: old, Quantity: *stock}
	case 2:
		return &schemas.ProductReviewAdded{ReviewID: UUID(r), Rating: int32(1 + r.IntN(5)), UserID: fmt.Sprintf("user-%d", r.IntN(50)), Comment: "ok"}
	default:
		name := fmt.Sprintf("%s edition %d", adjectives[r.IntN(len(adjectives))], r.IntN(100))
		return &schemas.ProductDetailsUpdated{Name: &name, Tags: []string{"new", adjectives[r.IntN(len(adjectives))]}}
	}
}
