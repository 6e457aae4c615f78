package esindex

import (
	"sync"

	"github.com/streamview/streamview/processors/productsearch"
)

// docCache remembers documents Apply wrote, with the _seq_no and
// _primary_term of the write, so that a product's next batch can skip the
// _mget. It is only a guess of the stored state: the if_seq_no condition of
// the write checks it, and a conflict drops the entry and re-reads. Events
// that the cached version already holds are confirmed with an _mget before
// they are skipped, so a store emptied behind the Index's back (a replay)
// is rebuilt, not skipped.
//
// It holds at most maxDocs documents and maxBytes of them, each counted as
// the size of its JSON as written (a document can be tens of KB: a count
// alone bounds nothing). When either bound is passed, the documents written
// longest ago go first; a document larger than maxBytes alone is not kept.
//
// The entries are linked in write order through their own fields, and a
// product written again is updated where it is and moved to the end: on a
// skewed catalogue nearly every write is a rewrite, and this costs a map
// lookup and a relink, not a delete, an insert and two allocations.
type docCache struct {
	mu       sync.Mutex
	maxDocs  int
	maxBytes int64
	bytes    int64
	m        map[string]*cacheEntry
	// oldest and newest are the ends of the write order.
	oldest, newest *cacheEntry
}

type cachedDoc struct {
	doc         productsearch.Doc
	seqNo       int64
	primaryTerm int64
	size        int // bytes of the document's JSON
}

type cacheEntry struct {
	id         string
	prev, next *cacheEntry // older, newer
	gone       bool        // removed: a slot of it no longer stands for id
	cachedDoc
}

// cacheSlot is where get found a document: put can write the next version
// there without looking id up again, if it is still there. (A batch folds
// and writes some 1,500 products between the two, so the second lookup
// missed the processor's caches: a third of the cache's cost in bench
// search.) Only the cache's methods look inside it, under its lock.
type cacheSlot struct{ e *cacheEntry }

func newDocCache(maxDocs int, maxBytes int64) *docCache {
	if maxDocs <= 0 || maxBytes <= 0 {
		return nil
	}
	return &docCache{maxDocs: maxDocs, maxBytes: maxBytes, m: make(map[string]*cacheEntry)}
}

// get returns id's document, and the slot where it is for put.
func (c *docCache) get(id string) (cachedDoc, cacheSlot, bool) {
	if c == nil {
		return cachedDoc{}, cacheSlot{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok {
		return e.cachedDoc, cacheSlot{e}, true
	}
	return cachedDoc{}, cacheSlot{}, false
}

// put remembers d as id's newest write: in slot (get's for id) when it
// still holds id, else where a lookup of id finds it (a zero slot: none).
func (c *docCache) put(id string, d cachedDoc, slot cacheSlot) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := slot.e, slot.e != nil && !slot.e.gone
	if !ok {
		e, ok = c.m[id]
	}
	if int64(d.size) > c.maxBytes {
		if ok {
			c.remove(e)
		}
		return
	}
	if ok {
		c.bytes += int64(d.size - e.size)
		e.cachedDoc = d
		c.unlink(e)
	} else {
		e = &cacheEntry{id: id, cachedDoc: d}
		c.m[id] = e
		c.bytes += int64(d.size)
	}
	c.link(e)
	for c.oldest != e && (len(c.m) > c.maxDocs || c.bytes > c.maxBytes) {
		c.remove(c.oldest)
	}
}

func (c *docCache) drop(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok {
		c.remove(e)
	}
}

// remove forgets e; c.mu is held.
func (c *docCache) remove(e *cacheEntry) {
	c.unlink(e)
	delete(c.m, e.id)
	c.bytes -= int64(e.size)
	e.gone = true
}

// unlink takes e out of the write order; link puts it at the newest end.
func (c *docCache) unlink(e *cacheEntry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		c.oldest = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		c.newest = e.prev
	}
	e.prev, e.next = nil, nil
}

func (c *docCache) link(e *cacheEntry) {
	e.prev = c.newest
	if c.newest != nil {
		c.newest.next = e
	} else {
		c.oldest = e
	}
	c.newest = e
}

func (c *docCache) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.oldest; e != nil; {
		next := e.next
		e.gone, e.prev, e.next = true, nil, nil // a slot held meanwhile keeps no other entry alive
		e = next
	}
	clear(c.m)
	c.oldest, c.newest = nil, nil
	c.bytes = 0
}

// usage is how many documents and bytes c holds.
func (c *docCache) usage() (docs int, bytes int64) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m), c.bytes
}
