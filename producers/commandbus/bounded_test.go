package commandbus

import (
	"fmt"
	"testing"
)

func TestBounded(t *testing.T) {
	b := newBounded[int](3)
	for i := range 5 {
		b.put(fmt.Sprint(i), i)
	}
	for i, want := range []bool{false, false, true, true, true} {
		if _, ok := b.get(fmt.Sprint(i)); ok != want {
			t.Errorf("key %d present %v, want %v", i, ok, want)
		}
	}
	// Overwriting makes a key the newest.
	b.put("2", 20)
	b.put("5", 5)
	if _, ok := b.get("3"); ok {
		t.Error("3 should be the oldest and gone")
	}
	if v, ok := b.get("2"); !ok || v != 20 {
		t.Errorf("2 = %v, %v; want 20", v, ok)
	}
	b.delete("2")
	if b.len() != 2 {
		t.Errorf("len %d after delete, want 2", b.len())
	}

	// Overwrites and deletes do not grow the queue without bound.
	c := newBounded[int](10)
	for i := range 100_000 {
		c.put(fmt.Sprint(i%5), i)
		if i%7 == 0 {
			c.delete(fmt.Sprint(i % 5))
		}
	}
	if n := len(c.q) - c.head; n > 2*c.len()+64 {
		t.Errorf("queue holds %d entries for %d keys", n, c.len())
	}
}

func TestBoundedBytes(t *testing.T) {
	b := newBoundedBytes(10, func(_ string, v int) int64 { return int64(v) })
	b.put("a", 4)
	b.put("b", 4)
	b.put("a", 2) // overwrite: counted once, and the newest
	if b.bytes != 6 {
		t.Errorf("bytes %d, want 6", b.bytes)
	}
	b.put("c", 5) // 11 > 10: b, the oldest, goes
	if _, ok := b.get("b"); ok || b.bytes != 7 || b.len() != 2 {
		t.Errorf("after c: b present %v, bytes %d, len %d; want b gone, 7, 2", ok, b.bytes, b.len())
	}
	b.delete("a")
	b.delete("nothing")
	if b.bytes != 5 {
		t.Errorf("bytes %d after delete, want 5", b.bytes)
	}
	b.put("big", 11) // heavier than the budget: nothing is kept
	if b.len() != 0 || b.bytes != 0 {
		t.Errorf("len %d, bytes %d after an entry over the budget; want 0, 0", b.len(), b.bytes)
	}
}

// A full map evicts its oldest entry at every put; the queue of insertions
// stays within a small multiple of the entries (it kept every insertion
// ever made, 24 bytes each, and copied them all at each growth).
func TestBoundedQueueStaysBoundedWhenFull(t *testing.T) {
	b := newBounded[int](1000)
	for i := range 100_000 {
		b.put(fmt.Sprint(i), i)
		if len(b.q) > 2*b.len()+64 {
			t.Fatalf("after %d puts the queue holds %d insertions (head %d) for %d entries", i+1, len(b.q), b.head, b.len())
		}
	}
}
