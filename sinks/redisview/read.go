package redisview

import (
	"context"
	"fmt"
	"strconv"
)

// Doc is one stored document.
type Doc struct {
	ID         string
	Generation int
	Version    int64             // the newest applied change's version
	Fields     map[string]string // every field but VersionField
}

// Get reads document id from the live generation. found is false when the
// document is not there; err wraps ErrNoLive when no generation is live.
// It costs two round trips: the live pointer, then the hash.
func (s *Store) Get(ctx context.Context, id string) (d Doc, found bool, err error) {
	gen, err := s.Live(ctx)
	if err != nil {
		return Doc{}, false, err
	}
	return s.GetAt(ctx, gen, id)
}

// GetAt reads document id from generation gen.
func (s *Store) GetAt(ctx context.Context, gen int, id string) (d Doc, found bool, err error) {
	if err := checkGen(gen); err != nil {
		return Doc{}, false, err
	}
	if err := checkID(id); err != nil {
		return Doc{}, false, nil // no such document can exist
	}
	key := s.Key(gen, id)
	fields, err := s.client.HGetAll(ctx, key).Result()
	if err != nil {
		return Doc{}, false, fmt.Errorf("redis hgetall %s: %w", key, err)
	}
	if len(fields) == 0 {
		return Doc{}, false, nil
	}
	d = Doc{ID: id, Generation: gen, Fields: fields}
	if v, ok := fields[VersionField]; ok {
		d.Version, err = strconv.ParseInt(v, 10, 64)
		if err != nil {
			return Doc{}, false, fmt.Errorf("%w: %s field %s = %q", ErrCorrupt, key, VersionField, v)
		}
		delete(fields, VersionField)
	}
	return d, true, nil
}
