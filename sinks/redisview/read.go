package redisview

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
)

// Get reads document id from the live generation. found is false when the
// document is not there; err wraps ErrNoLive when no generation is live.
// It costs one round trip, the hash's, when the live pointer was read or
// set within Config.LiveCache, else two: the pointer, then the hash. A
// document not found costs more: the pointer, read again, may have moved
// or gone since (a swap, or a Redis emptied under the reads), and "not
// found" holds only of the live generation as it is; and Redis's epoch,
// compared with the one the live generation was made live under
// (LiveEpochKey): another one is data lost and not read again yet (on a
// Redis Cluster, a master's loss leaves the live pointer on another), and
// Get answers ErrNoLive. On a cluster the record has a copy on every
// master (LiveEpochCopyKeys), read with the epoch's keys in one pipelined
// round; the answer is kept for Config.LiveCache.
func (s *Store) Get(ctx context.Context, id string) (d productview.Doc, found bool, err error) {
	gen, err := s.liveForRead(ctx)
	if err != nil {
		return productview.Doc{}, false, err
	}
	if d, found, err = s.GetAt(ctx, gen, id); err != nil || found {
		return d, found, err
	}
	live, err := s.Live(ctx)
	if err != nil {
		return productview.Doc{}, false, err
	}
	if live != gen {
		return s.GetAt(ctx, live, id)
	}
	if lost, err := s.lostSinceLive(ctx); err != nil || lost {
		if lost {
			err = fmt.Errorf("%w: Redis lost data since generation %d was made live (%s holds another epoch); it is being read again", productview.ErrNoLive, gen, EpochKey)
		}
		return productview.Doc{}, false, err
	}
	return productview.Doc{}, false, nil
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
	return docOf(gen, id, key, fields)
}

// docOf is the document of hash fields read from key.
func docOf(gen int, id, key string, fields map[string]string) (d productview.Doc, found bool, err error) {
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

// GetMany reads documents ids of generation gen in one pipelined round trip
// (each HGETALL on its own key, so a cluster serves them from their own
// slots); gen 0 reads the live generation as Get does (the one it trusts
// for Config.LiveCache, else one round trip more). Documents not there are
// left out of the answer.
func (s *Store) GetMany(ctx context.Context, gen int, ids []string) (map[string]productview.Doc, error) {
	if gen == 0 {
		var err error
		if gen, err = s.liveForRead(ctx); err != nil {
			return nil, err
		}
	}
	if err := checkGen(gen); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(ids))
	cmds := make([]*redis.MapStringStringCmd, 0, len(ids))
	pipe := s.client.Pipeline()
	for _, id := range ids {
		if checkID(id) != nil {
			continue // no such document can exist
		}
		keys = append(keys, s.Key(gen, id))
		cmds = append(cmds, pipe.HGetAll(ctx, keys[len(keys)-1]))
	}
	if len(cmds) == 0 {
		return map[string]productview.Doc{}, nil
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redis hgetall %s and %d more: %w", keys[0], len(keys)-1, err)
	}
	out := make(map[string]productview.Doc, len(cmds))
	i := 0
	for _, id := range ids {
		if checkID(id) != nil {
			continue
		}
		key, cmd := keys[i], cmds[i]
		i++
		d, found, err := docOf(gen, id, key, cmd.Val())
		if err != nil {
			return nil, err
		}
		if found {
			out[id] = d
		}
	}
	return out, nil
}
