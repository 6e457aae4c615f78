package redisview

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
)

//go:embed apply.lua
var applySource string

// applyScript is shared by all Stores: go-redis computes its SHA-1 once.
var applyScript = redis.NewScript(applySource)

// Apply writes changes to generation gen and reports how many were applied
// and how many were duplicates. Changes of one document go together into one
// script call, which Redis runs atomically, in the order given: partition
// order, so versions ascend (one older than the document's version is a
// duplicate).
//
// Several changes of one document (a hot product's events in one batch)
// are folded into one guarded write: the last value of each field, the
// deltas summed, applied whole when the document is older than the first
// change and skipped when it holds the last. A document in between (part of
// the changes redelivered) is left untouched by that call and its changes
// are sent again one by one, which the script applies or skips each by its
// version. Only changes whose versions ascend strictly are folded.
//
// On a single server one script call carries the changes of up to
// Config.DocsPerCall documents: starting a script costs Redis several times
// what its HMGET and HSET do, so one call per document would make the script
// calls, not the writes, the limit. Within a call, a document of one change
// or one folded write costs Redis two commands: one HMGET of the version
// and the counter fields, one HSET of the counters' new values, the sets
// and the version (apply.lua). On a cluster a call carries the
// documents of one hash slot (up to Config.DocsPerCall; a script's keys
// must share a slot), on a ring one document. The calls go out pipelined, in
// round trips of up to Config.DocsPerPipeline documents that run at once, so
// that Redis works on one while the client encodes the next.
//
// Apply is idempotent: running it again with the same or older changes
// counts them as duplicates and changes nothing. It returns nil only when
// every change is applied or known to be a duplicate; on error the result
// counts what is known to be done. Server and network errors (a script
// error such as OOM, BUSY, LOADING or READONLY included) are returned
// wrapped with %w, and the caller should retry the whole slice; invalid
// changes wrap productview.ErrInvalidChange and are refused before anything
// is sent. A document whose key holds another type (WRONGTYPE), or one of
// whose counter fields holds what HINCRBY cannot add to (not an int64), is
// skipped by the script before any of its writes: once
// every other change is applied, Apply returns a *batch.Error naming that
// document's changes, by index, as permanent. So
// does a script reply that Apply cannot read (wrapping
// productview.ErrCorrupt), for the documents of that script call.
func (s *Store) Apply(ctx context.Context, gen int, changes []productview.Change) (productview.Result, error) {
	if err := checkGen(gen); err != nil {
		return productview.Result{}, err
	}
	docs, err := group(changes)
	if err != nil {
		return productview.Result{}, err
	}
	if len(docs) == 0 {
		return productview.Result{}, nil
	}

	o := s.exec(ctx, gen, docs, false)
	// Two kinds of document come back untouched, to send again until none
	// does (each pass ends with fewer: an EVAL never meets NOSCRIPT, an
	// unfolded write is never unfolded again):
	//   - NOSCRIPT: nothing of these documents ran (NOSCRIPT fails a call
	//     before its first command), so running all their changes again
	//     is safe. (Another client may reload the script between two
	//     commands of one pipeline: that is why one document's changes
	//     never span two script calls.) EVAL also caches the script for
	//     the next EVALSHAs;
	//   - folded writes that met a version inside their span (part of the
	//     changes redelivered): their changes go again one by one, so the
	//     script tells the new from the duplicates.
	for o.err == nil && (len(o.noScript) > 0 || len(o.unfold) > 0) {
		var more outcome
		if len(o.noScript) > 0 {
			again := o.noScript
			o.noScript = nil
			more = s.exec(ctx, gen, again, true)
		} else {
			again := o.unfold
			o.unfold = nil
			for i := range again {
				again[i].fold = nil
			}
			more = s.exec(ctx, gen, again, false)
		}
		o.res = o.res.Add(more.res)
		o.refused = append(o.refused, more.refused...)
		o.noScript = append(o.noScript, more.noScript...)
		o.unfold = append(o.unfold, more.unfold...)
		o.err = more.err
	}
	if o.err != nil {
		return o.res, o.err
	}
	// Every other document is written: name the refused ones' changes.
	return o.res, refusedError(changes, o.refused)
}

