package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/eventlog"
	"github.com/streamview/streamview/processors/producthistory"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/sinks/redisview"
	"github.com/streamview/streamview/topics"
)

// A Redis that lost its data (emptied, or restarted without persistence)
// under a running serve is read again from the log by the projections kept
// in it, product-view and product-history, without a restart:
//
//   - the projector wrote under one epoch (redisview.Epoch); a Redis that
//     lost its data holds another, which the follower notices (Lost);
//   - the follower stops the processor and refills (Refill): the
//     generation's group goes back to the start of the log and what the
//     processor wrote since the loss is emptied. Of the instances that
//     notice, one refills (a lock in Redis); it records the refill
//     (sv:<projection>:refill: the epoch, the generation and the log's end
//     offsets then), and the others, finding it, only run again;
//   - the view's generation is made live again once its group has read
//     up to those end offsets: until then reads answer 503 (no live
//     generation), never 404 for a product not read again yet.
//
// serve's start does the same for a Redis that lost its data while serve
// was down (lossCheck).

// refillLockTTL bounds how long a refiller that died keeps the others
// waiting.
const refillLockTTL = 30 * time.Second

// refill is what a refill recorded in Redis.
type refill struct {
	epoch string          // Redis's epoch the refill was for
	gen   int             // the generation read again
	ends  map[int32]int64 // the events topic's end offsets when its group went back
	done  bool            // its group has read up to ends
}

func refillKey(name string) string { return "sv:" + name + ":refill" }

func loadRefill(ctx context.Context, client redis.UniversalClient, name string) (refill, bool, error) {
	m, err := client.HGetAll(ctx, refillKey(name)).Result()
	if err != nil {
		return refill{}, false, fmt.Errorf("redis hgetall %s: %w", refillKey(name), err)
	}
	if len(m) == 0 {
		return refill{}, false, nil
	}
	r := refill{epoch: m["epoch"], ends: map[int32]int64{}, done: m["done"] == "1"}
	r.gen, err = strconv.Atoi(m["generation"])
	for pair := range strings.FieldsSeq(m["ends"]) {
		p, o, ok := strings.Cut(pair, "=")
		pi, err1 := strconv.ParseInt(p, 10, 32)
		oi, err2 := strconv.ParseInt(o, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			err = errors.Join(err, fmt.Errorf("ends %q", pair))
			continue
		}
		r.ends[int32(pi)] = oi
	}
	if err != nil || r.gen < 1 {
		return refill{}, false, fmt.Errorf("redis %s: not a refill: %v (%v)", refillKey(name), m, err)
	}
	return r, true, nil
}

// currentRefill is projection name's refill recorded for Redis's epoch
// now (setting one when Redis holds none); ok is false when there is none.
// The epoch is read afresh (the stack's reader then answers it to the
// pollers: none sees an older one after it).
func currentRefill(ctx context.Context, st stack, name string) (rf refill, epoch string, ok bool, err error) {
	if epoch, err = st.epochs().Fresh(ctx); err != nil {
		return refill{}, "", false, err
	}
	rf, ok, err = loadRefill(ctx, st.redis, name)
	return rf, epoch, ok && err == nil && rf.epoch == epoch, err
}

// epochs is the stack's reader of Redis's epoch, or one of its own for a
// stack made without it (tests): correct, only not shared.
func (st stack) epochs() *redisview.EpochReader {
	if st.epoch != nil {
		return st.epoch
	}
	return redisview.NewEpochReader(st.redis, 0).Log(st.logger)
}

func saveRefill(ctx context.Context, client redis.UniversalClient, name string, r refill) error {
	var ends []string
	for p, o := range r.ends {
		ends = append(ends, fmt.Sprintf("%d=%d", p, o))
	}
	done := 0
	if r.done {
		done = 1
	}
	err := client.HSet(ctx, refillKey(name), "epoch", r.epoch, "generation", r.gen, "ends", strings.Join(ends, " "), "done", done).Err()
	if err != nil {
		return fmt.Errorf("redis hset %s: %w", refillKey(name), err)
	}
	return nil
}

// refillUnderWay reports whether projection name is being read again
// after Redis lost its data: a refill is recorded for Redis's epoch now,
// and its group has not read up to the end offsets recorded yet. It reads
// the epoch without setting one.
func refillUnderWay(ctx context.Context, client redis.UniversalClient, name string) (bool, error) {
	epoch, err := client.Get(ctx, redisview.EpochKey).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("redis get %s: %w", redisview.EpochKey, err)
	}
	rf, ok, err := loadRefill(ctx, client, name)
	return ok && rf.epoch == epoch && !rf.done, err
}

