package redisnotify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/notifier"
)

// DefaultPrefix starts every key of the notifier's store.
const DefaultPrefix = "sv:notifier:"

// Store implements notifier.Store on Redis. Safe for concurrent use.
type Store struct {
	c redis.UniversalClient
	p string // prefix with the hash tag: "<prefix>{n}:"
	// expect is the mark Enqueue and Claim require (Expect); "" for none.
	expect atomic.Pointer[string]
}

// Expect makes Enqueue and Claim change nothing and return
// notifier.ErrStoreLost unless the store's mark (SetMark) is mark, checked
// in the same script as the change: a Redis that lost its data lost the
// mark too. "" turns the check off.
func (s *Store) Expect(mark string) { s.expect.Store(&mark) }

func (s *Store) expected() string {
	if m := s.expect.Load(); m != nil {
		return *m
	}
	return ""
}

// lost maps a script's LOST answer to notifier.ErrStoreLost.
func lost(err error) error {
	if err != nil && strings.HasPrefix(err.Error(), "LOST") {
		return fmt.Errorf("redisnotify: %w (its mark is gone or another)", notifier.ErrStoreLost)
	}
	return err
}

var _ notifier.Store = (*Store)(nil)

// New returns a store on c with keys under prefix (DefaultPrefix when "").
// The client stays the caller's to close.
func New(c redis.UniversalClient, prefix string) *Store {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return &Store{c: c, p: prefix + "{n}:"}
}

func (s *Store) key(parts ...string) string {
	k := s.p
	for i, p := range parts {
		if i > 0 {
			k += ":"
		}
		k += p
	}
	return k
}

// Subscriptions implements notifier.Store.
func (s *Store) Subscriptions(ctx context.Context, productIDs []string) (map[string][]notifier.Subscription, error) {
	pipe := s.c.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(productIDs))
	for i, id := range productIDs {
		cmds[i] = pipe.HGetAll(ctx, s.key("subs", id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisnotify: read subscriptions: %w", err)
	}
	out := make(map[string][]notifier.Subscription, len(productIDs))
	for i, id := range productIDs {
		for sid, raw := range cmds[i].Val() {
			var sub notifier.Subscription
			if err := json.Unmarshal([]byte(raw), &sub); err != nil {
				return nil, fmt.Errorf("redisnotify: subscription %s of product %s: %w", sid, id, err)
			}
			out[id] = append(out[id], sub)
		}
	}
	return out, nil
}

// Save implements notifier.Store.
func (s *Store) Save(ctx context.Context, subs []notifier.Subscription) error {
	if len(subs) == 0 {
		return nil
	}
	pipe := s.c.Pipeline()
	for _, sub := range subs {
		b, _ := json.Marshal(sub)
		pipe.HSet(ctx, s.key("subs", sub.ProductID), sub.ID, b)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redisnotify: save %d subscriptions: %w", len(subs), err)
	}
	return nil
}

// enqueue queues one notification unless its Webhook-Id is known, or the
// mark is not the expected one (ARGV[6], "" for any).
// KEYS: out, msg, done, dead, due, mark. ARGV: wid, offset, json, sub, now, expected mark.
var enqueue = redis.NewScript(`
if ARGV[6] ~= '' and redis.call('GET', KEYS[6]) ~= ARGV[6] then
  return redis.error_reply('LOST the mark is not the one expected')
end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 or redis.call('HEXISTS', KEYS[4], ARGV[1]) == 1 then
  return 0
end
local added = redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[5], 'NX', ARGV[5], ARGV[4])
return added
`)

// Enqueue implements notifier.Store.
func (s *Store) Enqueue(ctx context.Context, ns []notifier.Notification, now time.Time) (int, error) {
	if len(ns) == 0 {
		return 0, nil
	}
	pipe := s.c.Pipeline()
	cmds := make([]*redis.Cmd, len(ns))
	expect := s.expected()
	for i, n := range ns {
		b, _ := json.Marshal(n)
		// Eval, not EvalSha: a pipeline cannot fall back on NOSCRIPT, and a
		// script cache flushed mid-pipeline must not fail the batch.
		cmds[i] = enqueue.Eval(ctx, pipe, []string{s.key("out", n.SubscriptionID), s.key("msg"), s.key("done"), s.key("dead"), s.key("due"), s.key("mark")},
			n.WebhookID, n.Offset, b, n.SubscriptionID, now.UnixMilli(), expect)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("redisnotify: enqueue %d notifications: %w", len(ns), lost(err))
	}
	queued := 0
	for _, c := range cmds {
		if v, _ := c.Int(); v == 1 {
			queued++
		}
	}
	return queued, nil
}

// claim takes up to ARGV[3] subscriptions due by ARGV[1], moving each to
// ARGV[2] (the lease's end), unless the mark is not the expected one
// (ARGV[4], "" for any). KEYS: due, mark.
var claim = redis.NewScript(`
if ARGV[4] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[4] then
  return redis.error_reply('LOST the mark is not the one expected')
end
local subs = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, s in ipairs(subs) do
  redis.call('ZADD', KEYS[1], ARGV[2], s)
end
return subs
`)

// Claim implements notifier.Store.
func (s *Store) Claim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	subs, err := claim.Run(ctx, s.c, []string{s.key("due"), s.key("mark")}, now.UnixMilli(), now.Add(lease).UnixMilli(), n, s.expected()).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("redisnotify: claim: %w", lost(err))
	}
	return subs, nil
}