// outcome is what script calls did: the changes applied, the documents
// whose call failed with NOSCRIPT, the documents the server refused, and
// the first other error (of the earliest documents).
type outcome struct {
	res      productview.Result
	noScript []doc
	unfold   []doc // folded writes to send again unfolded
	refused  []refusal
	err      error
}

// refusal is a document whose hash the script could not read, such as a
// key of another type in its place (WRONGTYPE): no retry writes it.
type refusal struct {
	id  string
	err error
}

func (o *outcome) add(p outcome) {
	o.res = o.res.Add(p.res)
	o.noScript = append(o.noScript, p.noScript...)
	o.unfold = append(o.unfold, p.unfold...)
	o.refused = append(o.refused, p.refused...)
	if o.err == nil {
		o.err = p.err
	}
}

// exec sends docs in script calls, in pipelines of up to docsPerPipeline
// documents that run concurrently.
func (s *Store) exec(ctx context.Context, gen int, docs []doc, eval bool) outcome {
	per := s.docsPerPipeline
	if len(docs) <= per {
		return s.pipeline(ctx, gen, docs, eval)
	}
	outs := make([]outcome, (len(docs)+per-1)/per)
	var wg sync.WaitGroup
	for i := range outs {
		chunk := docs[i*per : min((i+1)*per, len(docs))]
		wg.Go(func() { outs[i] = s.pipeline(ctx, gen, chunk, eval) })
	}
	wg.Wait()
	var o outcome
	for _, p := range outs {
		o.add(p)
	}
	return o
}

// pipeline sends docs in script calls of one pipeline (one round trip per
// cluster node).
func (s *Store) pipeline(ctx context.Context, gen int, docs []doc, eval bool) outcome {
	calls := s.calls(gen, docs)
	// On a single server the calls bump the generation's epoch in the same
	// transaction: ApplyIn's writers, which decide from the versions they
	// remember, see that someone else wrote (see ApplyIn).
	single, isSingle := s.client.(*redis.Client)
	var pipe redis.Pipeliner
	if isSingle {
		pipe = single.TxPipeline()
	} else {
		pipe = s.client.Pipeline()
	}
	cmds := make([]*redis.Cmd, len(calls))
	for i, c := range calls {
		if eval {
			cmds[i] = applyScript.Eval(ctx, pipe, c.keys, c.args...)
		} else {
			cmds[i] = applyScript.EvalSha(ctx, pipe, c.keys, c.args...)
		}
	}
	if isSingle {
		pipe.Incr(ctx, epochKey(s.Prefix(gen)))
	}
	_, execErr := pipe.Exec(ctx)

	var o outcome
	for i, cmd := range cmds {
		c := &calls[i]
		reply, err := cmd.Result()
		if err == nil && reply == nil {
			// The command never ran (no reply; the script always answers):
			// the pipeline's error says why.
			if err = execErr; err == nil {
				err = errors.New("no reply")
			}
		}
		if err == nil {
			reply, refused, unfold, err := c.refusals(reply)
			applied, isInt := reply.(int64)
			if err == nil && isInt && applied >= 0 && int(applied) <= c.n {
				o.res = o.res.Add(productview.Result{Applied: int(applied), Duplicates: c.n - int(applied) - c.skipped(refused) - changesOf(unfold)})
				o.refused = append(o.refused, refused...)
				o.unfold = append(o.unfold, unfold...)
				continue
			}
			// A reply this code does not read: the script and the code
			// disagree, and running the same call again gets the same
			// answer, so a retry would block the partition for good.
			// The call's documents are refused (their changes named
			// permanent, to be dead-lettered; re-driving them is safe, as
			// what the script did apply comes back as duplicates).
			// Errors of the server and the network stay transient.
			if err == nil {
				err = fmt.Errorf("%w: script returned %v for %d changes", productview.ErrCorrupt, reply, c.n)
			}
			for j, d := range c.docs {
				o.refused = append(o.refused, refusal{id: d.id, err: fmt.Errorf("redis apply %s: %w", c.keys[j], err)})
			}
			continue
		}
		if redis.HasErrorPrefix(err, "NOSCRIPT") {
			o.noScript = append(o.noScript, c.docs...)
			continue
		}
		if o.err == nil {
			o.err = fmt.Errorf("redis apply %s (%d changes): %w", c.describe(), c.n, err)
		}
	}
	return o
}

