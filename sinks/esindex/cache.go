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
type docCache struct {
	mu  sync.Mutex
	max int
	m   map[string]cachedDoc
}

type cachedDoc struct {
	doc         productsearch.Doc
	seqNo       int64
	primaryTerm int64
}

func newDocCache(max int) *docCache {
	if max <= 0 {
		return nil
	}
	return &docCache{max: max, m: make(map[string]cachedDoc)}
}

func (c *docCache) get(id string) (cachedDoc, bool) {
	if c == nil {
		return cachedDoc{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.m[id]
	return d, ok
}

func (c *docCache) put(id string, d cachedDoc) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; !ok && len(c.m) >= c.max {
		for k := range c.m { // an arbitrary victim: map order is random
			delete(c.m, k)
			break
		}
	}
	c.m[id] = d
}

func (c *docCache) drop(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

func (c *docCache) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}
