package indextest

import (
	"bytes"
	_ "embed"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/streamview/streamview/schemas"
)

// The fixed test catalogue: testdata/catalogue.jsonl is
// Generate(CatalogueSeed, CatalogueProducts, CatalogueMaxUpdates), kept as a
// golden file (refresh with go test ./processors/productsearch/indextest -update).
const (
	CatalogueSeed       = 20250101
	CatalogueProducts   = 600
	CatalogueMaxUpdates = 8
	// Currency of every generated price.
	Currency = "EUR"
)

//go:embed testdata/catalogue.jsonl
var catalogueJSONL []byte

var catalogue = sync.OnceValues(func() ([]schemas.Event, error) {
	return ReadEvents(bytes.NewReader(catalogueJSONL))
})

// Catalogue returns the events of the fixed test catalogue in log order:
// products interleaved, each product's events in version order. Callers must
// not modify the payloads.
func Catalogue() []schemas.Event {
	events, err := catalogue()
	if err != nil {
		panic("indextest: testdata/catalogue.jsonl: " + err.Error())
	}
	return append([]schemas.Event(nil), events...)
}

// Vocabularies of generated text. They are disjoint, so that a word found by
// a search tells which field matched.
var (
	nameAdjectives = []string{"amber", "bold", "crisp", "dapper", "eager", "fabled", "gentle", "hardy", "ivory", "jolly", "keen", "lunar", "mellow", "nimble", "opal", "plush", "quiet", "rustic", "sturdy", "tidy", "urban", "vivid", "woven", "zesty"}
	nameNouns      = []string{"lamp", "kettle", "backpack", "jacket", "blender", "headphones", "notebook", "skillet", "sneaker", "tent", "mug", "scarf", "speaker", "drone", "watch", "pillow", "bicycle", "guitar", "camera", "toaster"}
	nameSeries     = []string{"alpha", "bravo", "nova", "prime", "ultra", "zen"}
	descWords      = []string{"durable", "lightweight", "handcrafted", "waterproof", "ergonomic", "compact", "reliable", "portable", "elegant", "versatile", "premium", "affordable", "everyday", "weekend", "comfortable", "sleek"}
	descFiller     = []string{"a", "choice", "for", "with", "and", "design", "made", "to", "last"}
	tagWords       = []string{"sale", "fresh", "eco", "bestseller", "limited", "handmade", "organic", "vintage", "smart", "wireless"}
	categoryNames  = []string{"Cookware", "Camping", "Audio", "Apparel", "Stationery", "Toys", "Garden", "Fitness", "Beauty", "Books", "Pets", "Lighting"}
	// renamedCategory is what some products call category 1 after a rename
	// reached them, so that facet labels have a majority to find.
	renamedCategory = "Cookware Kitchen"
	brandStart      = []string{"Zan", "Kor", "Vel", "Tri", "Mon", "Qua", "Lux", "Nor", "Bri", "Fen"}
	brandEnd        = []string{"tex", "ora", "ix", "lumen", "daro", "quist"}
	// Prices at and around the facet band edges, in cents.
	edgePrices = []int64{999, 1000, 1001, 2499, 2500, 4999, 5000, 9999, 10000, 24999, 25000, 30000}
)

// BrandCount and CategoryCount are how many brands and categories the
// generator uses; brands exceed productsearch.MaxFacetValues on purpose.
var (
	BrandCount    = len(brandStart) * len(brandEnd)
	CategoryCount = len(categoryNames)
)

// CategoryID and BrandID name the generated categories and brands, from 1.
func CategoryID(i int) string { return fmt.Sprintf("cat-%02d", i) }

// BrandID names generated brand i, from 1.
func BrandID(i int) string { return fmt.Sprintf("brand-%02d", i) }

func brandName(i int) string {
	i--
	return brandStart[i/len(brandEnd)] + brandEnd[i%len(brandEnd)]
}