// refusals splits a script reply into the number of changes applied, the
// documents the script refused and the folded writes it skipped (an array
// reply: applied, then per skipped document its 1-based position in the
// call's keys and the error; the position negated for a folded write to
// send again unfolded).
func (c *call) refusals(reply any) (any, []refusal, []doc, error) {
	a, ok := reply.([]any)
	if !ok {
		return reply, nil, nil, nil
	}
	if len(a) == 0 || len(a)%2 != 1 {
		return reply, nil, nil, fmt.Errorf("%w: script returned %v", productview.ErrCorrupt, reply)
	}
	var out []refusal
	var unfold []doc
	for j := 1; j < len(a); j += 2 {
		k, ok := a[j].(int64)
		if ok && k < 0 && int(-k) <= len(c.docs) && c.docs[-k-1].fold != nil {
			unfold = append(unfold, c.docs[-k-1])
			continue
		}
		if !ok || k < 1 || int(k) > len(c.docs) {
			return reply, nil, nil, fmt.Errorf("%w: script returned %v", productview.ErrCorrupt, reply)
		}
		out = append(out, refusal{id: c.docs[k-1].id,
			err: fmt.Errorf("redis apply %s: %v", c.keys[k-1], a[j+1])})
	}
	return a[0], out, unfold, nil
}

// changesOf is how many changes docs hold.
func changesOf(docs []doc) int {
	n := 0
	for _, d := range docs {
		n += d.n
	}
	return n
}

// skipped is how many changes of c the refused documents hold.
func (c *call) skipped(refused []refusal) int {
	n := 0
	for _, r := range refused {
		for _, d := range c.docs {
			if d.id == r.id {
				n += d.n
			}
		}
	}
	return n
}

// call is one script call: the changes of consecutive documents of an Apply.
type call struct {
	docs []doc
	keys []string // one per document
	args []any    // per document: its number of changes, then the changes
	n    int      // number of changes
}

func (c *call) describe() string {
	if len(c.docs) == 1 {
		return c.keys[0]
	}
	return fmt.Sprintf("%s and %d more documents", c.keys[0], len(c.docs)-1)
}

// calls packs docs into script calls: up to docsPerCall documents each on a
// single server; on a cluster up to docsPerCall documents of one hash slot
// each (a script's keys must share a slot; a pipeline then goes to each
// node its calls' slots live on); one each on a ring or any other client,
// where the documents of one call could live on different nodes.
func (s *Store) calls(gen int, docs []doc) []call {
	var runs [][]doc
	switch s.client.(type) {
	case *redis.Client:
		runs = chunks(docs, s.docsPerCall)
	case *redis.ClusterClient:
		runs = bySlot(docs, s.docsPerCall)
	default:
		runs = chunks(docs, 1)
	}
	prefix := s.Prefix(gen)
	out := make([]call, 0, len(runs))
	for _, ds := range runs {
		nargs := 0
		for _, d := range ds {
			nargs += d.nargs
			if d.fold != nil {
				nargs = nargs - d.nargs + d.fold.nargs
			}
		}
		c := call{docs: ds, keys: make([]string, len(ds)), args: make([]any, 0, nargs)}
		for j, d := range ds {
			c.keys[j] = docKey(prefix, d.id)
			c.n += d.n
			if f := d.fold; f != nil {
				c.args = append(c.args, -d.n, f.first, f.last, len(f.set), len(f.incr))
				for _, x := range f.set {
					c.args = append(c.args, x.Name, x.Value)
				}
				c.args = appendIncr(c.args, f.incr)
				continue
			}
			c.args = append(c.args, d.n)
			for _, ch := range d.changes {
				// The version goes as an int64: go-redis writes it in
				// canonical decimal, the form the script compares.
				c.args = append(c.args, ch.Version, len(ch.Set), len(ch.Incr))
				for _, f := range ch.Set {
					c.args = append(c.args, f.Name, f.Value)
				}
				c.args = appendIncr(c.args, ch.Incr)
			}
		}
		out = append(out, c)
	}
	return out
}

