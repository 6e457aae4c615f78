package redisview

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/batch"
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
// On a single server one script call carries the changes of up to
// Config.DocsPerCall documents: starting a script costs Redis several times
// what its HGET and HSET do, so one call per document would make the script
// calls, not the writes, the limit. On a cluster or ring each call carries
// one document, whose keys share a slot. The calls go out pipelined, in
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
	if o.err == nil && len(o.noScript) > 0 {
		// Nothing of these documents ran (NOSCRIPT fails a call before its
		// first command), so running all their changes again is safe.
		// (Another client may reload the script between two commands of one
		// pipeline: that is why one document's changes never span two script
		// calls.) EVAL also caches the script for the next EVALSHAs.
		more := s.exec(ctx, gen, o.noScript, true)
		o.res = o.res.Add(more.res)
		o.refused = append(o.refused, more.refused...)
		o.err = more.err
	}
	if o.err != nil || len(o.refused) == 0 {
		return o.res, o.err
	}
	// Every other document is written: name the refused ones' changes.
	why := make(map[string]error, len(o.refused))
	for _, r := range o.refused {
		why[r.id] = r.err
	}
	var fs []batch.Failure
	for i, c := range changes {
		if err, ok := why[c.ID]; ok {
			fs = append(fs, batch.Permanent(i, err))
		}
	}
	return o.res, batch.Fail(fs...)
}

// outcome is what script calls did: the changes applied, the documents
// whose call failed with NOSCRIPT, the documents the server refused, and
// the first other error (of the earliest documents).
type outcome struct {
	res      productview.Result
	noScript []doc
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
	pipe := s.client.Pipeline()
	cmds := make([]*redis.Cmd, len(calls))
	for i, c := range calls {
		if eval {
			cmds[i] = applyScript.Eval(ctx, pipe, c.keys, c.args...)
		} else {
			cmds[i] = applyScript.EvalSha(ctx, pipe, c.keys, c.args...)
		}
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
			reply, refused, err := c.refusals(reply)
			applied, isInt := reply.(int64)
			if err == nil && isInt && applied >= 0 && int(applied) <= c.n {
				o.res = o.res.Add(productview.Result{Applied: int(applied), Duplicates: c.n - int(applied) - c.skipped(refused)})
				o.refused = append(o.refused, refused...)
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

// refusals splits a script reply into the number of changes applied and
// the documents the script skipped (an array reply: applied, then per
// skipped document its 1-based position in the call's keys and the error).
func (c *call) refusals(reply any) (any, []refusal, error) {
	a, ok := reply.([]any)
	if !ok {
		return reply, nil, nil
	}
	if len(a) == 0 || len(a)%2 != 1 {
		return reply, nil, fmt.Errorf("%w: script returned %v", productview.ErrCorrupt, reply)
	}
	var out []refusal
	for j := 1; j < len(a); j += 2 {
		k, ok := a[j].(int64)
		if !ok || k < 1 || int(k) > len(c.docs) {
			return reply, nil, fmt.Errorf("%w: script returned %v", productview.ErrCorrupt, reply)
		}
		out = append(out, refusal{id: c.docs[k-1].id,
			err: fmt.Errorf("redis apply %s: %v", c.keys[k-1], a[j+1])})
	}
	return a[0], out, nil
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
// single server, one each on a cluster or ring (or any other client), where
// the documents of one call could live on different nodes.
func (s *Store) calls(gen int, docs []doc) []call {
	per := s.docsPerCall
	if _, single := s.client.(*redis.Client); !single {
		per = 1
	}
	prefix := s.Prefix(gen)
	out := make([]call, 0, (len(docs)+per-1)/per)
	for start := 0; start < len(docs); start += per {
		ds := docs[start:min(start+per, len(docs))]
		nargs := 0
		for _, d := range ds {
			nargs += d.nargs
		}
		c := call{docs: ds, keys: make([]string, len(ds)), args: make([]any, 0, nargs)}
		for j, d := range ds {
			c.keys[j] = prefix + "{" + d.id + "}"
			c.args = append(c.args, d.n)
			for _, ch := range d.changes {
				// The version goes as an int64: go-redis writes it in
				// canonical decimal, the form the script compares.
				c.args = append(c.args, ch.Version, len(ch.Set), len(ch.Incr))
				for _, f := range ch.Set {
					c.args = append(c.args, f.Name, f.Value)
				}
				for _, f := range ch.Incr {
					c.args = append(c.args, f.Name, f.By)
				}
			}
			c.n += d.n
		}
		out = append(out, c)
	}
	return out
}

// doc is the changes of one document in one Apply, in the order given.
type doc struct {
	id      string
	changes []productview.Change
	n       int // len(changes), counted before they are gathered
	nargs   int // script arguments the changes take
}

// group validates changes and gathers them by document, keeping the order of
// first appearance and, within a document, the order given.
func group(changes []productview.Change) ([]doc, error) {
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