// Head implements notifier.Store.
func (s *Store) Head(ctx context.Context, sub string) (notifier.Notification, notifier.Attempts, bool, error) {
	var (
		n notifier.Notification
		a notifier.Attempts
	)
	for {
		ids, err := s.c.ZRange(ctx, s.key("out", sub), 0, 0).Result()
		if err != nil {
			return n, a, false, fmt.Errorf("redisnotify: head of %s: %w", sub, err)
		}
		if len(ids) == 0 {
			return n, a, false, nil
		}
		pipe := s.c.Pipeline()
		msg := pipe.HGet(ctx, s.key("msg"), ids[0])
		try := pipe.HGet(ctx, s.key("try"), sub)
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return n, a, false, fmt.Errorf("redisnotify: head of %s: %w", sub, err)
		}
		raw, err := msg.Result()
		if errors.Is(err, redis.Nil) {
			// Dequeued meanwhile, or a torn write: drop the ID, look again.
			if err := s.c.ZRem(ctx, s.key("out", sub), ids[0]).Err(); err != nil {
				return n, a, false, fmt.Errorf("redisnotify: head of %s: %w", sub, err)
			}
			continue
		}
		if err := json.Unmarshal([]byte(raw), &n); err != nil {
			return n, a, false, fmt.Errorf("redisnotify: notification %s: %w", ids[0], err)
		}
		if t, err := try.Result(); err == nil {
			if err := json.Unmarshal([]byte(t), &a); err != nil || a.WebhookID != n.WebhookID {
				a = notifier.Attempts{} // the attempts of an earlier head
			}
		}
		return n, a, true, nil
	}
}

