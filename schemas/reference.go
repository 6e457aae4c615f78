package schemas

import (
	"strings"
)

// Aggregate types of reference data: categories and brands are aggregates
// of their own, named by their events, and joined into the product read
// models by ID (API.md, "Reference data").
const (
	AggregateCategory = "Category"
	AggregateBrand    = "Brand"
)

// Reference event type names.
const (
	TypeCategoryRenamed = "CategoryRenamed"
	TypeBrandRenamed    = "BrandRenamed"
)

// CategoryRenamed names a category: version 1 creates it, later versions
// rename it. The category ID is the event's aggregate ID.
type CategoryRenamed struct {
	Name string `json:"name"`
}

// BrandRenamed names a brand, as CategoryRenamed names a category.
type BrandRenamed struct {
	Name string `json:"name"`
}

func (*CategoryRenamed) EventType() string { return TypeCategoryRenamed }
func (*BrandRenamed) EventType() string    { return TypeBrandRenamed }

func (*CategoryRenamed) referenceEvent() string { return AggregateCategory }
func (*BrandRenamed) referenceEvent() string    { return AggregateBrand }

// AddressableReferenceID reports whether a command may name a category or
// brand id: ValidReferenceID, but not "." or "..". As a URL path segment
// those mean the collection itself or its parent (RFC 3986's dot-segments):
// clients and servers resolve them away, so /v1/brands/.. can never reach
// the brand "..". The log's events and keys keep ValidReferenceID: an ID
// accepted before stays readable.
func AddressableReferenceID(id string) bool {
	return id != "." && id != ".." && ValidReferenceID(id)
}

// ValidReferenceID reports whether id may name a category or brand: 1..64
// characters of [A-Za-z0-9._-], as API.md allows. (A loop, not a regular
// expression: the search projection asks it for every document it writes.)
func ValidReferenceID(id string) bool {
	if len(id) < 1 || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// ReferenceKey is the Kafka key of a reference aggregate's events and
// commands: "category:<id>" or "brand:<id>", so that a category and a brand
// of the same ID are different keys, and neither can be taken for a
// product's UUID key. It returns "" for another aggregate type.
func ReferenceKey(aggregateType, id string) string {
	switch aggregateType {
	case AggregateCategory:
		return "category:" + id
	case AggregateBrand:
		return "brand:" + id
	}
	return ""
}

// IsReference reports whether aggregateType is a category or a brand.
func IsReference(aggregateType string) bool {
	return aggregateType == AggregateCategory || aggregateType == AggregateBrand
}

// Reference command type names.
const (
	TypeRenameCategory = "RenameCategory"
	TypeRenameBrand    = "RenameBrand"
)

// RenameCategory creates a category (its first name) or renames it. The
// command's ProductID field holds the category's aggregate key,
// ReferenceKey(AggregateCategory, id): commands are keyed by their
// aggregate, and for reference data that key is not a product's UUID.
type RenameCategory struct {
	Name string `json:"name"`
}

// RenameBrand creates or renames a brand, as RenameCategory a category.
type RenameBrand struct {
	Name string `json:"name"`
}

func (*RenameCategory) CommandType() string { return TypeRenameCategory }
func (*RenameBrand) CommandType() string    { return TypeRenameBrand }

func (*RenameCategory) referenceCommand() string { return AggregateCategory }
func (*RenameBrand) referenceCommand() string    { return AggregateBrand }

// ReferenceAggregate is the aggregate type a reference command acts on
// (AggregateCategory or AggregateBrand), and "" for any other command.
func ReferenceAggregate(d CommandData) string {
	if r, ok := d.(interface{ referenceCommand() string }); ok {
		return r.referenceCommand()
	}
	return ""
}

// ParseReferenceKey splits a reference key made by ReferenceKey into its
// aggregate type and ID; ok is false for anything else (a product's UUID
// among them).
func ParseReferenceKey(key string) (aggregateType, id string, ok bool) {
	switch {
	case strings.HasPrefix(key, "category:"):
		aggregateType, id = AggregateCategory, key[len("category:"):]
	case strings.HasPrefix(key, "brand:"):
		aggregateType, id = AggregateBrand, key[len("brand:"):]
	default:
		return "", "", false
	}
	if !ValidReferenceID(id) {
		return "", "", false
	}
	return aggregateType, id, true
}