// appendIncr appends the counter fields' names, then their deltas: the
// names side by side are one HMGET's arguments in the script, with the
// version, without a table built in Lua.
func appendIncr(args []any, incr []productview.Incr) []any {
	for _, x := range incr {
		args = append(args, x.Name)
	}
	for _, x := range incr {
		args = append(args, x.By)
	}
	return args
}

// chunks cuts docs into runs of up to per documents, in order.
func chunks(docs []doc, per int) [][]doc {
	out := make([][]doc, 0, (len(docs)+per-1)/per)
	for start := 0; start < len(docs); start += per {
		out = append(out, docs[start:min(start+per, len(docs))])
	}
	return out
}

// bySlot gathers docs by the cluster hash slot of their ID (the tag of
// every key of theirs) and cuts each slot's documents into runs of up to
// per, keeping the order of first appearance. Documents are independent,
// so their order across slots does not matter.
func bySlot(docs []doc, per int) [][]doc {
	at := make(map[int]int, len(docs)) // slot → its index in slots
	var slots [][]doc
	for _, d := range docs {
		sl := int(crc16(d.id) % slotCount)
		i, ok := at[sl]
		if !ok {
			i = len(slots)
			at[sl] = i
			slots = append(slots, nil)
		}
		slots[i] = append(slots[i], d)
	}
	out := make([][]doc, 0, len(slots))
	for _, ds := range slots {
		out = append(out, chunks(ds, per)...)
	}
	return out
}

// doc is the changes of one document in one Apply, in the order given.
type doc struct {
	id      string
	changes []productview.Change
	n       int     // len(changes), counted before they are gathered
	nargs   int     // script arguments the changes take
	fold    *folded // the changes as one write, when there are several
}

// folded is the changes of one document as one guarded write: the last
// value of each field set, the deltas of each field summed, and the
// versions of the first and last change. Applying it whole is applying the
// changes one after another (the script writes the increments, then the
// sets, in either case), when every change is newer than the document.
type folded struct {
	first, last int64
	set         []productview.Field
	incr        []productview.Incr
	nargs       int
}

// foldChanges folds d's changes into one write when there are several and their
// versions ascend strictly (partition order; a batch that repeats a
// version within itself goes change by change, so that the script skips
// the repeat).
func (d *doc) foldChanges() {
	if d.n < 2 {
		return
	}
	for i := 1; i < len(d.changes); i++ {
		if d.changes[i].Version <= d.changes[i-1].Version {
			return
		}
	}
	f := &folded{first: d.changes[0].Version, last: d.changes[len(d.changes)-1].Version}
	setAt := make(map[string]int, 16)
	incrAt := make(map[string]int, 2)
	for _, c := range d.changes {
		for _, x := range c.Set {
			if j, ok := setAt[x.Name]; ok {
				f.set[j].Value = x.Value
				continue
			}
			setAt[x.Name] = len(f.set)
			f.set = append(f.set, x)
		}
		for _, x := range c.Incr {
			if j, ok := incrAt[x.Name]; ok {
				f.incr[j].By += x.By
				continue
			}
			incrAt[x.Name] = len(f.incr)
			f.incr = append(f.incr, x)
		}
	}
	f.nargs = 5 + 2*len(f.set) + 2*len(f.incr)
	d.fold = f
}

