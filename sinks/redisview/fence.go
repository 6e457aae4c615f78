package redisview

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/processors/productview"
)

// ApplyIn is Apply for changes that all come from one partition of the
// projection's topic (productview.PartitionStore), from the writer that
// consumes it. A document's changes must always come from the same
// partition, as they do on a topic keyed by aggregate ID whose partition
// count never changes (topics apply refuses to change it): writers of
// two partitions do not see each other's writes. On a single server (a *redis.Client) it writes without
// the script: the Store remembers the version of each document of the
// partition it has read or written (up to Config.VersionCache), decides
// itself which changes are newer, and sends the bare writes (per document
// its HINCRBYs and one HSET of the sets and the version) in one MULTI/EXEC
// per call. What keeps that exact is the partition's fence, a key every
// such transaction sets to a value of its own, under a WATCH of it:
//
//   - the versions remembered are trusted only while the fence holds the
//     value this Store last wrote or read with them; any other writer of
//     the partition (a consumer that took it over, another process
//     replaying it, Clear) changes or deletes it, and the Store reads the
//     versions again;
//   - a write whose fence changed between the read and EXEC is not made
//     (EXEC aborts) and is decided again from fresh reads.
//
// Apply's script calls on a single server bump the generation's epoch key
// in the same transaction, which every fenced write also watches, so that
// writers with and without a partition may share a generation. Writers
// that do neither (a streamview from before ApplyIn, any other client
// writing the documents) are not seen: stop them before an ApplyIn writer
// starts on their generation (a rolling upgrade from such a version goes
// through a rebuild, or stops the old projectors first). The
// results, the idempotency and the errors are Apply's, with one
// difference: a counter field that a writer outside this package fills
// with something HINCRBY cannot add to after the Store read it is found
// only when HINCRBY refuses it in the transaction, and the document's
// other writes of that call are made without the increment (the changes
// are refused as permanent, as Apply refuses them). Config.VersionCache
// < 0, a cluster and a ring go through Apply.
func (s *Store) ApplyIn(ctx context.Context, gen int, partition int32, changes []productview.Change) (productview.Result, error) {
	c, ok := s.client.(*redis.Client)
	if !ok || s.versionCache < 0 {
		return s.Apply(ctx, gen, changes)
	}
	if err := checkGen(gen); err != nil {
		return productview.Result{}, err
	}
	docs, err := gather(changes)
	if err != nil {
		return productview.Result{}, err
	}
	if len(docs) == 0 {
		return productview.Result{}, nil
	}
	// go-redis settles the connection options on the first connection it
	// opens (a handshake Redis 7 refuses switches a setting off); the
	// dedicated connections below share those options without its lock,
	// so the Store's client opens one first (a data race otherwise).
	if !s.settled.Load() && c.Ping(ctx).Err() == nil {
		s.settled.Store(true)
	}
	f := s.fenceOf(gen, partition)
	f.mu.Lock()
	defer f.mu.Unlock()
	for attempt := 1; ; attempt++ {
		res, refused, err := f.apply(ctx, c, docs)
		if err == nil {
			return res, refusedError(changes, refused)
		}
		if !errors.Is(err, redis.TxFailedErr) || attempt == fenceAttempts {
			return res, fmt.Errorf("redis apply %s (%d changes of partition %d): %w", f.key, len(changes), partition, err)
		}
		// Another writer of the partition wrote meanwhile: what it wrote
		// is read again, and this call's changes decided again.
	}
}

// fenceAttempts is how many times ApplyIn decides its writes again when
// other writers of the partition keep writing between its read and its
// EXEC, before it returns the error for the caller to retry later.
const fenceAttempts = 8

// refusedError names the changes of the refused documents as permanent,
// or is nil.
func refusedError(changes []productview.Change, refused []refusal) error {
	if len(refused) == 0 {
		return nil
	}
	why := make(map[string]error, len(refused))
	for _, r := range refused {
		why[r.id] = r.err
	}
	var fs []batch.Failure
	for i, c := range changes {
		if err, ok := why[c.ID]; ok {
			fs = append(fs, batch.Permanent(i, err))
		}
	}
	return batch.Fail(fs...)
}

