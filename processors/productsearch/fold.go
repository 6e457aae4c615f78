package productsearch

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/streamview/streamview/schemas"
)

// Doc is one product as the search index stores it: the fold of the
// product's events. Its JSON form is the stored document.
//
// A discontinued product keeps its document (with Discontinued set) so that
// the version survives and a redelivered older event cannot bring the
// product back; searches never return it.
type Doc struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// Price is in minor units of Currency.
	Price        int64  `json:"price"`
	Currency     string `json:"currency"`
	CategoryID   string `json:"categoryId"`
	CategoryName string `json:"categoryName"`
	BrandID      string `json:"brandId"`
	BrandName    string `json:"brandName"`
	// CategoryRefVersion and BrandRefVersion are the versions of the
	// category's and brand's reference names (Ref) that CategoryName and
	// BrandName show; 0 while they show the names the product's own events
	// carried (see Join).
	CategoryRefVersion int64    `json:"categoryRefVersion,omitempty"`
	BrandRefVersion    int64    `json:"brandRefVersion,omitempty"`
	Tags               []string `json:"tags"` // never nil, so that a stored and a folded Doc compare equal
	// AverageRating is RatingSum / ReviewCount, 0 before any review,
	// unrounded: the rating sort orders by it. A Hit shows it rounded.
	AverageRating float64 `json:"averageRating"`
	ReviewCount   int64   `json:"reviewCount"`
	RatingSum     int64   `json:"ratingSum"`
	InStock       bool    `json:"inStock"` // Stock > 0
	Stock         int64   `json:"stock"`
	// CreatedAt and UpdatedAt are event timestamps in UTC, truncated to the
	// millisecond: the precision of the API and of an Elasticsearch date, so
	// that sorting in the index and in Go agree.
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
	Version      int64     `json:"version"` // version of the last applied event
	Discontinued bool      `json:"discontinued"`
}

// Fold returns d with e applied. An event whose version is not newer than
// d.Version is a duplicate and returns d unchanged: that is what makes every
// index idempotent. An event type Fold does not know only moves the version.
// d is not modified and the result shares no slices with e.
func Fold(d Doc, e schemas.Event) Doc {
	if e.Version <= d.Version {
		return d
	}
	ts := e.Timestamp.UTC().Truncate(time.Millisecond)
	if d.ID == "" {
		d.ID = e.AggregateID
	}
	if d.CreatedAt.IsZero() {
		// Only a lost ProductCreated gets here; its first event is the best guess.
		d.CreatedAt = ts
	}
	switch p := e.Data.(type) {
	case *schemas.ProductCreated:
		if p == nil {
			break
		}
		p.ApplyTo(d.details())
		d.CategoryRefVersion, d.BrandRefVersion = 0, 0
		d.Price, d.Currency = p.Price.Amount, p.Price.Currency
		d.Stock = p.Stock
		d.CreatedAt = ts
	case *schemas.ProductDetailsUpdated:
		if p == nil {
			break
		}
		p.ApplyTo(d.details())
		// A name or ID the product sets is its own until joined again.
		if p.CategoryID != nil || p.CategoryName != nil {
			d.CategoryRefVersion = 0
		}
		if p.BrandID != nil || p.BrandName != nil {
			d.BrandRefVersion = 0
		}
	case *schemas.ProductPriceChanged:
		if p != nil {
			d.Price, d.Currency = p.NewPrice.Amount, p.NewPrice.Currency
		}
	case *schemas.ProductStockChanged:
		if p != nil {
			d.Stock = p.Quantity
		}
	case *schemas.ProductReviewAdded:
		if p != nil {
			d.ReviewCount++
			d.RatingSum += int64(p.Rating)
		}
	case *schemas.ProductDiscontinued:
		if p != nil {
			d.Discontinued = true
		}
	}
	if d.Tags == nil {
		d.Tags = []string{}
	}
	d.InStock = d.Stock > 0
	d.AverageRating = 0
	if d.ReviewCount > 0 {
		d.AverageRating = float64(d.RatingSum) / float64(d.ReviewCount)
	}
	d.UpdatedAt = ts
	d.Version = e.Version
	return d
}

// FoldAll folds events into d in order and reports how many were applied
// and how many were duplicates (not newer than the version before them).
func FoldAll(d Doc, events []schemas.Event) (out Doc, applied, duplicates int) {
	for _, e := range events {
		if e.Version <= d.Version {
			duplicates++
			continue
		}
		d = Fold(d, e)
		applied++
	}
	return d, applied, duplicates
}

// Hit is the part of d a search answer shows, its rating rounded as a
// product's view rounds it (schemas.AverageRating), so that both answer
// the same number.
func (d Doc) Hit() Hit {
	return Hit{
		ID:            d.ID,
		Name:          d.Name,
		Price:         schemas.Money{Amount: d.Price, Currency: d.Currency},
		CategoryID:    d.CategoryID,
		CategoryName:  d.CategoryName,
		BrandID:       d.BrandID,
		BrandName:     d.BrandName,
		AverageRating: schemas.AverageRating(d.RatingSum, d.ReviewCount),
		ReviewCount:   d.ReviewCount,
		InStock:       d.InStock,
	}
}

// details points at d's product details, for the events that set them;
// a search document keeps no image URLs.
func (d *Doc) details() schemas.ProductDetailFields {
	return schemas.ProductDetailFields{Name: &d.Name, Description: &d.Description, CategoryID: &d.CategoryID, CategoryName: &d.CategoryName,
		BrandID: &d.BrandID, BrandName: &d.BrandName, Tags: &d.Tags}
}

// SameStored reports whether a and b store alike (their JSON forms match),
// so that a document read back from an index compares equal to its fold
// (a nil and an empty list, say, are told apart only by a store that keeps
// the difference).
func SameStored(a, b Doc) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}
