package redisview

import (
	"fmt"
	"testing"
)

// fieldIndex finds every field it was told of, by scanning or, past
// fieldsScanned fields, in its map, and no other.
func TestFieldIndex(t *testing.T) {
	for _, n := range []int{0, 1, fieldsScanned - 1, fieldsScanned, fieldsScanned + 1, 3 * fieldsScanned} {
		var at fieldIndex
		var pairs []any
		for i := range n {
			name := fmt.Sprint("f", i)
			if j := at.find(pairs, name); j >= 0 {
				t.Fatalf("%d fields: %s found at %d before it was added", n, name, j)
			}
			at.add(pairs, name, len(pairs))
			pairs = append(pairs, name, "v")
		}
		for i := range n {
			if j := at.find(pairs, fmt.Sprint("f", i)); j != 2*i {
				t.Fatalf("%d fields: f%d at %d; want %d", n, i, j, 2*i)
			}
		}
		if j := at.find(pairs, "absent"); j != -1 {
			t.Fatalf("%d fields: absent found at %d", n, j)
		}
		if (at != nil) != (n > fieldsScanned) {
			t.Errorf("%d fields: map made %v; want it past %d fields only", n, at != nil, fieldsScanned)
		}
	}
}
