package product

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/streamview/streamview/schemas"
)

// Limits of the stateless rules, exported so that the API and its OpenAPI
// document can state them. Lengths count Unicode code points.
const (
	MaxNameLength        = 200  // name: 1..200
	MaxDescriptionLength = 5000 // description: 0..5000
	MaxRefLength         = 200  // categoryName, brandName, userId: 1..200; categoryId, brandId without Rules.ReferenceIDs
	MaxRefIDLength       = 64   // categoryId, brandId with Rules.ReferenceIDs: 1..64 of [A-Za-z0-9._-], as reference data IDs
	MaxCommentLength     = 2000 // a review's comment: 0..2000
	MaxReasonLength      = 2000 // a discontinuation's reason: 0..2000
	MaxTags              = 50   // tags per product
	MaxTagLength         = 50   // each tag: 1..50
	MaxImageURLs         = 20   // imageUrls per product
	MaxImageURLLength    = 2048 // each image URL
	MinRating            = 1
	MaxRating            = 5
)

// FieldError is one broken stateless rule. Field is the API's JSON name of
// the value: "name", "price.amount", "tags[3]"; it is "" only for a command
// without a payload, which the API never sends.
type FieldError struct {
	Field   string
	Message string
}

func (f FieldError) String() string {
	if f.Field == "" {
		return f.Message
	}
	return f.Field + ": " + f.Message
}

// Check returns every stateless rule c breaks, at most one per field, in
// the order of the API's JSON fields; nil means c is well-formed. These are
// the rules the API answers with 422 before it publishes anything; Decide
// applies them again.
func Check(c schemas.Command, cfg Rules) []FieldError {
	var v checker
	switch {
	case c.ProductID == "":
		v.add("productId", "is required")
	case !schemas.IsUUID(c.ProductID):
		v.add("productId", "must be a UUID")
	}
	switch d := c.Data.(type) {
	case *schemas.CreateProduct:
		if d == nil {
			v.add("", "command has no payload")
			break
		}
		v.text("name", d.Name, MaxNameLength, required|singleLine)
		v.text("description", d.Description, MaxDescriptionLength, 0)
		v.price(d.Price, cfg.currency())
		v.refID("categoryId", d.CategoryID, required, cfg.ReferenceIDs)
		v.text("categoryName", d.CategoryName, MaxRefLength, required|singleLine)
		v.refID("brandId", d.BrandID, required, cfg.ReferenceIDs)
		v.text("brandName", d.BrandName, MaxRefLength, required|singleLine)
		v.tags(d.Tags)
		v.imageURLs(d.ImageURLs)
		if d.Stock < 0 {
			v.add("stock", "must be 0 or more")
		}
	case *schemas.UpdateProductDetails:
		if d == nil {
			v.add("", "command has no payload")
			break
		}
		if d.Name != nil {
			v.text("name", *d.Name, MaxNameLength, required|singleLine|given)
		}
		if d.Description != nil {
			v.text("description", *d.Description, MaxDescriptionLength, 0)
		}
		v.tags(d.Tags)
		v.imageURLs(d.ImageURLs)
		v.pair("categoryId", d.CategoryID, "categoryName", d.CategoryName, cfg.ReferenceIDs)
		v.pair("brandId", d.BrandID, "brandName", d.BrandName, cfg.ReferenceIDs)
	case *schemas.ChangeProductPrice:
		if d == nil {
			v.add("", "command has no payload")
			break
		}
		v.price(d.Price, cfg.currency())
	case *schemas.ChangeProductStock:
		if d == nil {
			v.add("", "command has no payload")
			break
		}
		if d.Quantity < 0 {
			v.add("quantity", "must be 0 or more")
		}
	case *schemas.AddProductReview:
		if d == nil {
			v.add("", "command has no payload")
			break
		}
		if d.Rating < MinRating || d.Rating > MaxRating {
			v.add("rating", fmt.Sprintf("must be %d to %d", MinRating, MaxRating))
		}
		v.text("userId", d.UserID, MaxRefLength, required|singleLine)
		v.text("comment", d.Comment, MaxCommentLength, 0)
	case *schemas.DiscontinueProduct:
		if d == nil {
			v.add("", "command has no payload")
			break
		}
		v.text("reason", d.Reason, MaxReasonLength, 0)
	case nil:
		v.add("", "command has no payload")
	default:
		v.add("", fmt.Sprintf("unknown command type %q", d.CommandType()))
	}
	return v.errs
}

type checker struct{ errs []FieldError }

func (v *checker) add(field, msg string) {
	v.errs = append(v.errs, FieldError{Field: field, Message: msg})
}

type textRule uint8

