package esindex_test

import (
	"slices"
	"testing"

	"github.com/streamview/streamview/processors/productsearch/indextest"
	"github.com/streamview/streamview/sinks/esindex"
)

// Generations lists the generation indices, behind the alias or not;
// ResetIndex empties one and keeps the alias on it.
func TestGenerationsAndResetIndex(t *testing.T) {
	c := client(t)
	ix := newIndex(t, c, esindex.Config{})
	ctx := t.Context()
	if err := ix.EnsureIndex(ctx, 3); err != nil {
		t.Fatal(err)
	}
	gens, err := ix.Generations(ctx)
	if err != nil || !slices.Equal(gens, []int{1, 3}) {
		t.Fatalf("Generations = %v, %v; want [1 3]", gens, err)
	}
	events := indextest.Catalogue()
	if err := ix.Apply(ctx, events); err != nil {
		t.Fatal(err)
	}
	refresh(t, ix)
	if n, err := ix.Count(ctx); err != nil || n == 0 {
		t.Fatalf("Count = %d, %v before the reset", n, err)
	}
	if err := ix.ResetIndex(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if gen, err := ix.LiveGeneration(ctx); err != nil || gen != 1 {
		t.Fatalf("LiveGeneration = %d, %v after the reset; want 1", gen, err)
	}
	if n, err := ix.Count(ctx); err != nil || n != 0 {
		t.Fatalf("Count = %d, %v after the reset; want 0", n, err)
	}
	// Writes go on after the reset (the write cache was dropped with it).
	if err := ix.Apply(ctx, events); err != nil {
		t.Fatal(err)
	}
	refresh(t, ix)
	if n, err := ix.Count(ctx); err != nil || n == 0 {
		t.Fatalf("Count = %d, %v after writing again", n, err)
	}
}
