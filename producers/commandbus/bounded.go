package commandbus

import "math"

// bounded is a map that keeps at most max entries, and entries of at most
// maxBytes together as measured by size, forgetting the oldest insertion
// first. Overwriting a key makes it the newest. Not safe for concurrent
// use.
type bounded[V any] struct {
	max int
	m   map[string]slot[V]

	maxBytes, bytes int64
	size            func(string, V) int64 // nil: entries weigh nothing
	q               []queued              // insertion order; entries whose seq no longer matches are stale
	head            int
	seq             uint64
}

type slot[V any] struct {
	v   V
	seq uint64
}

type queued struct {
	key string
	seq uint64
}

func newBounded[V any](max int) *bounded[V] {
	return &bounded[V]{max: max, m: make(map[string]slot[V])}
}

// newBoundedBytes returns a bounded map of entries that weigh
// size(key, value) bytes together at most maxBytes.
func newBoundedBytes[V any](maxBytes int64, size func(string, V) int64) *bounded[V] {
	return &bounded[V]{max: math.MaxInt, m: make(map[string]slot[V]), maxBytes: maxBytes, size: size}
}

func (b *bounded[V]) weigh(k string, v V) int64 {
	if b.size == nil {
		return 0
	}
	return b.size(k, v)
}

func (b *bounded[V]) get(k string) (V, bool) {
	s, ok := b.m[k]
	return s.v, ok
}

func (b *bounded[V]) put(k string, v V) {
	if old, ok := b.m[k]; ok {
		b.bytes -= b.weigh(k, old.v)
	}
	b.seq++
	b.m[k] = slot[V]{v: v, seq: b.seq}
	b.bytes += b.weigh(k, v)
	b.q = append(b.q, queued{key: k, seq: b.seq})
	for (len(b.m) > b.max || (b.size != nil && b.bytes > b.maxBytes)) && b.head < len(b.q) {
		e := b.q[b.head]
		b.q[b.head] = queued{}
		b.head++
		if s, ok := b.m[e.key]; ok && s.seq == e.seq {
			b.bytes -= b.weigh(e.key, s.v)
			delete(b.m, e.key)
		}
	}
	b.compact()
}

func (b *bounded[V]) delete(k string) {
	if old, ok := b.m[k]; ok {
		b.bytes -= b.weigh(k, old.v)
		delete(b.m, k)
	}
	b.compact()
}

func (b *bounded[V]) len() int { return len(b.m) }

// compact drops the consumed head and stale entries once they outnumber
// the live ones, so that neither overwrites and deletes nor evictions
// grow q without bound: the consumed head counts, or a full map, whose
// every put evicts the oldest, would keep it (and copy it on every
// growth) for good (helper 91).
func (b *bounded[V]) compact() {
	if len(b.q) <= 2*len(b.m)+64 {
		return
	}
	live := make([]queued, 0, len(b.m))
	for _, e := range b.q[b.head:] {
		if s, ok := b.m[e.key]; ok && s.seq == e.seq {
			live = append(live, e)
		}
	}
	b.q, b.head = live, 0
}
