package productview

import (
	"context"
	"fmt"
	"sync"
)

// Reader reads product views from the store: what GET /v1/products/{id}
// calls.
//
// A view is joined with the reference records of its category and brand
// (join.go), which takes a second round trip once the view is read and
// its category and brand are known. The Reader remembers which records
// each product it read was joined with (up to maxJoinHints products), and
// the next read of the product asks for the view and those records in one
// round trip (the store's, one more when it reads the live generation's
// pointer again: redisview's LiveCache): it checks the view still names
// them, and joins again, as before, when its category or brand has
// changed. What it remembers is which records to read, never what they
// say.
type Reader struct {
	store Store
	hints joinHints
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
	return r.get(ctx, 0, id)
}

// GetAt reads product id's view from generation gen, joined as Get.
func (r *Reader) GetAt(ctx context.Context, gen int, id string) (v View, found bool, err error) {
	if IsReference(id) {
		return View{}, false, nil // a reference record is no product
	}
	if gen < 1 {
		// Not the live one: the store says what is wrong with gen.
		return decode(r.store.GetAt(ctx, gen, id))
	}
	return r.get(ctx, gen, id)
}

// get reads id's view from generation gen, 0 for the live one.
func (r *Reader) get(ctx context.Context, gen int, id string) (View, bool, error) {
	if IsReference(id) {
		return View{}, false, nil // a reference record is no product
	}
	if refs, ok := r.hints.get(id); ok {
		return r.getWith(ctx, gen, id, refs)
	}
	var d Doc
	var found bool
	var err error
	if gen == 0 {
		d, found, err = r.store.Get(ctx, id)
	} else {
		d, found, err = r.store.GetAt(ctx, gen, id)
	}
	v, found, err := decode(d, found, err)
	if err != nil || !found {
		return v, found, err
	}
	if err := r.joinRemembered(ctx, d.Generation, &v); err != nil {
		return View{}, false, err
	}
	return v, true, nil
}

// joinRemembered joins v as join does, and remembers which records it
// joined for v's next read (only views read from the store: a past
// version's, of Join, may name others than the product does now).
func (r *Reader) joinRemembered(ctx context.Context, gen int, v *View) error {
	keys := keysOf(v)
	if keys.empty() {
		r.hints.forget(v.ID)
		return nil
	}
	if err := r.join(ctx, gen, v, keys); err != nil {
		return err
	}
	r.hints.put(v.ID, keys)
	return nil
}

// getWith reads id's view and the reference records refs, which the last
// read of id joined, in one round trip, and joins them when the view still
// names them; otherwise it joins the ones it names now.
func (r *Reader) getWith(ctx context.Context, gen int, id string, refs joinKeys) (View, bool, error) {
	docs, err := r.store.GetMany(ctx, gen, refs.ids(id))
	if err != nil {
		return View{}, false, fmt.Errorf("productview: %w", err)
	}
	d, found := docs[id]
	if !found {
		r.hints.forget(id)
		if gen == 0 {
			// Read again without the hint: the store's Get tells "not
			// found" from a live pointer that moved or went meanwhile.
			return r.get(ctx, 0, id)
		}
		return View{}, false, nil
	}
	v, err := Decode(d)
	if err != nil {
		return View{}, false, err
	}
	if keysOf(&v) != refs {
		if err := r.joinRemembered(ctx, d.Generation, &v); err != nil {
			return View{}, false, err
		}
		return v, true, nil
	}
	joinNames(&v, refs, docs)
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

// joinKeys are the reference records a view is joined with: its category's
// and its brand's keys, "" for one that can have none.
type joinKeys struct{ category, brand string }

func (k joinKeys) empty() bool { return k == joinKeys{} }

// ids are the keys, after first (a view's ID) when given: the documents
// of one read.
func (k joinKeys) ids(first ...string) []string {
	out := append(make([]string, 0, len(first)+2), first...)
	for _, key := range [...]string{k.category, k.brand} {
		if key != "" {
			out = append(out, key)
		}
	}
	return out
}

// maxJoinHints bounds the products a Reader remembers the reference
// records of (about 100 bytes each); past it, it starts again.
const maxJoinHints = 1 << 16

// joinHints are the reference records each product read was last joined
// with, by product ID.
type joinHints struct {
	mu sync.Mutex
	m  map[string]joinKeys
}

func (h *joinHints) get(id string) (joinKeys, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k, ok := h.m[id]
	return k, ok
}

func (h *joinHints) put(id string, k joinKeys) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, known := h.m[id]; h.m == nil || (!known && len(h.m) >= maxJoinHints) {
		h.m = make(map[string]joinKeys)
	}
	h.m[id] = k
}

func (h *joinHints) forget(id string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.m, id)
}