const (
	required   textRule = 1 << iota // present and not only white space
	singleLine                      // no control characters at all, not even line breaks
	given                           // sent explicitly (a list item, an update's field): "must not be empty", not "is required"
)

// text checks one string and reports whether it passed.
func (v *checker) text(field, s string, limit int, rule textRule) bool {
	msg := ""
	switch n := utf8.RuneCountInString(s); {
	case !utf8.ValidString(s):
		msg = "must be valid UTF-8"
	case rule&required != 0 && s == "" && rule&given != 0:
		msg = "must not be empty"
	case rule&required != 0 && s == "":
		msg = "is required"
	case rule&required != 0 && strings.TrimSpace(s) == "":
		msg = "must not be blank"
	case n > limit && rule&required != 0:
		msg = fmt.Sprintf("must be 1 to %d characters long, not %d", limit, n)
	case n > limit:
		msg = fmt.Sprintf("must be at most %d characters long, not %d", limit, n)
	case strings.ContainsFunc(s, controlIn(rule)):
		msg = "must not contain control characters"
	}
	if msg != "" {
		v.add(field, msg)
		return false
	}
	return true
}

func controlIn(rule textRule) func(rune) bool {
	if rule&singleLine != 0 {
		return unicode.IsControl
	}
	return func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' }
}

func (v *checker) price(p schemas.Money, currency string) {
	if p == (schemas.Money{}) {
		v.add("price", "is required")
		return
	}
	if p.Amount <= 0 {
		v.add("price.amount", "must be greater than 0")
	}
	switch {
	case p.Currency == "":
		v.add("price.currency", "is required")
	case p.Currency != currency:
		v.add("price.currency", fmt.Sprintf("must be %s, the catalogue's currency", currency))
	}
}

// pair checks an ID+name pair of an update: both or neither.
func (v *checker) pair(idField string, id *string, nameField string, name *string, refIDs bool) {
	if id != nil {
		v.refID(idField, *id, required|given, refIDs)
	} else if name != nil {
		v.add(idField, "is required with "+nameField)
	}
	if name != nil {
		v.text(nameField, *name, MaxRefLength, required|singleLine|given)
	} else if id != nil {
		v.add(nameField, "is required with "+idField)
	}
}

// refID checks a category's or brand's ID; with refIDs (Rules.ReferenceIDs)
// it must be what PUT /v1/categories/{id} and /v1/brands/{id} take, so
// that the reference data can name it and a rename reaches the product.
func (v *checker) refID(field, id string, rule textRule, refIDs bool) {
	if !refIDs {
		v.text(field, id, MaxRefLength, rule|singleLine)
		return
	}
	if v.text(field, id, MaxRefIDLength, rule|singleLine) && !schemas.AddressableReferenceID(id) {
		v.add(field, "must be characters of [A-Za-z0-9._-], and not . or .., as a category's or brand's ID is (PUT /v1/categories/{id}, /v1/brands/{id})")
	}
}

// tags checks a tag list; nil and empty are both fine.
func (v *checker) tags(tags []string) {
	if len(tags) > MaxTags {
		v.add("tags", fmt.Sprintf("must have at most %d tags, not %d", MaxTags, len(tags)))
		return // one message, not one per surplus tag
	}
	seen := make(map[string]int, len(tags))
	for i, t := range tags {
		field := fmt.Sprintf("tags[%d]", i)
		if !v.text(field, t, MaxTagLength, required|singleLine|given) {
			continue
		}
		if j, dup := seen[t]; dup {
			v.add(field, fmt.Sprintf("repeats tags[%d]", j))
			continue
		}
		seen[t] = i
	}
}

// imageURLs checks an image URL list; nil and empty are both fine.
func (v *checker) imageURLs(urls []string) {
	if len(urls) > MaxImageURLs {
		v.add("imageUrls", fmt.Sprintf("must have at most %d URLs, not %d", MaxImageURLs, len(urls)))
		return
	}
	seen := make(map[string]int, len(urls))
	for i, s := range urls {
		field := fmt.Sprintf("imageUrls[%d]", i)
		if !v.text(field, s, MaxImageURLLength, required|singleLine|given) {
			continue
		}
		if msg := checkImageURL(s); msg != "" {
			v.add(field, msg)
			continue
		}
		if j, dup := seen[s]; dup {
			v.add(field, fmt.Sprintf("repeats imageUrls[%d]", j))
			continue
		}
		seen[s] = i
	}
}

func checkImageURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || strings.ContainsFunc(s, unicode.IsSpace) ||
		(u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "" {
		return "must be an absolute http or https URL"
	}
	if u.User != nil {
		// A catalogue shows these URLs to everyone.
		return "must not contain credentials"
	}
	return ""
}