// fence is what a Store knows of one partition's documents in one
// generation: their versions as of the fence value seen.
type fence struct {
	prefix string // the generation's: "sv:P:gN:"
	key    string // the fence: "sv:P:gN:fence:<partition>"
	epoch  string // the generation's epoch key: "sv:P:gN:epoch"

	mu        sync.Mutex
	seen      string // the fence's value with which known holds; "" trusts nothing
	seenEpoch string
	known     map[string]known // by document ID
	max       int              // the most documents known; more clear it
	token     func() string    // a fence value no other transaction writes
}

// known is a document's version, and the counter fields found to hold what
// HINCRBY adds to (or nothing).
type known struct {
	version  int64
	counters []string
}

// counts reports whether every counter field c's changes add to has been
// checked.
func (k known) counts(d *doc) bool {
	for _, c := range d.changes {
		for _, x := range c.Incr {
			found := false
			for _, n := range k.counters {
				if n == x.Name {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
	}
	return true
}

type fenceID struct {
	gen       int
	partition int32
}

// fenceOf returns the Store's fence of partition in generation gen. The
// first fence of a generation drops those of generations older than the
// one before it (a rebuild's swap is done with them): what they knew is
// only memory, which a writer of theirs still running reads again.
func (s *Store) fenceOf(gen int, partition int32) *fence {
	id := fenceID{gen, partition}
	if f, ok := s.fences.Load(id); ok {
		return f.(*fence)
	}
	s.forgetFences(func(g int) bool { return g < gen-1 })
	prefix := s.Prefix(gen)
	f, _ := s.fences.LoadOrStore(id, &fence{
		prefix: prefix,
		key:    prefix + "fence:" + strconv.Itoa(int(partition)),
		epoch:  epochKey(prefix),
		max:    s.versionCache,
		token:  s.token,
	})
	return f.(*fence)
}

// Forget drops what ApplyIn knows of partition in generation gen
// (productview.PartitionStore): the runtime gave the partition to
// another process, or stopped. A later ApplyIn of it reads again.
func (s *Store) Forget(gen int, partition int32) {
	s.fences.Delete(fenceID{gen, partition})
}

// forgetFences drops the Store's fences of the generations old says. A
// writer holding one goes on with it; the next ApplyIn of its partition
// makes a new one, which reads again.
func (s *Store) forgetFences(old func(gen int) bool) {
	s.fences.Range(func(k, _ any) bool {
		if old(k.(fenceID).gen) {
			s.fences.Delete(k)
		}
		return true
	})
}

// token returns a fence value this Store never returned before: its
// writer ID and a sequence number. Unique per Store, not per fence, so
// that two fences of one partition (one dropped while its writer still
// ran) never take each other's values for their own.
func (s *Store) token() string {
	return s.writer + ":" + strconv.FormatUint(s.seq.Add(1), 10)
}

// epochKey is the key Apply's script calls bump in generation prefix.
func epochKey(prefix string) string { return prefix + "epoch" }

// newWriterID is a random prefix for a Store's fence values: unique among
// the writers of one generation.
func newWriterID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// apply is one attempt: read what is not known, decide, write. It returns
// redis.TxFailedErr (wrapped) when the fence moved before EXEC; nothing of
// this attempt is then written, and nothing counted.
func (f *fence) apply(ctx context.Context, c *redis.Client, docs []doc) (productview.Result, []refusal, error) {
	conn := c.Conn()
	defer conn.Close()
	// ks[i] is docs[i]'s version and checked counters, from what f knows
	// or from a read.
	ks := make([]known, len(docs))
	unknown := make([]int, 0, len(docs))
	for i := range docs {
		k, ok := f.known[docs[i].id]
		if f.seen == "" || !ok || !k.counts(&docs[i]) {
			unknown = append(unknown, i)
			continue
		}
		ks[i] = k
	}
	// One round trip: watch and read the fence and the epoch, and read the
	// documents not known.
	pipe := conn.Pipeline()
	watch := pipe.Do(ctx, "WATCH", f.key, f.epoch)
	state := pipe.MGet(ctx, f.key, f.epoch)
	reads := f.queueReads(ctx, pipe, docs, unknown)
	_, _ = pipe.Exec(ctx)
	// Any error of these (the network's, or the server's: LOADING, BUSY,
	// NOPERM) is worth retrying later; without the WATCH nothing may be
	// written.
	if err := watch.Err(); err != nil {
		return productview.Result{}, nil, fmt.Errorf("WATCH %s: %w", f.key, err)
	}
	if err := state.Err(); err != nil || len(state.Val()) != 2 {
		return productview.Result{}, nil, fmt.Errorf("MGET %s %s: %v, %w", f.key, f.epoch, state.Val(), err)
	}
	if err := readsErr(reads); err != nil {
		return productview.Result{}, nil, err
	}
	fenceValue, epochValue := str(state.Val()[0]), str(state.Val()[1])
	if f.seen == "" || fenceValue != f.seen || epochValue != f.seenEpoch {
		// What f knows is stale: read the other documents too, still under
		// the WATCH, so that EXEC fails if anyone writes after it.
		f.forget()
		var rest []int
		for i := range docs {
			if reads[i] == nil {
				rest = append(rest, i)
			}
		}
		if len(rest) > 0 {
			pipe := conn.Pipeline()
			more := f.queueReads(ctx, pipe, docs, rest)
			_, _ = pipe.Exec(ctx)
			if err := readsErr(more); err != nil {
				return productview.Result{}, nil, err
			}
			for _, i := range rest {
				reads[i] = more[i]
			}
		}
		// An absent fence is trusted for this attempt only (its reads are
		// under the WATCH), not after it: once deleted (Clear), the epoch
		// starts again from nothing and could come back to a value seen
		// before.
		f.seen, f.seenEpoch = fenceValue, epochValue
	}
	var res productview.Result
	var refused []refusal
	bad := make([]bool, len(docs))
	for i, r := range reads {
		if r == nil {
			continue
		}
		k, err := readKnown(r)
		if err != nil {
			bad[i] = true
			refused = append(refused, refusal{id: docs[i].id, err: fmt.Errorf("redis apply %s: %w", docKey(f.prefix, docs[i].id), err)})
			continue
		}
		ks[i] = k
	}

	// Decide: per document the changes newer than its version, in order.
	type write struct {
		i       int // in docs
		applied int
		version int64
		cmds    []redis.Cmder
	}
	var writes []write
	for i := range docs {
		if bad[i] {
			continue
		}
		w := write{i: i, version: ks[i].version}
		for c := range newer(&docs[i], ks[i].version) {
			w.applied++
			w.version = c.Version
		}
		res.Duplicates += docs[i].n - w.applied
		if w.applied > 0 {
			writes = append(writes, w)
		}
	}
	if len(writes) == 0 {
		// Nothing newer: what was read holds as long as the fence does.
		if err := conn.Do(ctx, "UNWATCH").Err(); err != nil {
			f.forget()
			return productview.Result{}, nil, fmt.Errorf("UNWATCH: %w", err)
		}
		f.rememberAll(docs, ks, bad)
		return res, refused, nil
	}

	token := f.token()
	var set *redis.StatusCmd
	_, err := conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for j := range writes {
			w := &writes[j]
			w.cmds = queueWrite(ctx, p, docKey(f.prefix, docs[w.i].id), &docs[w.i], ks[w.i].version)
		}
		set = p.Set(ctx, f.key, token, 0)
		return nil
	})
	if err != nil && (errors.Is(err, redis.TxFailedErr) || set.Err() != nil) {
		// Not written (the fence moved), or not known whether it was (the
		// network): the next attempt decides from what Redis holds.
		f.forget()
		return productview.Result{}, nil, err
	}
	f.seen = token
	for _, w := range writes {
		for _, cmd := range w.cmds {
			if err := cmd.Err(); err != nil {
				// Refused inside the transaction (a key of another type,
				// a counter HINCRBY cannot add to): the document is not
				// known any more, its changes refused.
				bad[w.i] = true
				res.Duplicates -= docs[w.i].n - w.applied
				refused = append(refused, refusal{id: docs[w.i].id, err: fmt.Errorf("redis apply %s: %w", docKey(f.prefix, docs[w.i].id), err)})
				break
			}
		}
		if !bad[w.i] {
			res.Applied += w.applied
			ks[w.i].counters = unset(ks[w.i].counters, &docs[w.i], ks[w.i].version)
			ks[w.i].version = w.version
		}
	}
	f.rememberAll(docs, ks, bad)
	return res, refused, nil
}

// queueReads queues on p, for docs[i] of each i in which, an HMGET of its
// version and of the counter fields its changes add to; the reads are at
// the documents' indexes, nil elsewhere.
func (f *fence) queueReads(ctx context.Context, p redis.Pipeliner, docs []doc, which []int) []*redis.SliceCmd {
	reads := make([]*redis.SliceCmd, len(docs))
	for _, i := range which {
		reads[i] = p.HMGet(ctx, docKey(f.prefix, docs[i].id), readFields(&docs[i])...)
	}
	return reads
}

// readFields is the version field, then each counter field d's changes
// add to, once.
func readFields(d *doc) []string {
	fields := []string{productview.VersionField}
	for _, c := range d.changes {
		for _, x := range c.Incr {
			if !slices.Contains(fields[1:], x.Name) {
				fields = append(fields, x.Name)
			}
		}
	}
	return fields
}

// readKnown reads an HMGET of queueReads (its fields, read off the
// command, are readFields'): the version, and the counter fields, which
// must hold what HINCRBY adds to (or nothing). A key of another type
// (WRONGTYPE) is the command's error.
func readKnown(r *redis.SliceCmd) (known, error) {
	vals, err := r.Result()
	if err != nil {
		return known{}, err
	}
	fields := make([]string, 0, len(r.Args())-2) // HMGET key fields...
	for _, a := range r.Args()[2:] {
		name, _ := a.(string)
		fields = append(fields, name)
	}
	if len(vals) != len(fields) {
		return known{}, fmt.Errorf("%w: HMGET of %d fields returned %d values", productview.ErrCorrupt, len(fields), len(vals))
	}
	var k known
	if v, ok := vals[0].(string); ok {
		if k.version, ok = int64Of(v); !ok || k.version < 1 {
			return known{}, fmt.Errorf("%w: version field %s holds %.40q, not a version", productview.ErrCorrupt, productview.VersionField, v)
		}
	}
	for j, name := range fields[1:] {
		if v, ok := vals[j+1].(string); ok {
			if _, ok := int64Of(v); !ok {
				return known{}, fmt.Errorf("counter field %s holds %.40s, not an integer HINCRBY can add to", name, v)
			}
		}
		k.counters = append(k.counters, name)
	}
	return k, nil
}

// int64Of parses v as HINCRBY and the script read an integer: canonical
// decimal within int64 (no sign but '-', no leading zero, no "-0").
func int64Of(v string) (int64, bool) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || strconv.FormatInt(n, 10) != v {
		return 0, false
	}
	return n, true
}