// finish records a Webhook-Id in a set and dequeues it.
// KEYS: set, out, msg, try, [gone]. ARGV: wid, now, sub.
var finish = redis.NewScript(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[3])
if KEYS[5] then redis.call('HSETNX', KEYS[5], ARGV[3], ARGV[2]) end
return 1
`)

// Delivered implements notifier.Store.
func (s *Store) Delivered(ctx context.Context, n notifier.Notification, now time.Time) error {
	err := finish.Run(ctx, s.c, []string{s.key("done"), s.key("out", n.SubscriptionID), s.key("msg"), s.key("try")},
		n.WebhookID, now.UnixMilli(), n.SubscriptionID).Err()
	if err != nil {
		return fmt.Errorf("redisnotify: record %s delivered: %w", n.WebhookID, err)
	}
	return nil
}

// DeadLettered implements notifier.Store.
func (s *Store) DeadLettered(ctx context.Context, n notifier.Notification, now time.Time, gone bool) error {
	keys := []string{s.key("dead"), s.key("out", n.SubscriptionID), s.key("msg"), s.key("try")}
	if gone {
		keys = append(keys, s.key("gone"))
	}
	if err := finish.Run(ctx, s.c, keys, n.WebhookID, now.UnixMilli(), n.SubscriptionID).Err(); err != nil {
		return fmt.Errorf("redisnotify: record %s dead-lettered: %w", n.WebhookID, err)
	}
	return nil
}

// Finished is a Webhook-Id delivered or dead-lettered, as the notifier's
// journal keeps it: Finish records many at once.
type Finished struct {
	WebhookID, SubscriptionID string
	At                        time.Time
	Dead                      bool // dead-lettered, not delivered
	Gone                      bool // dead-lettered on a 410: the subscription is gone
}

// Finish records each of fs as Delivered or DeadLettered would, the last
// of a Webhook-Id's records winning as it would, in one pipeline: the
// read-back of the notifier's journal, where one script call each (a
// round trip) held it to 22,000–49,000 a second, reads back about
// 300,000 a second. Not atomic: a call that fails may have recorded part
// of fs, and is to be made again.
func (s *Store) Finish(ctx context.Context, fs []Finished) error {
	if len(fs) == 0 {
		return nil
	}
	done := []any{}
	dead := []any{}
	msg := make([]string, 0, len(fs))
	out := map[string][]any{}
	var try []string
	var gone []Finished
	for _, f := range fs {
		at := f.At.UnixMilli()
		if f.Dead {
			dead = append(dead, f.WebhookID, at)
		} else {
			done = append(done, f.WebhookID, at)
		}
		msg = append(msg, f.WebhookID)
		if _, ok := out[f.SubscriptionID]; !ok {
			try = append(try, f.SubscriptionID)
		}
		out[f.SubscriptionID] = append(out[f.SubscriptionID], f.WebhookID)
		if f.Dead && f.Gone {
			gone = append(gone, f)
		}
	}
	pipe := s.c.Pipeline()
	if len(done) > 0 {
		pipe.HSet(ctx, s.key("done"), done...)
	}
	if len(dead) > 0 {
		pipe.HSet(ctx, s.key("dead"), dead...)
	}
	pipe.HDel(ctx, s.key("msg"), msg...)
	pipe.HDel(ctx, s.key("try"), try...)
	for _, sub := range try {
		pipe.ZRem(ctx, s.key("out", sub), out[sub]...)
	}
	for _, f := range gone {
		pipe.HSetNX(ctx, s.key("gone"), f.SubscriptionID, f.At.UnixMilli())
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redisnotify: record %d Webhook-Ids delivered or dead-lettered: %w", len(fs), err)
	}
	return nil
}

// Failed implements notifier.Store.
func (s *Store) Failed(ctx context.Context, n notifier.Notification, a notifier.Attempts, due time.Time) error {
	a.WebhookID = n.WebhookID
	b, _ := json.Marshal(a)
	pipe := s.c.TxPipeline()
	pipe.HSet(ctx, s.key("try"), n.SubscriptionID, b)
	pipe.ZAdd(ctx, s.key("due"), redis.Z{Score: float64(due.UnixMilli()), Member: n.SubscriptionID})
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redisnotify: record a failed attempt of %s: %w", n.WebhookID, err)
	}
	return nil
}

// IsGone implements notifier.Store.
func (s *Store) IsGone(ctx context.Context, sub string) (bool, error) {
	ok, err := s.c.HExists(ctx, s.key("gone"), sub).Result()
	if err != nil {
		return false, fmt.Errorf("redisnotify: gone %s: %w", sub, err)
	}
	return ok, nil
}

// Subscription implements notifier.Store.
func (s *Store) Subscription(ctx context.Context, productID, id string) (notifier.Subscription, bool, error) {
	var sub notifier.Subscription
	raw, err := s.c.HGet(ctx, s.key("subs", productID), id).Result()
	if errors.Is(err, redis.Nil) {
		return sub, false, nil
	}
	if err != nil {
		return sub, false, fmt.Errorf("redisnotify: subscription %s of product %s: %w", id, productID, err)
	}
	if err := json.Unmarshal([]byte(raw), &sub); err != nil {
		return sub, false, fmt.Errorf("redisnotify: subscription %s of product %s: %w", id, productID, err)
	}
	return sub, true, nil
}

// drop dequeues a Webhook-Id without recording it.
// KEYS: out, msg, try. ARGV: wid, sub.
var drop = redis.NewScript(`
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[2])
return 1
`)

// Drop implements notifier.Store.
func (s *Store) Drop(ctx context.Context, n notifier.Notification) error {
	err := drop.Run(ctx, s.c, []string{s.key("out", n.SubscriptionID), s.key("msg"), s.key("try")}, n.WebhookID, n.SubscriptionID).Err()
	if err != nil {
		return fmt.Errorf("redisnotify: drop %s: %w", n.WebhookID, err)
	}
	return nil
}

// release keeps a subscription due at ARGV[2] while its queue holds
// notifications, and drops it otherwise. KEYS: out, due. ARGV: sub, now.
var release = redis.NewScript(`
if redis.call('ZCARD', KEYS[1]) > 0 then
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
`)

// Release implements notifier.Store.
func (s *Store) Release(ctx context.Context, sub string, now time.Time) error {
	if err := release.Run(ctx, s.c, []string{s.key("out", sub), s.key("due")}, sub, now.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("redisnotify: release %s: %w", sub, err)
	}
	return nil
}

// Stats implements notifier.Store.
func (s *Store) Stats(ctx context.Context) (notifier.Stats, error) {
	pipe := s.c.Pipeline()
	q := pipe.HLen(ctx, s.key("msg"))
	d := pipe.ZCard(ctx, s.key("due"))
	done := pipe.HLen(ctx, s.key("done"))
	dead := pipe.HLen(ctx, s.key("dead"))
	if _, err := pipe.Exec(ctx); err != nil {
		return notifier.Stats{}, fmt.Errorf("redisnotify: stats: %w", err)
	}
	return notifier.Stats{Queued: q.Val(), Subscriptions: d.Val(), Delivered: done.Val(), DeadLettered: dead.Val()}, nil
}

// Delivered reports when Webhook-Id wid was delivered, for tests and
// tools; false when it was not.
func (s *Store) DeliveredAt(ctx context.Context, wid string) (time.Time, bool, error) {
	v, err := s.c.HGet(ctx, s.key("done"), wid).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	ms, _ := strconv.ParseInt(v, 10, 64)
	return time.UnixMilli(ms), true, nil
}

// Queued is how many notifications of subscription sub wait, for tests
// and tools.
func (s *Store) Queued(ctx context.Context, sub string) (int64, error) {
	return s.c.ZCard(ctx, s.key("out", sub)).Result()
}

// Mark is what SetMark left, "" when nothing: the notifier's recovery
// keeps there the epoch of Redis (redisview.Epoch) under which it last
// made the store whole. A loss of the store's data takes it too.
func (s *Store) Mark(ctx context.Context) (string, error) {
	v, err := s.c.Get(ctx, s.key("mark")).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("redisnotify: read the mark: %w", err)
	}
	return v, nil
}

// swapMark sets the mark to ARGV[2] if it is ARGV[1]; 1 if it did.
// KEYS: mark.
var swapMark = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`)

