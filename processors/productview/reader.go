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
//
// The view shows the current names of its category and brand: the Reader
// joins their reference records, of the same generation, into it.
func (r *Reader) Get(ctx context.Context, id string) (v View, found bool, err error) {
	if IsReference(id) {
		return View{}, false, nil // a reference record is no product
	}
	d, found, err := r.store.Get(ctx, id)
	return r.joined(ctx, d, found, err)
}

// GetAt reads product id's view from generation gen, joined as Get.
func (r *Reader) GetAt(ctx context.Context, gen int, id string) (v View, found bool, err error) {
	if IsReference(id) {
		return View{}, false, nil
	}
	d, found, err := r.store.GetAt(ctx, gen, id)
	return r.joined(ctx, d, found, err)
}

func (r *Reader) joined(ctx context.Context, d Doc, found bool, err error) (View, bool, error) {
	v, found, err := decode(d, found, err)
	if err != nil || !found {
		return v, found, err
	}
	if err := r.join(ctx, d.Generation, &v); err != nil {
		return View{}, false, err
	}
	return v, true, nil
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
