package productsearch

import (
	"cmp"
	"slices"
	"strings"
)

// TermFacet counts one term facet (category or brand) for an index that
// cannot label and order buckets itself: how many products have each value
// and, per value, how many carry each label. Buckets turns the counts into
// the buckets Facets describes. The zero TermFacet is empty and ready.
type TermFacet struct {
	values map[string]*termCount
}

type termCount struct {
	count  int64
	labels map[string]int64
}

// Add counts n products that have value and call it label.
func (f *TermFacet) Add(value, label string, n int64) {
	if f.values == nil {
		f.values = map[string]*termCount{}
	}
	c := f.values[value]
	if c == nil {
		c = &termCount{labels: map[string]int64{}}
		f.values[value] = c
	}
	c.count += n
	c.labels[label] += n
}

// Buckets returns the facet's buckets, never nil: each value labelled by the
// label most of its products carry (ties: the smallest), the largest counts
// first (ties by value), at most MaxFacetValues of them.
func (f *TermFacet) Buckets() []Bucket {
	out := make([]Bucket, 0, len(f.values))
	for v, c := range f.values {
		label, best := "", int64(-1)
		for l, n := range c.labels {
			if n > best || (n == best && l < label) {
				label, best = l, n
			}
		}
		out = append(out, Bucket{Value: v, Label: label, Count: c.count})
	}
	slices.SortFunc(out, func(a, b Bucket) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	return out[:min(len(out), MaxFacetValues)]
}
