package productview

import (
	"context"
	"fmt"
)

// Reader reads product views from the store: what GET /v1/products/{id}
// calls.
type Reader struct {
	store Store
}

// NewReader returns a Reader of store.
func NewReader(store Store) *Reader { return &Reader{store: store} }

// Get reads product id's view from the live generation. found is false for
// an unknown product; the error wraps ErrNoLive when no generation is
// live yet.
func (r *Reader) Get(ctx context.Context, id string) (v View, found bool, err error) {
	d, found, err := r.store.Get(ctx, id)
	return decode(d, found, err)
}

// GetAt reads product id's view from generation gen.
func (r *Reader) GetAt(ctx context.Context, gen int, id string) (v View, found bool, err error) {
	d, found, err := r.store.GetAt(ctx, gen, id)
	return decode(d, found, err)
}

func decode(d Doc, found bool, err error) (View, bool, error) {
	if err != nil {
		return View{}, false, fmt.Errorf("productview: %w", err)
	}
	if !found {
		return View{}, false, nil
	}
	v, err := Decode(d)
	if err != nil {
		return View{}, false, err
	}
	return v, true, nil
}