// SwapMark sets the mark to to if it is from, and reports whether it
// did: a store that lost its data since from was set has no mark.
func (s *Store) SwapMark(ctx context.Context, from, to string) (bool, error) {
	n, err := swapMark.Run(ctx, s.c, []string{s.key("mark")}, from, to).Int()
	if err != nil {
		return false, fmt.Errorf("redisnotify: swap the mark: %w", err)
	}
	return n == 1, nil
}

// SetMark sets the mark Mark reads.
func (s *Store) SetMark(ctx context.Context, v string) error {
	if err := s.c.Set(ctx, s.key("mark"), v, 0).Err(); err != nil {
		return fmt.Errorf("redisnotify: set the mark: %w", err)
	}
	return nil
}

// Records calls fn with what the store recorded: each Webhook-Id
// delivered (kind "delivered") or dead-lettered ("dead"), and each
// subscription whose receiver answered 410 ("gone", id the subscription
// ID), with when, in Unix milliseconds.
func (s *Store) Records(ctx context.Context, fn func(kind, id string, at int64) error) error {
	for _, h := range []struct{ kind, key string }{{"delivered", "done"}, {"dead", "dead"}, {"gone", "gone"}} {
		iter := s.c.HScan(ctx, s.key(h.key), 0, "", 1000).Iterator()
		for iter.Next(ctx) {
			id := iter.Val()
			if !iter.Next(ctx) {
				break
			}
			at, _ := strconv.ParseInt(iter.Val(), 10, 64)
			if err := fn(h.kind, id, at); err != nil {
				return err
			}
		}
		if err := iter.Err(); err != nil {
			return fmt.Errorf("redisnotify: read the %s record: %w", h.kind, err)
		}
	}
	return nil
}

