package esindex

import (
	"container/list"
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
type docCache struct {
	mu       sync.Mutex
	maxDocs  int
	maxBytes int64
	bytes    int64
	m        map[string]*list.Element // of *cacheEntry
	order    list.List                // oldest write first
}

type cachedDoc struct {
	doc         productsearch.Doc
	seqNo       int64
	primaryTerm int64
	size        int // bytes of the document's JSON
}

type cacheEntry struct {
	id string
	cachedDoc
}

func newDocCache(maxDocs int, maxBytes int64) *docCache {
	if maxDocs <= 0 || maxBytes <= 0 {
		return nil
	}
	return &docCache{maxDocs: maxDocs, maxBytes: maxBytes, m: make(map[string]*list.Element)}
}

func (c *docCache) get(id string) (cachedDoc, bool) {
	if c == nil {
		return cachedDoc{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok {
		return e.Value.(*cacheEntry).cachedDoc, true
	}
	return cachedDoc{}, false
}

// put remembers d as id's newest write.
func (c *docCache) put(id string, d cachedDoc) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remove(id)
	if int64(d.size) > c.maxBytes {
		return
	}
	for c.order.Len() > 0 && (c.order.Len() >= c.maxDocs || c.bytes+int64(d.size) > c.maxBytes) {
		c.remove(c.order.Front().Value.(*cacheEntry).id)
	}
	c.m[id] = c.order.PushBack(&cacheEntry{id: id, cachedDoc: d})
	c.bytes += int64(d.size)
}

func (c *docCache) drop(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.remove(id)
}

// remove forgets id; c.mu is held.
func (c *docCache) remove(id string) {
	e, ok := c.m[id]
	if !ok {
		return
	}
	c.bytes -= int64(e.Value.(*cacheEntry).size)
	c.order.Remove(e)
	delete(c.m, id)
}

func (c *docCache) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.order.Init()
	c.bytes = 0
}

// usage is how many documents and bytes c holds.
func (c *docCache) usage() (docs int, bytes int64) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len(), c.bytes
}
