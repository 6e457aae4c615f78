package productview

import (
	"time"

	"github.com/streamview/streamview/schemas"
)

// Name is the projection's name: its consumer groups are
// streamview.product-view.g<N> and its Redis keys sv:product-view:g<N>:{id}.
const Name = "product-view"

// View is the product view of GET /v1/products/{id}, field for field as in
// API.md.
type View struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Description   string   `json:"description"`
	Price         Price    `json:"price"`
	CategoryID    string   `json:"categoryId"`
	CategoryName  string   `json:"categoryName"`
	BrandID       string   `json:"brandId"`
	BrandName     string   `json:"brandName"`
	AverageRating float64  `json:"averageRating"` // schemas.AverageRating(RatingSum, ReviewCount)
	ReviewCount   int64    `json:"reviewCount"`
	InStock       bool     `json:"inStock"` // Stock > 0
	Stock         int64    `json:"stock"`
	Tags          []string `json:"tags"`      // in the order sent; never nil
	ImageURLs     []string `json:"imageUrls"` // in the order sent; never nil
	Discontinued  bool     `json:"discontinued"`
	CreatedAt     string   `json:"createdAt"` // TimeLayout, from ProductCreated's timestamp
	UpdatedAt     string   `json:"updatedAt"` // TimeLayout, from the newest event's timestamp
	Version       int64    `json:"version"`   // the newest applied event's version: the ETag

	// RatingSum is the sum of all ratings, kept so that the average stays
	// exact. It is not part of the JSON.
	RatingSum int64 `json:"-"`
	// Joined says the category or brand name is a reference record's
	// (Reader joins them): it may change while Version stays, so Version
	// alone does not validate the representation (no 304 on it).
	Joined bool `json:"-"`
}

// Price is money as the API shows it: a decimal string with exactly the
// currency's minor-unit digits ("19.99", "1500" for JPY).
type Price struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// PriceOf formats m for a view.
func PriceOf(m schemas.Money) Price {
	return Price{Amount: schemas.FormatAmount(m.Amount, m.Currency), Currency: m.Currency}
}

// TimeLayout is the views' time format: RFC 3339, UTC, with milliseconds.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime formats t in TimeLayout, truncating below the millisecond.
// It is what t.UTC().Format(TimeLayout) gives, written out by hand: it runs
// once or twice per projected event.
func FormatTime(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(TimeLayout)
	}
	hour, minute, sec := t.Clock()
	var b [len(TimeLayout)]byte
	digits(b[0:4], year)
	b[4] = '-'
	digits(b[5:7], int(month))
	b[7] = '-'
	digits(b[8:10], day)
	b[10] = 'T'
	digits(b[11:13], hour)
	b[13] = ':'
	digits(b[14:16], minute)
	b[16] = ':'
	digits(b[17:19], sec)
	b[19] = '.'
	digits(b[20:23], t.Nanosecond()/1e6)
	b[23] = 'Z'
	return string(b[:])
}

// digits writes v into b in decimal, zero-padded to len(b).
func digits(b []byte, v int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}

// derive sets the fields that follow from others and the never-nil lists.
func (v *View) derive() {
	v.AverageRating = schemas.AverageRating(v.RatingSum, v.ReviewCount)
	v.InStock = v.Stock > 0
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if v.ImageURLs == nil {
		v.ImageURLs = []string{}
	}
}