// Generate returns the events of products generated products from seed, in
// log order: each product's events in version order, products interleaved at
// random. Each product has a ProductCreated and up to maxUpdates later
// events (details, price, stock, reviews), and about one in twelve ends
// discontinued. Some products share a creation millisecond and many share
// prices, so that sorts need their tie-breaker. The same arguments give the
// same events on every platform and Go version.
func Generate(seed uint64, products, maxUpdates int) []schemas.Event {
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	uuid := func() string {
		var b [16]byte
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		b[6] = b[6]&0x0f | 0x40
		b[8] = b[8]&0x3f | 0x80
		return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	}
	pick := func(l []string) string { return l[r.IntN(len(l))] }
	price := func() int64 {
		if r.IntN(3) == 0 {
			return edgePrices[r.IntN(len(edgePrices))]
		}
		return 100 + int64(r.IntN(400))*100 + int64(r.IntN(2))*99 // ties on whole and .99 amounts
	}
	name := func() string {
		return strings.Join([]string{cap1(pick(nameAdjectives)), cap1(pick(nameNouns)), cap1(pick(nameSeries))}, " ")
	}
	desc := func() string {
		w := []string{cap1(pick(descFiller))}
		for range 3 + r.IntN(5) {
			if r.IntN(3) == 0 {
				w = append(w, pick(descFiller))
			} else {
				w = append(w, pick(descWords))
			}
		}
		return strings.Join(w, " ") + "."
	}
	tags := func(min int) []string {
		n := min + r.IntN(4-min)
		out := make([]string, 0, n)
		for range n {
			t := pick(tagWords)
			if !contains(out, t) {
				out = append(out, t)
			}
		}
		return out
	}
	category := func() (string, string) {
		i := 1 + r.IntN(len(categoryNames))
		return CategoryID(i), categoryNames[i-1]
	}
	brand := func() (string, string) {
		// Skewed, so that brand counts differ and the top-50 cut is stable.
		i := 1 + min(r.IntN(BrandCount), r.IntN(BrandCount))
		return BrandID(i), brandName(i)
	}

	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	queues := make([][]schemas.Event, products)
	var created time.Time
	for p := range products {
		id := uuid()
		if p == 0 || r.IntN(8) != 0 {
			// Nanoseconds below the millisecond, which the index drops.
			created = base.Add(time.Duration(p)*37*time.Second + time.Duration(r.IntN(1_000_000_000)))
		} // else: same creation instant as the previous product
		ts := created
		meta := schemas.Metadata{CorrelationID: uuid(), CausationID: uuid(), UserID: fmt.Sprintf("user-%d", r.IntN(50))}
		version := int64(0)
		add := func(d schemas.EventData) {
			version++
			queues[p] = append(queues[p], schemas.Event{
				ID: uuid(), AggregateType: schemas.AggregateProduct, AggregateID: id,
				Version: version, Timestamp: ts, Metadata: meta, Data: d,
			})
			ts = ts.Add(time.Duration(1+r.IntN(3600)) * time.Second)
		}
		catID, catName := category()
		brID, brName := brand()
		stock := int64(0)
		if r.IntN(4) != 0 {
			stock = 1 + int64(r.IntN(100))
		}
		cur := price()
		add(&schemas.ProductCreated{
			Name: name(), Description: desc(), Price: schemas.Money{Amount: cur, Currency: Currency},
			CategoryID: catID, CategoryName: catName, BrandID: brID, BrandName: brName,
			Tags: tags(0), ImageURLs: []string{fmt.Sprintf("https://img.example/%s.jpg", id)}, Stock: stock,
		})
		for range r.IntN(maxUpdates + 1) {
			switch k := r.IntN(20); {
			case k < 5:
				np := price()
				add(&schemas.ProductPriceChanged{OldPrice: schemas.Money{Amount: cur, Currency: Currency}, NewPrice: schemas.Money{Amount: np, Currency: Currency}})
				cur = np
			case k < 9:
				q := int64(r.IntN(3)) * int64(r.IntN(60))
				add(&schemas.ProductStockChanged{OldQuantity: stock, Quantity: q})
				stock = q
			case k < 15:
				add(&schemas.ProductReviewAdded{ReviewID: uuid(), Rating: int32(1 + r.IntN(5)), UserID: fmt.Sprintf("user-%d", r.IntN(50)), Comment: "ok"})
			default:
				d := &schemas.ProductDetailsUpdated{}
				switch r.IntN(6) {
				case 0:
					n := name()
					d.Name = &n
				case 1:
					s := desc()
					d.Description = &s
				case 2:
					d.Tags = tags(1)
				case 3:
					ci, cn := category()
					d.CategoryID, d.CategoryName = &ci, &cn
				case 4:
					bi, bn := brand()
					d.BrandID, d.BrandName = &bi, &bn
				case 5:
					ci, cn := CategoryID(1), renamedCategory
					d.CategoryID, d.CategoryName = &ci, &cn
				}
				add(d)
			}
		}
		if r.IntN(12) == 0 {
			add(&schemas.ProductDiscontinued{Reason: "end of line"})
		}
	}

	// Interleave as one partition's log would: any product next, each
	// product's events in order.
	total := 0
	for _, q := range queues {
		total += len(q)
	}
	out := make([]schemas.Event, 0, total)
	live := make([]int, products)
	for i := range live {
		live[i] = i
	}
	for len(live) > 0 {
		j := r.IntN(len(live))
		p := live[j]
		out = append(out, queues[p][0])
		queues[p] = queues[p][1:]
		if len(queues[p]) == 0 {
			live[j] = live[len(live)-1]
			live = live[:len(live)-1]
		}
	}
	return out
}

func cap1(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