// newer yields d's changes that a document at version applies: in order,
// each newer than the one before it.
func newer(d *doc, version int64) iter.Seq[*productview.Change] {
	return func(yield func(*productview.Change) bool) {
		last := version
		for i := range d.changes {
			c := &d.changes[i]
			if c.Version <= last {
				continue
			}
			last = c.Version
			if !yield(c) {
				return
			}
		}
	}
}

// queueWrite queues on p the bare writes of d's changes newer than
// version: one HINCRBY per counter field (the deltas summed), then one HSET
// of the last value of each field set and the newest version, so that a
// set wins over an increment of the same field, as in the script.
func queueWrite(ctx context.Context, p redis.Pipeliner, key string, d *doc, version int64) []redis.Cmder {
	var incr []productview.Incr
	var set []any // field, value, ...; then the version field and version
	var at fieldIndex
	last := version
	for c := range newer(d, version) {
		last = c.Version
		for _, x := range c.Incr {
			if j := slices.IndexFunc(incr, func(y productview.Incr) bool { return y.Name == x.Name }); j >= 0 {
				incr[j].By += x.By
				continue
			}
			incr = append(incr, x)
		}
		if set == nil {
			set = make([]any, 0, 2*len(c.Set)+2)
		}
		for _, x := range c.Set {
			if j := at.find(set, x.Name); j >= 0 {
				set[j+1] = x.Value
				continue
			}
			at.add(set, x.Name, len(set))
			set = append(set, x.Name, x.Value)
		}
	}
	cmds := make([]redis.Cmder, 0, len(incr)+1)
	for _, x := range incr {
		cmds = append(cmds, p.HIncrBy(ctx, key, x.Name, x.By))
	}
	set = append(set, productview.VersionField, last)
	cmds = append(cmds, p.HSet(ctx, key, set...))
	return cmds
}