// trimScan is how many fields one HSCAN of a trim asks for, and at most
// how many Webhook-Ids one HDEL forgets.
const trimScan = 1000

// GonePrefix starts the journal's entry of a subscription whose receiver
// answered 410 ("gone:<subscription ID>", dead-lettered and gone), which
// a read-back puts among the dead-lettered Webhook-Ids: it names a
// subscription, not a notification, and is never trimmed.
const GonePrefix = "gone:"

// Trim implements notifier.Store: TrimFunc without a callback.
func (s *Store) Trim(ctx context.Context, before time.Time) (int, error) {
	return s.TrimFunc(ctx, before, nil)
}

// TrimFunc forgets the Webhook-Ids delivered or dead-lettered before
// before, in batches: each HSCAN of the done and dead hashes finds some,
// each (when not nil, with SubscriptionID, Dead and Gone, whether the
// subscription is gone) and then one pipelined HDEL forgets them. each
// failing stops the trim with nothing of its batch forgotten: a journal
// that each writes first outlives the store. It returns how many it
// forgot. Trims at once, here or on other instances, forget the same
// fields twice, which is harmless; so is a field recorded again meanwhile
// (a read-back), which the next trim finds.
func (s *Store) TrimFunc(ctx context.Context, before time.Time, each func(context.Context, []Finished) error) (int, error) {
	cut := before.UnixMilli()
	n := 0
	for _, h := range []struct {
		key  string
		dead bool
	}{{"done", false}, {"dead", true}} {
		key := s.key(h.key)
		var cursor uint64
		for {
			kv, next, err := s.c.HScan(ctx, key, cursor, "", trimScan).Result()
			if err != nil {
				return n, fmt.Errorf("redisnotify: trim %s: %w", key, err)
			}
			var batch []Finished
			for i := 0; i+1 < len(kv); i += 2 {
				at, err := strconv.ParseInt(kv[i+1], 10, 64)
				if err != nil || at >= cut || strings.HasPrefix(kv[i], GonePrefix) {
					continue
				}
				_, sub, _ := strings.Cut(kv[i], ".") // <eventId>.<subscriptionId>
				batch = append(batch, Finished{WebhookID: kv[i], SubscriptionID: sub, At: time.UnixMilli(at), Dead: h.dead})
			}
			if len(batch) > 0 {
				if err := s.forget(ctx, key, batch, each); err != nil {
					return n, err
				}
				n += len(batch)
			}
			if cursor = next; cursor == 0 {
				break
			}
		}
	}
	return n, nil
}

// forget hands batch, the expired fields of hash key, to each, then
// deletes them.
func (s *Store) forget(ctx context.Context, key string, batch []Finished, each func(context.Context, []Finished) error) error {
	if each != nil {
		if batch[0].Dead {
			subs := make([]string, len(batch))
			for i, f := range batch {
				subs[i] = f.SubscriptionID
			}
			gone, err := s.c.HMGet(ctx, s.key("gone"), subs...).Result()
			if err != nil {
				return fmt.Errorf("redisnotify: trim %s: %w", key, err)
			}
			for i := range batch {
				batch[i].Gone = gone[i] != nil
			}
		}
		if err := each(ctx, batch); err != nil {
			return err
		}
	}
	ids := make([]string, len(batch))
	for i, f := range batch {
		ids[i] = f.WebhookID
	}
	if err := s.c.HDel(ctx, key, ids...).Err(); err != nil {
		return fmt.Errorf("redisnotify: trim %d fields of %s: %w", len(ids), key, err)
	}
	return nil
}
