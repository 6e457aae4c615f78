package eventgen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/streamview/streamview/schemas"
)

// Options shape a stream. Every field but Products has a working zero value.
// The same Options give the same events on every platform and Go version.
type Options struct {
	Products int    // number of products
	Seed     uint64 // random seed

	// Events, when > 0, makes a spread stream of exactly Events events:
	// every product is created first, in order, then each next event
	// updates a random product. Its payloads use a small plain vocabulary
	// (see Stream).
	//
	// When 0, every product lives a life of its own, Updates long, and the
	// lives are interleaved at random: a catalogue whose words, categories,
	// brands and prices exercise a search index (see Catalogue).
	Events int
	// Updates is how many events follow each product's ProductCreated in a
	// catalogue, drawn uniformly from Min to Max. Unused when Events > 0.
	Updates Range

	// Start is the timestamp of the first event (default 2026-01-01 UTC). In
	// a spread stream each next event is 1ms later; in a catalogue products
	// are created 37s apart (some at the same instant, with nanoseconds
	// below the millisecond) and each update comes 1s to 1h after the one
	// before it.
	Start time.Time

	// Discontinue lets products end discontinued: in a spread stream one in
	// 40 of the events after a ProductCreated; in a catalogue one product in
	// DiscontinueOneIn (default 12) has a ProductDiscontinued as last event.
	Discontinue      bool
	DiscontinueOneIn int

	// Continue, when set, makes a spread stream that goes on with these
	// products instead of creating new ones: Products is unused and every
	// event updates one of them, after its Version.
	Continue []Continued

	// Distribution is how a spread stream picks the product of each update
	// (Uniform when zero); ZipfS is the exponent of Zipf (DefaultZipfS when
	// 0; it must be > 1).
	Distribution Distribution
	ZipfS        float64

	// Mix weighs the kinds of update; the zero Mix weighs them equally.
	Mix Mix
	// ManyDetails, in a catalogue, lets one ProductDetailsUpdated change
	// several details at once, image URLs included, and clear lists; lists
	// then also hold words that JSON escapes ("café", "<b>"). Without it a
	// details update changes one detail (or a category or brand pair).
	ManyDetails bool
}

// Continued is a product that a stream goes on with: its ID, its version
// and the price and stock its next updates start from.
type Continued struct {
	ID           string
	Version      int64
	Price, Stock int64
}

// Range is an inclusive range of counts.
type Range struct{ Min, Max int }

// Mix weighs the kinds of update after a ProductCreated: each update is of
// a kind with probability weight / sum of weights.
type Mix struct {
	Price, Stock, Review, Details int
}

// Update kinds, in the order Mix draws them.
const (
	updatePrice = iota
	updateStock
	updateReview
	updateDetails
)

// draw picks an update kind.
func (m Mix) draw(r *rand.Rand) int {
	if m == (Mix{}) {
		m = Mix{1, 1, 1, 1}
	}
	k := r.IntN(m.Price + m.Stock + m.Review + m.Details)
	for kind, w := range []int{m.Price, m.Stock, m.Review, m.Details} {
		if k < w {
			return kind
		}
		k -= w
	}
	return updateDetails
}

// Currency is the currency of every generated price.
const Currency = "EUR"

func eur(v int64) schemas.Money { return schemas.Money{Amount: v, Currency: Currency} }

// UUID returns a deterministic UUID-shaped ID from r.
func UUID(r *rand.Rand) string {
	a, b := r.Uint64(), r.Uint64()
	a = (a &^ (0xf << 12)) | (4 << 12)   // version 4
	b = (b &^ (0x3 << 62)) | (0x2 << 62) // variant 10
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xffff, b>>48, b&0xffffffffffff)
}

// Stream returns the events o describes in an order Kafka could deliver
// them: each product's events in version order, products interleaved at
// random.
func Stream(o Options) []schemas.Event {
	r := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if o.Events > 0 {
		return spread(r, o)
	}
	return catalogue(r, o)
}

// product is one generated product's state while its events are made.
type product struct {
	id           string
	version      int64
	price, stock int64
	done         bool // discontinued
}

// next wraps d in p's next envelope.
func (p *product) next(id string, ts time.Time, meta schemas.Metadata, d schemas.EventData) schemas.Event {
	p.version++
	return schemas.Event{
		ID: id, AggregateType: schemas.AggregateProduct, AggregateID: p.id, Version: p.version, Timestamp: ts,
		Metadata: meta, Data: d,
	}
}

func metadata(r *rand.Rand) schemas.Metadata {
	return schemas.Metadata{CorrelationID: UUID(r), CausationID: UUID(r), UserID: fmt.Sprintf("user-%d", r.IntN(50))}
}

// interleave merges lives, each in order, as one partition's log would:
// any product next.
func interleave(r *rand.Rand, lives [][]schemas.Event) []schemas.Event {
	total := 0
	for _, l := range lives {
		total += len(l)
	}
	out := make([]schemas.Event, 0, total)
	live := make([]int, 0, len(lives))
	for i, l := range lives {
		if len(l) > 0 {
			live = append(live, i)
		}
	}
	for len(live) > 0 {
		j := r.IntN(len(live))
		p := live[j]
		out = append(out, lives[p][0])
		lives[p] = lives[p][1:]
		if len(lives[p]) == 0 {
			live[j] = live[len(live)-1]
			live = live[:len(live)-1]
		}
	}
	return out
}
