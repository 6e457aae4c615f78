package productview

import (
	"context"
	"fmt"

	"github.com/streamview/streamview/schemas"
)

// Reference is a category's or brand's current name, as
// GET /v1/categories/{id} and GET /v1/brands/{id} show it.
type Reference struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version int64  `json:"version"`
}

// Reference reads the category or brand (aggregateType
// schemas.AggregateCategory or AggregateBrand) id from the live generation;
// found is false when none has been named.
func (r *Reader) Reference(ctx context.Context, aggregateType, id string) (ref Reference, found bool, err error) {
	key := schemas.ReferenceKey(aggregateType, id)
	if !IsReference(key) {
		return Reference{}, false, nil
	}
	docs, err := r.store.GetMany(ctx, 0, []string{key})
	if err != nil {
		return Reference{}, false, fmt.Errorf("productview: read %s: %w", key, err)
	}
	d, ok := docs[key]
	if !ok {
		return Reference{}, false, nil
	}
	return Reference{ID: id, Name: d.Fields[fieldRefName], Version: d.Version}, true, nil
}

// Join returns v with the current names of its category and brand from the
// live generation, for a view that did not come from the store (a past
// version, ?asOfVersion=).
func (r *Reader) Join(ctx context.Context, v View) (View, error) {
	if err := r.join(ctx, 0, &v, keysOf(&v)); err != nil {
		return View{}, err
	}
	return v, nil
}

// join sets v's category and brand names from their reference records in
// generation gen (0: the live one), in one round trip: the reference name
// wins over the one a product command carried (API.md, "Reference data").
// A category or brand never named keeps the product's own name. keys are
// keysOf(v).
func (r *Reader) join(ctx context.Context, gen int, v *View, keys joinKeys) error {
	if keys.empty() {
		return nil
	}
	docs, err := r.store.GetMany(ctx, gen, keys.ids())
	if err != nil {
		return fmt.Errorf("productview: join the category and brand of %s: %w", v.ID, err)
	}
	joinNames(v, keys, docs)
	return nil
}

// keysOf are the reference records v is joined with.
func keysOf(v *View) joinKeys {
	var k joinKeys
	if cat := schemas.ReferenceKey(schemas.AggregateCategory, v.CategoryID); IsReference(cat) {
		k.category = cat
	}
	if brand := schemas.ReferenceKey(schemas.AggregateBrand, v.BrandID); IsReference(brand) {
		k.brand = brand
	}
	return k
}

// joinNames sets v's category and brand names from those of keys' records
// among docs.
func joinNames(v *View, keys joinKeys, docs map[string]Doc) {
	if d, ok := docs[keys.category]; ok { // "" is no document's key
		v.CategoryName, v.Joined = d.Fields[fieldRefName], true
	}
	if d, ok := docs[keys.brand]; ok {
		v.BrandName, v.Joined = d.Fields[fieldRefName], true
	}
}

// Aggregates are the aggregate types the view projection takes: products,
// and the categories and brands it joins (the projection runtime asks,
// processors.AggregateProjection).
func (p *Writer) Aggregates() []string {
	return []string{schemas.AggregateProduct, schemas.AggregateCategory, schemas.AggregateBrand}
}
