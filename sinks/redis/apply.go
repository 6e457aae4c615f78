package redis

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"
)

// Change is what one event does to one document: set some fields, add to
// some integer fields, and move the document to Version. Redis applies it
// only when Version is newer than the version the document holds.
type Change struct {
	ID      string  // document ID, the event's aggregate ID
	Version int64   // the event's aggregate version, >= 1
	Set     []Field // fields to set, in order
	Incr    []Incr  // integer fields to add to (HINCRBY)
}

// Field is one hash field and its new value.
type Field struct {
	Name, Value string
}

// Incr adds By to the integer held in field Name (0 when absent).
type Incr struct {
	Name string
	By   int64
}

// Result counts the changes of one Apply: Applied were newer than the stored
// document and are now in it; Duplicates were not and were skipped.
type Result struct {
	Applied    int
	Duplicates int
}

// Add returns the sum of r and o.
func (r Result) Add(o Result) Result {
	return Result{Applied: r.Applied + o.Applied, Duplicates: r.Duplicates + o.Duplicates}
}

//go:embed apply.lua
var applySource string

// applyScript is shared by all Stores: go-redis computes its SHA-1 once.
var applyScript = goredis.NewScript(applySource)

// Apply writes changes to generation gen in one pipelined round trip (one per
// cluster node) and reports how many were applied and how many were
// duplicates. Changes of one document go together into one script call,
// which Redis runs atomically, in the order given: partition order, so
// versions ascend (one older than the document's version is a duplicate).
//
// Apply is idempotent: running it again with the same or older changes
// counts them as duplicates and changes nothing. It returns nil only when
// every change is applied or known to be a duplicate; on error the result
// counts what is known to be done, and the caller should retry the whole
// slice. Server and network errors are returned wrapped with %w; invalid
// changes wrap ErrInvalidChange and are refused before anything is sent.
func (s *Store) Apply(ctx context.Context, gen int, changes []Change) (Result, error) {
	if err := checkGen(gen); err != nil {
		return Result{}, err
	}
	docs, err := group(changes)
	if err != nil {
		return Result{}, err
	}
	if len(docs) == 0 {
		return Result{}, nil
	}

	res, retry, err := s.exec(ctx, gen, docs, false)
	if err == nil && len(retry) > 0 {
		// Nothing of these documents ran, so running all their changes again is
		// safe. (Another client may reload the script between two commands of
		// one pipeline: that is why one document's changes never span two
		// script calls.) EVAL also caches the script for the next EVALSHAs.
		var more Result
		more, _, err = s.exec(ctx, gen, retry, true)
		res = res.Add(more)
	}
	return res, err
}

// exec sends one script call per document in one pipeline and returns what
// was applied, the documents whose call failed with NOSCRIPT, and the first
// other error.
func (s *Store) exec(ctx context.Context, gen int, docs []doc, eval bool) (Result, []doc, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*goredis.Cmd, len(docs))
	for i, d := range docs {
		keys := []string{s.Key(gen, d.id)}
		if eval {
			cmds[i] = applyScript.Eval(ctx, pipe, keys, d.args...)
		} else {
			cmds[i] = applyScript.EvalSha(ctx, pipe, keys, d.args...)
		}
	}
	_, execErr := pipe.Exec(ctx)

	var (
		res      Result
		noScript []doc
		firstErr error
	)
	for i, cmd := range cmds {
		applied, err := cmd.Int()
		switch {
		case err == nil && applied >= 0 && applied <= docs[i].n:
			res = res.Add(Result{Applied: applied, Duplicates: docs[i].n - applied})
			continue
		case err == nil:
			err = fmt.Errorf("%w: script returned %d for %d changes", ErrCorrupt, applied, docs[i].n)
		case goredis.HasErrorPrefix(err, "NOSCRIPT"):
			noScript = append(noScript, docs[i])
			continue
		case cmd.Err() == nil && execErr != nil:
			// The command never ran (no reply): the pipeline's error says why.
			err = execErr
		}
		if firstErr == nil {
			firstErr = fmt.Errorf("redis apply %s (%d changes): %w", s.Key(gen, docs[i].id), docs[i].n, err)
		}
	}
	return res, noScript, firstErr
}

// doc is the changes of one document in one Apply, as script arguments.
type doc struct {
	id   string
	n    int // number of changes
	args []any
}

// group validates changes and gathers them by document, keeping the order of
// first appearance and, within a document, the order given.
func group(changes []Change) ([]doc, error) {
	var docs []doc
	index := make(map[string]int)
	for i, c := range changes {
		if err := c.validate(); err != nil {
			return nil, fmt.Errorf("%w: change %d (document %q, version %d): %w", ErrInvalidChange, i, c.ID, c.Version, err)
		}
		j, ok := index[c.ID]
		if !ok {
			j = len(docs)
			index[c.ID] = j
			docs = append(docs, doc{id: c.ID, args: []any{0}})
		}
		d := &docs[j]
		d.n++
		d.args[0] = d.n
		d.args = append(d.args, strconv.FormatInt(c.Version, 10), len(c.Set), len(c.Incr))
		for _, f := range c.Set {
			d.args = append(d.args, f.Name, f.Value)
		}
		for _, f := range c.Incr {
			d.args = append(d.args, f.Name, f.By)
		}
	}
	return docs, nil
}

func (c Change) validate() error {
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
	case VersionField:
		return fmt.Errorf("field %q is reserved for the version", VersionField)
	}
	return nil
}