// group validates changes and gathers them by document, keeping the order of
// first appearance and, within a document, the order given, and folds each
// document's changes into one write when it can.
func group(changes []productview.Change) ([]doc, error) {
	docs, err := gather(changes)
	if err != nil || noFold {
		return docs, err
	}
	for j := range docs {
		docs[j].foldChanges()
	}
	return docs, nil
}

// gather is group without the fold.
func gather(changes []productview.Change) ([]doc, error) {
	// Two passes over one backing array instead of a slice per document:
	// a batch is mostly documents with one change each.
	of := make([]int32, len(changes)) // change → its document
	index := make(map[string]int32, len(changes))
	var docs []doc
	for i, c := range changes {
		if err := validate(c); err != nil {
			return nil, fmt.Errorf("%w: change %d (document %q, version %d): %w", productview.ErrInvalidChange, i, c.ID, c.Version, err)
		}
		j, ok := index[c.ID]
		if !ok {
			j = int32(len(docs))
			index[c.ID] = j
			docs = append(docs, doc{id: c.ID, nargs: 1})
		}
		of[i] = j
		d := &docs[j]
		d.n++
		d.nargs += 3 + 2*len(c.Set) + 2*len(c.Incr)
	}
	sorted := make([]productview.Change, len(changes))
	next := 0
	for j := range docs {
		n := docs[j].n
		docs[j].changes = sorted[next : next : next+n]
		next += n
	}
	for i, c := range changes {
		d := &docs[of[i]]
		d.changes = append(d.changes, c)
	}
	return docs, nil
}

// noFold turns folding off, for a benchmark to measure what it saves.
var noFold bool

func validate(c productview.Change) error {
	if err := checkID(c.ID); err != nil {
		return err
	}
	if c.Version < 1 {
		return errors.New("version must be >= 1")
	}
	for _, f := range c.Set {
		if err := checkField(f.Name); err != nil {
			return err
		}
	}
	for _, f := range c.Incr {
		if err := checkField(f.Name); err != nil {
			return err
		}
	}
	return nil
}

func checkField(name string) error {
	switch name {
	case "":
		return errors.New("empty field name")
	case productview.VersionField:
		return fmt.Errorf("field %q is reserved for the version", productview.VersionField)
	}
	return nil
}

// Writes are the Redis writes Apply makes for changes, without its version
// guard: per document, in order of first appearance, its HINCRBYs (field,
// delta) and one HSET of the fields it sets and the version (or, for a
// document whose versions do not ascend, those of each change in turn).
// They are what a bare client would write to get the same hashes, for a
// benchmark to set beside Apply. Invalid changes are refused as Apply
// refuses them.
func Writes(changes []productview.Change) ([]Write, error) {
	docs, err := group(changes)
	if err != nil {
		return nil, err
	}
	out := make([]Write, 0, len(docs))
	for _, d := range docs {
		if f := d.fold; f != nil {
			out = append(out, Write{ID: d.id, Version: f.last, Set: f.set, Incr: f.incr})
			continue
		}
		for _, c := range d.changes {
			out = append(out, Write{ID: d.id, Version: c.Version, Set: c.Set, Incr: c.Incr})
		}
	}
	return out, nil
}

// Write is one document's share of Writes: HINCRBY each of Incr, then HSET
// Set and the version.
type Write struct {
	ID      string
	Version int64
	Set     []productview.Field
	Incr    []productview.Incr
}

// DocsPerPipeline is the most documents one round trip of Apply carries
// (Config.DocsPerPipeline).
func (s *Store) DocsPerPipeline() int { return s.docsPerPipeline }