// fieldIndex finds a field's place in a list of field, value pairs: a
// product has a dozen fields, where a look along them costs less than a
// map per document; past fieldsScanned fields (a burst of sets) a map.
type fieldIndex map[string]int

const fieldsScanned = 32

func (m fieldIndex) find(pairs []any, name string) int {
	if m != nil {
		if j, ok := m[name]; ok {
			return j
		}
		return -1
	}
	for j := 0; j < len(pairs); j += 2 {
		if pairs[j].(string) == name {
			return j
		}
	}
	return -1
}

// add records name at j, the end of pairs; once there are too many fields
// to scan, in a map of them all.
func (m *fieldIndex) add(pairs []any, name string, j int) {
	if *m == nil {
		if j < 2*fieldsScanned {
			return
		}
		*m = make(fieldIndex, 2*fieldsScanned)
		for k := 0; k < j; k += 2 {
			(*m)[pairs[k].(string)] = k
		}
	}
	(*m)[name] = j
}

// rememberAll records ks[i] as docs[i]'s, but for the bad ones, which it
// forgets.
func (f *fence) rememberAll(docs []doc, ks []known, bad []bool) {
	for i := range docs {
		if bad[i] {
			delete(f.known, docs[i].id)
			continue
		}
		f.remember(docs[i].id, ks[i])
	}
}

