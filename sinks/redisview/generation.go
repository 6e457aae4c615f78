package redisview

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Count returns the number of documents in generation gen, exactly: what a
// rebuild compares before it swaps. It scans the generation's keys (on every
// master of a cluster), so it costs O(keys in the database); run it for
// checks, not per request.
func (s *Store) Count(ctx context.Context, gen int) (int, error) {
	if err := checkGen(gen); err != nil {
		return 0, err
	}
	// SCAN may return a key twice (when the keyspace is rehashed meanwhile),
	// so keys are counted once each by name.
	seen := make(map[string]struct{})
	err := s.scan(ctx, globEscape(s.Prefix(gen))+"{*", func(_ redis.Cmdable, keys []string) error {
		for _, k := range keys {
			seen[k] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("redis count %s: %w", s.Prefix(gen), err)
	}
	return len(seen), nil
}

// Clear deletes every key of generation gen with SCAN and UNLINK, in batches
// of Config.ScanCount keys per round trip, and returns how many documents
// (views and reference records) it deleted; the generation's bookkeeping
// (ApplyIn's fences and the epoch) goes with them uncounted.
// It does not touch other generations nor the live pointer. Stop the
// generation's writers first: keys written during a Clear may survive it.
func (s *Store) Clear(ctx context.Context, gen int) (int, error) {
	if err := checkGen(gen); err != nil {
		return 0, err
	}
	// What this Store knew of the generation goes with it.
	s.forgetFences(func(g int) bool { return g == gen })
	var removed int
	prefix := s.Prefix(gen)
	err := s.scan(ctx, globEscape(prefix)+"*", func(c redis.Cmdable, keys []string) error {
		// One key per UNLINK: keys of different documents live in different
		// cluster slots.
		pipe := c.Pipeline()
		cmds := make([]*redis.IntCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.Unlink(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		for i, cmd := range cmds {
			if !bookkeeping(keys[i][len(prefix):]) {
				removed += int(cmd.Val())
			}
		}
		return nil
	})
	if err != nil {
		return removed, fmt.Errorf("redis clear %s: %w", s.Prefix(gen), err)
	}
	return removed, nil
}

// scan calls fn with each page of keys matching pattern, on every node that
// holds keys, together with that node's client.
func (s *Store) scan(ctx context.Context, pattern string, fn func(c redis.Cmdable, keys []string) error) error {
	var mu sync.Mutex // a cluster scans its masters at once; fn runs one call at a time
	one := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, int64(s.scanCount)).Result()
			if err != nil {
				return err
			}
			if len(keys) > 0 {
				mu.Lock()
				err := fn(c, keys)
				mu.Unlock()
				if err != nil {
					return err
				}
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	node := func(ctx context.Context, c *redis.Client) error {
		return one(ctx, c)
	}
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, node)
	case *redis.Ring:
		return c.ForEachShard(ctx, node)
	default:
		return one(ctx, s.client)
	}
}

// globEscape quotes the glob metacharacters of s for SCAN MATCH.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// bookkeeping reports whether the key named rest after a generation's
// prefix is one of ApplyIn's fences or the epoch rather than a document.
func bookkeeping(rest string) bool {
	return rest == "epoch" || strings.HasPrefix(rest, "fence:")
}
