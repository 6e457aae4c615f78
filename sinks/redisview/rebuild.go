package redisview

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/streamview/streamview/processors/productview"
)

// Generations is the store's generations as replays and rebuilds drive
// them: the generations port of processors/rebuild, in plain types. The
// live generation is the one the live pointer names.
type Generations struct {
	store *Store
}

// Generations returns s's generations.
func (s *Store) Generations() *Generations { return &Generations{store: s} }

// Name is the projection's name, the store's Projection.
func (g *Generations) Name() string { return g.store.Projection() }

// Live is the live generation; 0 when none is.
func (g *Generations) Live(ctx context.Context) (int, error) {
	gen, err := g.store.Live(ctx)
	if errors.Is(err, productview.ErrNoLive) {
		return 0, nil
	}
	return gen, err
}

// Create does nothing: a generation is its keys, made by the first write.
func (g *Generations) Create(context.Context, int) error { return nil }

// Count is the number of documents of generation gen, discontinued
// products included.
func (g *Generations) Count(ctx context.Context, gen int) (int64, error) {
	n, err := g.store.Count(ctx, gen)
	return int64(n), err
}

// CountsDiscontinued is true: Count includes discontinued products.
func (g *Generations) CountsDiscontinued() bool { return true }

// Promote sets the live pointer. It checks the pointer first, so that two
// rebuilds cannot both swap; the check and the set are two commands, which
// is enough because only a rebuild moves the pointer and its group admits
// one rebuild at a time.
func (g *Generations) Promote(ctx context.Context, from, to int) error {
	live, err := g.Live(ctx)
	if err != nil {
		return err
	}
	if live != from {
		return fmt.Errorf("redis %s: live generation is %d, not %d: another rebuild swapped it", g.store.LiveKey(), live, from)
	}
	return g.store.SetLive(ctx, to)
}

// Drop removes generation gen's documents and reports whether there were
// any. The caller makes sure gen is not live.
func (g *Generations) Drop(ctx context.Context, gen int) (bool, error) {
	n, err := g.store.Clear(ctx, gen)
	return n > 0, err
}

// Reset empties generation gen, live or not, for a replay, and returns how
// many documents it held.
func (g *Generations) Reset(ctx context.Context, gen int) (int64, error) {
	n, err := g.store.Clear(ctx, gen)
	return int64(n), err
}

// Hash is one Redis hash of string fields: where processors/rebuild keeps
// a projection's rebuild state (its state port, in plain types). The
// encoding of the fields is the caller's.
type Hash struct {
	client redis.UniversalClient
	key    string
}

// RebuildState returns the hash of projection's rebuild state,
// sv:<projection>:rebuild.
func RebuildState(client redis.UniversalClient, projection string) *Hash {
	return &Hash{client: client, key: "sv:" + projection + ":rebuild"}
}

// Key is the hash's Redis key.
func (h *Hash) Key() string { return h.key }

// Load returns every field; an absent hash has none.
func (h *Hash) Load(ctx context.Context) (map[string]string, error) {
	m, err := h.client.HGetAll(ctx, h.key).Result()
	if err != nil {
		return nil, fmt.Errorf("redis hgetall %s: %w", h.key, err)
	}
	return m, nil
}

// Save sets fields, leaving any other field as it is.
func (h *Hash) Save(ctx context.Context, fields map[string]string) error {
	if len(fields) == 0 {
		return nil
	}
	if err := h.client.HSet(ctx, h.key, fields).Err(); err != nil {
		return fmt.Errorf("redis hset %s: %w", h.key, err)
	}
	return nil
}

// Delete removes the hash.
func (h *Hash) Delete(ctx context.Context) error {
	if err := h.client.Del(ctx, h.key).Err(); err != nil {
		return fmt.Errorf("redis del %s: %w", h.key, err)
	}
	return nil
}

// The lease of the right to run the projection's rebuild, held by one
// process at a time (rebuild.Leaser): a string key beside the hash,
// <hash key>:lease, whose value names the holder and which expires unless
// renewed.
var (
	leaseScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return ARGV[1]
end
return cur`)
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
)

func (h *Hash) leaseKey() string { return h.key + ":lease" }

// Lease takes the lease for owner for ttl, or extends it when owner holds
// it, and returns the holder: owner, or the process that holds it.
func (h *Hash) Lease(ctx context.Context, owner string, ttl time.Duration) (string, error) {
	holder, err := leaseScript.Run(ctx, h.client, []string{h.leaseKey()}, owner, max(ttl.Milliseconds(), 1)).Text()
	if err != nil {
		return "", fmt.Errorf("redis lease %s: %w", h.leaseKey(), err)
	}
	return holder, nil
}

// Holder returns the lease's holder, "" when none holds it.
func (h *Hash) Holder(ctx context.Context) (string, error) {
	holder, err := h.client.Get(ctx, h.leaseKey()).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("redis get %s: %w", h.leaseKey(), err)
	}
	return holder, nil
}

// Release gives owner's lease up; a lease another holds stays.
func (h *Hash) Release(ctx context.Context, owner string) error {
	if err := releaseScript.Run(ctx, h.client, []string{h.leaseKey()}, owner).Err(); err != nil {
		return fmt.Errorf("redis release %s: %w", h.leaseKey(), err)
	}
	return nil
}