// forget drops what f knows: the next attempt reads every document.
func (f *fence) forget() {
	f.seen = ""
	clear(f.known)
}

// remember records k as document id's, within f.max documents (past it,
// f starts over: hot documents are soon known again).
func (f *fence) remember(id string, k known) {
	if f.known == nil {
		f.known = make(map[string]known)
	}
	if len(f.known) >= f.max {
		if _, ok := f.known[id]; !ok {
			clear(f.known)
		}
	}
	f.known[id] = k
}

// str is an MGET value as a string, "" for a missing key.
func str(v any) string {
	s, _ := v.(string)
	return s
}

// readsErr is the first error of the reads queued that is not the
// document's own refusal (WRONGTYPE: a key of another type in its place):
// the network's, or the server's (LOADING, BUSY, NOPERM), worth retrying
// later.
func readsErr(reads []*redis.SliceCmd) error {
	for _, r := range reads {
		if r == nil {
			continue
		}
		if err := r.Err(); err != nil && !redis.HasErrorPrefix(err, "WRONGTYPE") {
			return fmt.Errorf("HMGET %s: %w", r.Args()[1], err)
		}
	}
	return nil
}

// unset is counters less the fields that d's changes newer than version
// set: what they hold is no longer known to be an integer HINCRBY adds to.
func unset(counters []string, d *doc, version int64) []string {
	out := counters
	copied := false
	for c := range newer(d, version) {
		for _, x := range c.Set {
			j := slices.Index(out, x.Name)
			if j < 0 {
				continue
			}
			if !copied {
				out, copied = slices.Clone(out), true
			}
			out = slices.Delete(out, j, j+1)
		}
	}
	return out
}
