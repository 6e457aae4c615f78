package productview

import (
	"strconv"
	"testing"
)

// The hints start again when a new product would pass maxJoinHints, not
// when a product already remembered changes its records.
func TestJoinHintsBound(t *testing.T) {
	var h joinHints
	for i := range maxJoinHints {
		h.put(strconv.Itoa(i), joinKeys{category: "category:a"})
	}
	h.put("7", joinKeys{category: "category:b"})
	if len(h.m) != maxJoinHints {
		t.Fatalf("after a known product changed: %d remembered, want %d", len(h.m), maxJoinHints)
	}
	if k, ok := h.get("7"); !ok || k.category != "category:b" {
		t.Fatalf("get(7) = %+v, %v; want category:b", k, ok)
	}
	h.put("new", joinKeys{brand: "brand:x"})
	if len(h.m) != 1 {
		t.Fatalf("after a new product past the bound: %d remembered, want 1 (started again)", len(h.m))
	}
	h.forget("new")
	if _, ok := h.get("new"); ok {
		t.Fatal("forget kept the product")
	}
}
