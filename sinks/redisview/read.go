package redisview

import (
	"context"
	"fmt"
	"strconv"

	"github.com/streamview/streamview/processors/productview"
)

// Get reads document id from the live generation. found is false when the
// document is not there; err wraps ErrNoLive when no generation is live.
// It costs two round trips: the live pointer, then the hash.
func (s *Store) Get(ctx context.Context, id string) (d productview.Doc, found bool, err error) {
	gen, err := s.Live(ctx)
	if err != nil {
		return productview.Doc{}, false, err
	}
	return s.GetAt(ctx, gen, id)
}

// GetAt reads document id from generation gen.
func (s *Store) GetAt(ctx context.Context, gen int, id string) (d productview.Doc, found bool, err error) {
	if err := checkGen(gen); err != nil {
		return productview.Doc{}, false, err
	}
	if err := checkID(id); err != nil {
		return productview.Doc{}, false, nil // no such document can exist
	}
	key := s.Key(gen, id)
	fields, err := s.client.HGetAll(ctx, key).Result()
	if err != nil {
		return productview.Doc{}, false, fmt.Errorf("redis hgetall %s: %w", key, err)
	}
	if len(fields) == 0 {
		return productview.Doc{}, false, nil
	}
	d = productview.Doc{ID: id, Generation: gen, Fields: fields}
	if v, ok := fields[productview.VersionField]; ok {
		d.Version, err = strconv.ParseInt(v, 10, 64)
		if err != nil {
			return productview.Doc{}, false, fmt.Errorf("%w: %s field %s = %q", productview.ErrCorrupt, key, productview.VersionField, v)
		}
		delete(fields, productview.VersionField)
	}
	return d, true, nil
}
