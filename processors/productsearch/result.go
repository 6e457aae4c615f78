package productsearch

import "github.com/streamview/streamview/schemas"

// Result is one page of a search.
type Result struct {
	Products []Hit `json:"products"` // never nil
	// Total is the exact number of products matching the query.
	Total    int64 `json:"total"`
	Page     int   `json:"page"`
	PageSize int   `json:"pageSize"`
	// NextCursor leads to the next page; empty when no hit follows.
	NextCursor string `json:"nextCursor,omitempty"`
	Facets     Facets `json:"facets"`
}

// Hit is one product of a Result: the fields of the API's answer.
type Hit struct {
	ID            string        `json:"id"`
	Name          string        `json:"name"`
	Price         schemas.Money `json:"price"` // minor units; the API formats it
	CategoryID    string        `json:"categoryId"`
	CategoryName  string        `json:"categoryName"`
	BrandID       string        `json:"brandId"`
	BrandName     string        `json:"brandName"`
	AverageRating float64       `json:"averageRating"` // rounded half up to 2 decimals (schemas.AverageRating)
	ReviewCount   int64         `json:"reviewCount"`
	InStock       bool          `json:"inStock"`
}

// Facets count the products by category, brand and price band.
//
// They are disjunctive, as shops show them: each facet counts the products
// matching the text and every filter except its own, so that the category
// facet still offers the other categories while one is selected (and the
// counts say what adding that category would give). The in-stock filter
// applies to all three.
type Facets struct {
	// Category and Brand hold at most MaxFacetValues buckets: the largest
	// counts first, ties by value; buckets with no product are left out.
	Category []Bucket `json:"category"`
	Brand    []Bucket `json:"brand"`
	// Price holds one bucket per band of PriceEdges, zero counts included.
	Price []PriceBucket `json:"price"`
}

// Bucket is one facet value: a category or brand ID, its name, and how many
// products have it. Label is the name most of those products carry (ties:
// the smallest), since a rename reaches products one event at a time.
type Bucket struct {
	Value string `json:"value"`
	Label string `json:"label"`
	Count int64  `json:"count"`
}

// PriceBucket is one price band in minor units: From inclusive, To
// exclusive, nil for an open end.
type PriceBucket struct {
	From  *int64 `json:"from,omitempty"`
	To    *int64 `json:"to,omitempty"`
	Count int64  `json:"count"`
}

// priceEdgesMajor are the band edges in major units of the currency.
var priceEdgesMajor = []int64{10, 25, 50, 100, 250}

// priceEdgeScale multiplies the edges of currencies whose major unit is
// worth a tenth of a euro or less, by the power of ten nearest to a euro's
// worth, so that their bands split a catalogue as the euro's do: ¥1000 to
// ¥25000 rather than ¥10 to ¥250, where every price would fall in the
// last band.
var priceEdgeScale = map[string]int64{
	"JPY": 100, "INR": 100, "RUB": 100, "HUF": 100, "ISK": 100, "PKR": 100, "KES": 100, "DZD": 100,
	"KRW": 1000, "CLP": 1000, "COP": 1000, "NGN": 1000, "ARS": 1000, "KZT": 1000, "HNL": 10, "UAH": 10,
	"THB": 10, "PHP": 10, "CZK": 10, "MXN": 10, "ZAR": 10, "TRY": 10, "EGP": 10, "TWD": 10, "SEK": 10, "NOK": 10, "DKK": 10, "HKD": 10, "CNY": 10,
	"VND": 10000, "IDR": 10000, "IRR": 10000, "LAK": 10000, "UZS": 10000,
}

// PriceEdges returns the inner edges of the price facet in minor units of
// currency: 10, 25, 50, 100 and 250 major units, so the bands are under 10,
// 10–25, 25–50, 50–100, 100–250 and 250 or more; times 10 to 10,000 for a
// currency of a small major unit (priceEdgeScale: ¥1000, ¥2500, … in JPY).
func PriceEdges(currency string) []int64 {
	unit := int64(1)
	for range schemas.MinorDigits(currency) {
		unit *= 10
	}
	if s, ok := priceEdgeScale[currency]; ok {
		unit *= s
	}
	out := make([]int64, len(priceEdgesMajor))
	for i, e := range priceEdgesMajor {
		out[i] = e * unit
	}
	return out
}

// PriceBands returns the price facet's buckets for currency with zero
// counts, in order; Count is for the index to fill.
func PriceBands(currency string) []PriceBucket {
	edges := PriceEdges(currency)
	out := make([]PriceBucket, 0, len(edges)+1)
	var from *int64
	for _, e := range edges {
		to := e
		out = append(out, PriceBucket{From: from, To: &to})
		from = &to
	}
	return append(out, PriceBucket{From: from})
}

// Contains reports whether price (minor units) falls in b.
func (b PriceBucket) Contains(price int64) bool {
	return (b.From == nil || price >= *b.From) && (b.To == nil || price < *b.To)
}
