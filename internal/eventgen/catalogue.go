package eventgen

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/streamview/streamview/schemas"
)

// The catalogue vocabulary. Its word lists are disjoint, so that a word a
// search finds tells which field matched.
var (
	nameAdjectives = []string{"amber", "bold", "crisp", "dapper", "eager", "fabled", "gentle", "hardy", "ivory", "jolly", "keen", "lunar", "mellow", "nimble", "opal", "plush", "quiet", "rustic", "sturdy", "tidy", "urban", "vivid", "woven", "zesty"}
	nameNouns      = []string{"lamp", "kettle", "backpack", "jacket", "blender", "headphones", "notebook", "skillet", "sneaker", "tent", "mug", "scarf", "speaker", "drone", "watch", "pillow", "bicycle", "guitar", "camera", "toaster"}
	nameSeries     = []string{"alpha", "bravo", "nova", "prime", "ultra", "zen"}
	descWords      = []string{"durable", "lightweight", "handcrafted", "waterproof", "ergonomic", "compact", "reliable", "portable", "elegant", "versatile", "premium", "affordable", "everyday", "weekend", "comfortable", "sleek"}
	descFiller     = []string{"a", "choice", "for", "with", "and", "design", "made", "to", "last"}
	tagWords       = []string{"sale", "fresh", "eco", "bestseller", "limited", "handmade", "organic", "vintage", "smart", "wireless"}
	// oddWords are list words that JSON escapes, for ManyDetails.
	oddWords      = []string{"café", "<b>", "a&b"}
	categoryNames = []string{"Cookware", "Camping", "Audio", "Apparel", "Stationery", "Toys", "Garden", "Fitness", "Beauty", "Books", "Pets", "Lighting"}
	// renamedCategory is what some products call category 1 after a rename
	// reached them, so that facet labels have a majority to find.
	renamedCategory = "Cookware Kitchen"
	brandStart      = []string{"Zan", "Kor", "Vel", "Tri", "Mon", "Qua", "Lux", "Nor", "Bri", "Fen"}
	brandEnd        = []string{"tex", "ora", "ix", "lumen", "daro", "quist"}
	// Prices at and around the search facet's band edges, in cents.
	edgePrices = []int64{999, 1000, 1001, 2499, 2500, 4999, 5000, 9999, 10000, 24999, 25000, 30000}
)

// BrandCount and CategoryCount are how many brands and categories a
// catalogue uses; brands exceed the search facets' 50 values on purpose.
var (
	BrandCount    = len(brandStart) * len(brandEnd)
	CategoryCount = len(categoryNames)
)

// CategoryID names catalogue category i, from 1.
func CategoryID(i int) string { return fmt.Sprintf("cat-%02d", i) }

// BrandID names catalogue brand i, from 1.
func BrandID(i int) string { return fmt.Sprintf("brand-%02d", i) }

// BrandName is the name of catalogue brand i, from 1.
func BrandName(i int) string {
	i--
	return brandStart[i/len(brandEnd)] + brandEnd[i%len(brandEnd)]
}

// catalogue makes one life per product (a ProductCreated, o.Updates
// updates, maybe a ProductDiscontinued) and interleaves them. Some products
// share a creation millisecond and many share prices, so that sorts need
// their tie-breaker.
func catalogue(r *rand.Rand, o Options) []schemas.Event {
	c := words{r: r, odd: o.ManyDetails}
	oneIn := o.DiscontinueOneIn
	if oneIn <= 0 {
		oneIn = 12
	}
	lives := make([][]schemas.Event, o.Products)
	var created time.Time
	for i := range lives {
		p := &product{id: UUID(r)}
		if i == 0 || r.IntN(8) != 0 {
			// Nanoseconds below the millisecond, which the stores drop.
			created = o.Start.Add(time.Duration(i)*37*time.Second + time.Duration(r.IntN(1_000_000_000)))
		} // else: the same creation instant as the product before
		ts := created
		meta := metadata(r)
		add := func(d schemas.EventData) {
			lives[i] = append(lives[i], p.next(UUID(r), ts, meta, d))
			ts = ts.Add(time.Duration(1+r.IntN(3600)) * time.Second)
		}
		catID, catName := c.category()
		brID, brName := c.brand()
		if r.IntN(4) != 0 {
			p.stock = 1 + int64(r.IntN(100))
		}
		p.price = c.price()
		add(&schemas.ProductCreated{
			Name: c.name(), Description: c.desc(), Price: eur(p.price),
			CategoryID: catID, CategoryName: catName, BrandID: brID, BrandName: brName,
			Tags: c.tags(0), ImageURLs: []string{fmt.Sprintf("https://img.example/%s.jpg", p.id)}, Stock: p.stock,
		})
		for range o.Updates.Min + r.IntN(max(0, o.Updates.Max-o.Updates.Min)+1) {
			switch o.Mix.draw(r) {
			case updatePrice:
				np := c.price()
				add(&schemas.ProductPriceChanged{OldPrice: eur(p.price), NewPrice: eur(np)})
				p.price = np
			case updateStock:
				q := int64(r.IntN(3)) * int64(r.IntN(60))
				add(&schemas.ProductStockChanged{OldQuantity: p.stock, Quantity: q})
				p.stock = q
			case updateReview:
				add(review(r))
			default:
				if o.ManyDetails {
					add(c.manyDetails(p))
				} else {
					add(c.oneDetail())
				}
			}
		}
		if o.Discontinue && r.IntN(oneIn) == 0 {
			add(&schemas.ProductDiscontinued{Reason: "end of line"})
		}
	}
	return interleave(r, lives)
}