// errHistoryRefilling is a history read while the history index is read
// again after Redis lost its data: the API answers 503.
var errHistoryRefilling = errors.New("the history index is being read again from the log after Redis lost its data")

// refillingIndex is the history index of the API's reads: a read while
// the index is refilled fails (errHistoryRefilling) instead of answering
// a history cut short, or a 404 for a product that exists. The refill
// state is read at most once per second.
type refillingIndex struct {
	eventlog.Index
	client redis.UniversalClient

	mu      sync.Mutex
	checked time.Time
	under   bool
}

func (ix *refillingIndex) Range(ctx context.Context, id string, from int64, n int) ([]producthistory.Entry, int64, error) {
	ix.mu.Lock()
	if time.Since(ix.checked) >= time.Second {
		under, err := refillUnderWay(ctx, ix.client, historyProjection)
		if err != nil {
			ix.mu.Unlock()
			return nil, 0, err
		}
		ix.checked, ix.under = time.Now(), under
	}
	under := ix.under
	ix.mu.Unlock()
	if under {
		return nil, 0, errHistoryRefilling
	}
	return ix.Index.Range(ctx, id, from, n)
}

// refillAt sends generation gen of projection name back to the start of
// the log: its group (refused while a member runs: nothing writes during
// what follows), then the view's documents, and records the refill for
// Redis's epoch now. One instance at a time, under a lock in Redis: one
// whose processor started after its own refill must not find its writes
// emptied by another's (an error wrapping rebuild.ErrRefillWaits).
func refillAt(ctx context.Context, st stack, adm *kadm.Client, views *redisview.Store, name string, gen int) error {
	lockKey := "sv:" + name + ":refill-lock"
	var b [8]byte
	rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	ok, err := st.redis.SetNX(ctx, lockKey, token, refillLockTTL).Result()
	if err != nil {
		return fmt.Errorf("redis setnx %s: %w", lockKey, err)
	}
	if !ok {
		return fmt.Errorf("another instance is refilling %s (it holds %s): %w", name, lockKey, rebuild.ErrRefillWaits)
	}
	defer func() {
		// Ours only: past its TTL another refiller may hold it.
		ctx := context.WithoutCancel(ctx)
		if v, err := st.redis.Get(ctx, lockKey).Result(); err == nil && v == token {
			st.redis.Del(ctx, lockKey)
		}
	}()
	_, epoch, done, err := currentRefill(ctx, st, name)
	if err != nil || done {
		return err // done: another instance's, just now
	}
	group := processors.GroupName(name, gen)
	if _, err := processors.ResetToStart(ctx, adm, group, topics.Events, false); err != nil {
		return fmt.Errorf("projection %s: resetting group %s: %w", name, group, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics.Events)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("projection %s: end offsets of %s: %w", name, topics.Events, err)
	}
	r := refill{epoch: epoch, gen: gen, ends: map[int32]int64{}}
	ends.Each(func(o kadm.ListedOffset) { r.ends[o.Partition] = o.Offset })
	if views != nil {
		// Writes between the loss and the stop left partial documents,
		// whose versions would make the log's earlier events look old.
		if _, err := views.Generations().Reset(ctx, gen); err != nil {
			return fmt.Errorf("projection %s: emptying g%d: %w", name, gen, err)
		}
		// Not live before it has read the log again (promote): an
		// instance started meanwhile may have made it so.
		if live, err := views.Live(ctx); err == nil && live == gen {
			if err := st.redis.Del(ctx, views.LiveKey()).Err(); err != nil {
				return fmt.Errorf("projection %s: redis del %s: %w", name, views.LiveKey(), err)
			}
		}
	}
	if err := saveRefill(ctx, st.redis, name, r); err != nil {
		return err
	}
	st.logger.Warn("redis lost its data: reading the log again", logkey.Projection, name, "group", group)
	return nil
}

