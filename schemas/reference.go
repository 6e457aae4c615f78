package schemas

import "regexp"

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

// referenceIDPattern is what API.md allows as a category or brand ID.
var referenceIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// ValidReferenceID reports whether id may name a category or brand: 1..64
// characters of [A-Za-z0-9._-].
func ValidReferenceID(id string) bool { return referenceIDPattern.MatchString(id) }

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