// words draws catalogue values.
type words struct {
	r   *rand.Rand
	odd bool // lists may hold oddWords
}

func (w words) pick(l []string) string { return l[w.r.IntN(len(l))] }

func (w words) price() int64 {
	if w.r.IntN(3) == 0 {
		return edgePrices[w.r.IntN(len(edgePrices))]
	}
	return 100 + int64(w.r.IntN(400))*100 + int64(w.r.IntN(2))*99 // ties on whole and .99 amounts
}

func (w words) name() string {
	return strings.Join([]string{cap1(w.pick(nameAdjectives)), cap1(w.pick(nameNouns)), cap1(w.pick(nameSeries))}, " ")
}

func (w words) desc() string {
	out := []string{cap1(w.pick(descFiller))}
	for range 3 + w.r.IntN(5) {
		if w.r.IntN(3) == 0 {
			out = append(out, w.pick(descFiller))
		} else {
			out = append(out, w.pick(descWords))
		}
	}
	return strings.Join(out, " ") + "."
}

// tags returns min to 3 distinct tags.
func (w words) tags(min int) []string {
	n := min + w.r.IntN(4-min)
	out := make([]string, 0, n)
	for range n {
		t := w.pick(tagWords)
		if w.odd && w.r.IntN(4) == 0 {
			t = w.pick(oddWords)
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (w words) category() (string, string) {
	i := 1 + w.r.IntN(len(categoryNames))
	return CategoryID(i), categoryNames[i-1]
}

func (w words) brand() (string, string) {
	// Skewed, so that brand counts differ and the top-50 cut is stable.
	i := 1 + min(w.r.IntN(BrandCount), w.r.IntN(BrandCount))
	return BrandID(i), BrandName(i)
}

// oneDetail changes one detail, or a category or brand pair; sometimes
// category 1 under its new name.
func (w words) oneDetail() *schemas.ProductDetailsUpdated {
	d := &schemas.ProductDetailsUpdated{}
	switch w.r.IntN(6) {
	case 0:
		d.Name = new(w.name())
	case 1:
		d.Description = new(w.desc())
	case 2:
		d.Tags = w.tags(1)
	case 3:
		ci, cn := w.category()
		d.CategoryID, d.CategoryName = &ci, &cn
	case 4:
		bi, bn := w.brand()
		d.BrandID, d.BrandName = &bi, &bn
	case 5:
		d.CategoryID, d.CategoryName = new(CategoryID(1)), new(renamedCategory)
	}
	return d
}

// manyDetails changes any set of details, lists cleared at times.
func (w words) manyDetails(p *product) *schemas.ProductDetailsUpdated {
	d := &schemas.ProductDetailsUpdated{}
	if w.r.IntN(2) == 0 {
		d.Name = new(w.name())
	}
	if w.r.IntN(3) == 0 {
		d.Description = new(w.desc())
	}
	if w.r.IntN(3) == 0 {
		d.Tags = w.tags(0)
	}
	if w.r.IntN(5) == 0 {
		d.ImageURLs = []string{}
		for i := range w.r.IntN(3) {
			d.ImageURLs = append(d.ImageURLs, fmt.Sprintf("https://img.example/%s-%d.jpg?%s", p.id, i, w.pick(oddWords)))
		}
	}
	if w.r.IntN(5) == 0 {
		ci, cn := w.category()
		d.CategoryID, d.CategoryName = &ci, &cn
	}
	if w.r.IntN(5) == 0 {
		bi, bn := w.brand()
		d.BrandID, d.BrandName = &bi, &bn
	}
	if reflect.ValueOf(*d).IsZero() {
		d.Name = new(w.name()) // an update changes something
	}
	return d
}

func cap1(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

// Vocabulary is what a catalogue's text fields are made of, for tests that
// search a word of one field. The lists are disjoint.
type Vocabulary struct {
	NameNouns        []string // one in every name
	DescriptionWords []string // in descriptions
	Tags             []string
	CategoryNames    []string // category i is CategoryNames[i-1], or renamed
	BrandNames       []string // brand i is BrandNames[i-1]
}

// CatalogueVocabulary returns a copy of the catalogue's vocabulary.
func CatalogueVocabulary() Vocabulary {
	brands := make([]string, BrandCount)
	for i := range brands {
		brands[i] = BrandName(i + 1)
	}
	return Vocabulary{
		NameNouns: slices.Clone(nameNouns), DescriptionWords: slices.Clone(descWords), Tags: slices.Clone(tagWords),
		CategoryNames: slices.Clone(categoryNames), BrandNames: brands,
	}
}