// lossCheck is serve's check, at its start, for a Redis that lost its
// data while serve was down (restarted without persistence): it holds no
// live view generation while a projection group kept in it has read past
// the start of the log, so the projectors would go on from there over an
// empty store. The view's group (of the newest generation that read
// anything: a rebuild may have moved it past 1) and the history index's
// go back to the start of the log, as `streamview replay` would do, and
// what they hold is emptied (refillAt); the view is made live once it has
// read the log again (redisRefill.promote), and the groups of its older
// generations, which nothing runs again, are deleted
// (dropOlderGenerations). When another instance's
// projector still runs on the group, the followers refill with it at
// their first look. The Redis projectors run it before they start, until
// it has succeeded once: a Redis or Kafka that is down at serve's start
// is waited for, not skipped.
type lossCheck struct {
	views       *redisview.Store
	projections []string // those this serve projects

	mu sync.Mutex
	ok bool // it succeeded
	// pending: the loss is to be refilled by the followers, of viewGen
	// (0: the view had read nothing).
	pending bool
	viewGen int
}

// run runs the check unless it succeeded before; nil c checks nothing.
func (c *lossCheck) run(ctx context.Context, st stack) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ok {
		return nil
	}
	if err := c.check(ctx, st); err != nil {
		return fmt.Errorf("checking whether Redis lost its data: %w", err)
	}
	c.ok = true
	return nil
}

// refillPending reports whether Redis lost its data and the followers
// refill it, and the view's generation then.
func (c *lossCheck) refillPending() (bool, int) {
	if c == nil {
		return false, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pending, c.viewGen
}

func (c *lossCheck) check(ctx context.Context, st stack) error {
	if _, err := c.views.Live(ctx); err == nil {
		return nil
	} else if !errors.Is(err, productview.ErrNoLive) {
		return err
	}
	if _, _, under, err := currentRefill(ctx, st, productview.Name); err != nil || under {
		return err // under: a refill under way, which the projector goes on with
	}
	cl, err := kgo.NewClient(st.kafkaOpts()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	viewGen, err := newestReadGeneration(ctx, adm, productview.Name)
	if err != nil {
		return err
	}
	historyRead, err := processors.ReadPastStart(ctx, adm, processors.GroupName(historyProjection, 1), topics.Events)
	if err != nil {
		return err
	}
	c.viewGen = viewGen
	historyGen := 0
	if historyRead {
		historyGen = 1
	}
	for _, p := range []struct {
		name  string
		gen   int
		views *redisview.Store
	}{{productview.Name, viewGen, c.views}, {historyProjection, historyGen, nil}} {
		if p.gen == 0 || !slices.Contains(c.projections, p.name) {
			continue // read nothing: nothing lost
		}
		err := refillAt(ctx, st, adm, p.views, p.name, p.gen)
		if errors.Is(err, processors.ErrGroupActive) || errors.Is(err, rebuild.ErrRefillWaits) {
			// Another instance's projector runs: the followers refill
			// beside it once it sees the loss too.
			st.logger.Warn("redis lost its data while another instance's projector runs: refilling with it", logkey.Projection, p.name, "err", err)
			c.pending = true
			continue
		}
		if err != nil {
			return err
		}
		// Not in the way of the start: a group left is only clutter.
		dropped, err := dropOlderGenerations(ctx, adm, p.name, p.gen, false)
		if len(dropped) > 0 {
			st.logger.Info("redis lost its data: deleted the groups of older generations, which nothing runs again", logkey.Projection, p.name, "groups", dropped)
		}
		if err != nil {
			st.logger.Warn("redis lost its data: groups of older generations are left", logkey.Projection, p.name, "err", err)
		}
	}
	return nil
}

// viewStart is the generation of product-view that serve's next start
// runs while Redis holds no live generation, and why.
type viewStart struct {
	gen int
	// lost: gen's group had read the log, so Redis lost what gen held;
	// the start reads the log again into gen (lossCheck) and makes it
	// live once it has caught up.
	lost bool
	// refilling: a refill recorded for Redis's epoch now reads gen again
	// (its serve stopped before it was done); the start goes on with it.
	refilling bool
}

// nextViewStart is what serve's next start runs of the view projection
// name while Redis holds no live generation, as lossCheck and
// viewGeneration decide it: the generation a refill recorded for Redis's
// epoch now reads again; else the newest generation that read anything (a
// rebuild may have moved it past 1), read again; else generation 1, a
// first start. It sets nothing, not even Redis's epoch.
func nextViewStart(ctx context.Context, client redis.UniversalClient, adm *kadm.Client, name string) (viewStart, error) {
	epoch, err := client.Get(ctx, redisview.EpochKey).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return viewStart{}, fmt.Errorf("redis get %s: %w", redisview.EpochKey, err)
	}
	if err == nil {
		rf, ok, err := loadRefill(ctx, client, name)
		if err != nil {
			return viewStart{}, err
		}
		if ok && rf.epoch == epoch {
			return viewStart{gen: rf.gen, refilling: true}, nil
		}
	}
	gen, err := newestReadGeneration(ctx, adm, name)
	if err != nil {
		return viewStart{}, err
	}
	if gen == 0 {
		return viewStart{gen: 1}, nil
	}
	return viewStart{gen: gen, lost: true}, nil
}

// dropOlderGenerations deletes the groups of projection name's generations
// older than gen, the one read again after Redis lost its data: nothing
// runs them again, and the rebuild that would have deleted one lost its
// state with Redis (a live g7 whose rebuild to g8 was stopped: g8 is read
// again). A group with members is left, and named in the error. It
// returns the groups it deleted; with dryRun, those it would delete.
func dropOlderGenerations(ctx context.Context, adm *kadm.Client, name string, gen int, dryRun bool) ([]string, error) {
	return dropGenerations(ctx, adm, name, func(g int) bool { return g < gen }, dryRun)
}

// dropGenerations deletes the groups of the generations of projection
// name that drop picks (dryRun: deletes nothing) and returns them; a group
// already gone is not an error.
func dropGenerations(ctx context.Context, adm *kadm.Client, name string, drop func(gen int) bool, dryRun bool) ([]string, error) {
	gens, err := groupGenerations(ctx, adm, name)
	if err != nil {
		return nil, err
	}
	var picked []string
	for _, g := range gens {
		if drop(g) {
			picked = append(picked, processors.GroupName(name, g))
		}
	}
	if dryRun || len(picked) == 0 {
		return picked, nil
	}
	res, err := adm.DeleteGroups(ctx, picked...)
	if err != nil {
		return nil, fmt.Errorf("delete groups %s: %w", strings.Join(picked, ", "), err)
	}
	var deleted []string
	var errs []error
	for _, r := range res.Sorted() {
		switch {
		case r.Err == nil:
			deleted = append(deleted, r.Group)
		case !errors.Is(r.Err, kerr.GroupIDNotFound):
			errs = append(errs, fmt.Errorf("delete group %s: %w", r.Group, r.Err))
		}
	}
	return deleted, errors.Join(errs...)
}

// groupGenerations are the generations of projection name that have a
// group, oldest first.
func groupGenerations(ctx context.Context, adm *kadm.Client, name string) ([]int, error) {
	listed, err := adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	var gens []int
	for _, g := range listed.Groups() {
		if n, ok := generationOf(name, g); ok {
			gens = append(gens, n)
		}
	}
	slices.Sort(gens)
	return gens, nil
}

// generationOf is the generation of projection name whose group is group.
func generationOf(name, group string) (int, bool) {
	n, ok := strings.CutPrefix(group, strings.TrimSuffix(processors.GroupName(name, 1), "1"))
	gen, err := strconv.Atoi(n)
	return gen, ok && err == nil && gen >= 1
}

// newestReadGeneration is the newest generation of projection name whose
// group has read past the start of the log, 0 when none has.
func newestReadGeneration(ctx context.Context, adm *kadm.Client, name string) (int, error) {
	gens, err := groupGenerations(ctx, adm, name)
	if err != nil {
		return 0, err
	}
	for _, gen := range slices.Backward(gens) {
		read, err := processors.ReadPastStart(ctx, adm, processors.GroupName(name, gen), topics.Events)
		if err != nil || read {
			return gen, err
		}
	}
	return 0, nil
}

// viewGeneration is the generation product-view's projector writes: the
// live one; the one being read again after Redis lost its data (not live
// until it has read the log); or generation 1, made live, on a first
// start.
func viewGeneration(ctx context.Context, st stack, views *redisview.Store) (int, error) {
	gen, err := views.Live(ctx)
	if err == nil {
		// Live already: EnsureLive leaves the pointer, and on a Redis
		// Cluster writes the copies of its epoch record that an older
		// release left without them (redisview.Store.EnsureLive).
		return views.EnsureLive(ctx, gen)
	}
	if !errors.Is(err, productview.ErrNoLive) {
		return gen, err
	}
	rf, _, ok, err := currentRefill(ctx, st, productview.Name)
	if err != nil || ok {
		return rf.gen, err
	}
	if pending, gen := st.loss.refillPending(); pending && gen > 0 {
		return gen, nil // its follower refills it at its first look
	}
	return views.EnsureLive(ctx, 1)
}

// redisRefill is a follower's Lost and Refill for a projection kept in
// Redis.
type redisRefill struct {
	st    stack
	name  string
	views *redisview.Store // product-view's store; nil for product-history
	epoch string           // the epoch the projector writes under; "" before the first read
}

func newRedisRefill(ctx context.Context, st stack, name string, views *redisview.Store) *redisRefill {
	st.epoch = st.epochs() // one for both calls below, in a stack made without it
	r := &redisRefill{st: st, name: name, views: views}
	// Failing here, the first Lost reads it: a Redis down now is the
	// projector's to wait for.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r.epoch, _ = st.epoch.Epoch(ctx)
	if pending, _ := st.loss.refillPending(); pending {
		r.epoch = "lost at start" // never an epoch: the first look refills
	}
	return r
}

// lost reports whether Redis holds another epoch than the projector
// writes under. It also makes a refilled view generation live once it
// has read the log. The epoch is the stack's reader's (the other
// followers' and the notifier's read): up to
// redisview.DefaultEpochMaxAge old, so a loss is seen that much later at
// most.
func (r *redisRefill) lost(ctx context.Context) (bool, error) {
	cur, err := r.st.epoch.Epoch(ctx)
	if err != nil {
		return false, err
	}
	if r.epoch == "" {
		r.epoch = cur
	}
	if cur != r.epoch {
		return true, nil
	}
	return false, r.promote(ctx, cur)
}

// promote ends a refill once its group has committed the end offsets
// recorded at it: it makes the view's generation live, and records the
// refill done (the history index's reads wait for that). Any instance's
// follower may: the pointer is set only when none is.
func (r *redisRefill) promote(ctx context.Context, epoch string) error {
	if r.views != nil {
		if _, err := r.views.Live(ctx); !errors.Is(err, productview.ErrNoLive) {
			return err
		}
	}
	rf, ok, err := loadRefill(ctx, r.st.redis, r.name)
	if err != nil || !ok || rf.epoch != epoch || rf.done {
		return err
	}
	cl, err := kgo.NewClient(r.st.kafkaOpts()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	group := processors.GroupName(r.name, rf.gen)
	committed, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return fmt.Errorf("fetch offsets of group %s: %w", group, err)
	}
	for p, end := range rf.ends {
		if o, ok := committed.Lookup(topics.Events, p); !ok || o.At < end {
			return nil
		}
	}
	if r.views != nil {
		if _, err := r.views.EnsureLive(ctx, rf.gen); err != nil {
			return err
		}
	}
	rf.done = true
	if err := saveRefill(ctx, r.st.redis, r.name, rf); err != nil {
		return err
	}
	r.st.logger.Info("redis lost its data: the log is read again", logkey.Projection, r.name, logkey.Generation, rf.gen)
	return nil
}

// refill sends generation gen back to the start of the log (refillAt),
// unless another instance did for Redis's epoch now. It fails while a
// processor of gen runs anywhere (an instance that has not noticed yet)
// or another instance refills: the follower tries again.
func (r *redisRefill) refill(ctx context.Context, gen int) error {
	_, cur, done, err := currentRefill(ctx, r.st, r.name)
	if err != nil {
		return err
	}
	if done {
		r.epoch = cur
		return nil
	}
	cl, err := kgo.NewClient(r.st.kafkaOpts()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := refillAt(ctx, r.st, kadm.NewClient(cl), r.views, r.name, gen); errors.Is(err, processors.ErrGroupActive) {
		return fmt.Errorf("%w: %w", err, rebuild.ErrRefillWaits)
	} else if err != nil {
		return err
	}
	r.epoch = cur
	return nil
}

// storeEpoch is a rebuild's rebuild.Config.StoreEpoch: Redis's epoch for
// the projection kept in Redis (product-view), nil for the others (a
// Redis that loses its data takes only the rebuild's state from them,
// which the rebuild records again).
func storeEpoch(projection string, client redis.UniversalClient) func(context.Context) (string, error) {
	if projection != productview.Name || client == nil {
		return nil
	}
	return func(ctx context.Context) (string, error) { return redisview.Epoch(ctx, client) }
}
