package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"

	"github.com/streamview/streamview/processors/productview"
)

// Store is what the suite tests: the port, productview.Store, and the
// generation management that rebuilds and tests use besides.
type Store interface {
	productview.Store
	SetLive(ctx context.Context, gen int) error
	EnsureLive(ctx context.Context, gen int) (int, error)
	Live(ctx context.Context) (int, error)
	Count(ctx context.Context, gen int) (int, error)
	Clear(ctx context.Context, gen int) (int, error)
}

// Backend makes the stores the suite runs on.
type Backend interface {
	// New returns a fresh, empty store of a projection of its own.
	New(t *testing.T) Store
	// Refuse makes s refuse document id of generation gen for good, the
	// way the store refuses a document it cannot hold (for Redis: a key of
	// another type where the document's hash goes).
	Refuse(t *testing.T, s Store, gen int, id string)
}

// Run runs the contract suite, one subtest per case, each on a fresh, empty
// store from b.
func Run(t *testing.T, b Backend) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, b.New(t)) })
	}
	t.Run("RefusedDocumentNamedRestApplied", func(t *testing.T) { testRefused(t, b) })
	t.Run("RefusedEventDeadLettered", func(t *testing.T) { testRefusedDeadLettered(t, b) })
}

var cases = []struct {
	name string
	run  func(t *testing.T, s Store)
}{
	{"Apply", testApply},
	{"DuplicateSkippedAndCounted", testDuplicate},
	{"OlderVersionSkipped", testOlder},
	{"DuplicatesWithinOneBatch", testWithinBatch},
	{"IncrementsExact", testIncrements},
	{"IncrementsOneChangePerCall", testIncrementsOneByOne},
	{"BatchOfManyDocuments", testManyDocuments},
	{"BurstOfOneDocument", testBurst},
	{"ManyEventsOfOneProductSomeInvalid", testMixedInvalid},
	{"FoldedWritePartlyRedelivered", testFoldedPartlyRedelivered},
	{"VersionsPast2To53", testHugeVersions},
	{"GenerationIsolation", testGenerations},
	{"LivePointer", testLive},
	{"ClearOnlyThatGeneration", testClear},
	{"UnknownNotFound", testUnknown},
	{"InvalidChangesRefusedWhole", testInvalid},
	{"EmptyBatch", testEmpty},
	{"ReferenceRecords", testReferenceRecords},
}

func set(kv ...string) []productview.Field {
	var fs []productview.Field
	for i := 0; i+1 < len(kv); i += 2 {
		fs = append(fs, productview.Field{Name: kv[i], Value: kv[i+1]})
	}
	return fs
}

func apply(t *testing.T, s Store, gen int, want productview.Result, changes ...productview.Change) {
	t.Helper()
	got, err := s.Apply(context.Background(), gen, changes)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if got != want {
		t.Fatalf("Apply = %+v, want %+v", got, want)
	}
}

func get(t *testing.T, s Store, gen int, id string) productview.Doc {
	t.Helper()
	d, ok, err := s.GetAt(context.Background(), gen, id)
	if err != nil || !ok {
		t.Fatalf("GetAt(%d, %q) = found %v, %v; want found", gen, id, ok, err)
	}
	return d
}

func wantDoc(t *testing.T, d productview.Doc, version int64, kv ...string) {
	t.Helper()
	want := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		want[kv[i]] = kv[i+1]
	}
	if d.Version != version || fmt.Sprint(d.Fields) != fmt.Sprint(want) {
		t.Fatalf("doc %q = version %d %v, want version %d %v", d.ID, d.Version, d.Fields, version, want)
	}
}

func testApply(t *testing.T, s Store) {
	apply(t, s, 1, productview.Result{Applied: 1}, productview.Change{
		ID: "p1", Version: 1,
		Set:  set("name", "Kettle", "empty", "", "unicode", "Grüße ☕"),
		Incr: []productview.Incr{{Name: "count", By: 2}},
	})
	d := get(t, s, 1, "p1")
	if d.ID != "p1" || d.Generation != 1 {
		t.Errorf("doc = %q g%d, want p1 g1", d.ID, d.Generation)
	}
	wantDoc(t, d, 1, "name", "Kettle", "empty", "", "unicode", "Grüße ☕", "count", "2")

	apply(t, s, 1, productview.Result{Applied: 1}, productview.Change{ID: "p1", Version: 2, Set: set("name", "Teapot")})
	wantDoc(t, get(t, s, 1, "p1"), 2, "name", "Teapot", "empty", "", "unicode", "Grüße ☕", "count", "2")
}

func testDuplicate(t *testing.T, s Store) {
	c := productview.Change{ID: "p1", Version: 1, Set: set("name", "a"), Incr: []productview.Incr{{Name: "n", By: 1}}}
	apply(t, s, 1, productview.Result{Applied: 1}, c)
	apply(t, s, 1, productview.Result{Duplicates: 1}, c)
	// A redelivery is skipped by version alone, whatever it carries.
	apply(t, s, 1, productview.Result{Duplicates: 1}, productview.Change{ID: "p1", Version: 1, Set: set("name", "b")})
	wantDoc(t, get(t, s, 1, "p1"), 1, "name", "a", "n", "1")
}

func testOlder(t *testing.T, s Store) {
	apply(t, s, 1, productview.Result{Applied: 1}, productview.Change{ID: "p1", Version: 3, Set: set("name", "v3")})
	apply(t, s, 1, productview.Result{Duplicates: 2},
		productview.Change{ID: "p1", Version: 2, Set: set("name", "v2"), Incr: []productview.Incr{{Name: "n", By: 5}}},
		productview.Change{ID: "p1", Version: 1, Set: set("name", "v1", "other", "x")},
	)
	wantDoc(t, get(t, s, 1, "p1"), 3, "name", "v3")
}

func testWithinBatch(t *testing.T, s Store) {
	inc := func(v int64) productview.Change {
		return productview.Change{ID: "p1", Version: v, Set: set("last", strconv.FormatInt(v, 10)), Incr: []productview.Incr{{Name: "n", By: v}}}
	}
	// A crash mid-batch replays its start: 1 and 2 come again inside the batch.
	apply(t, s, 1, productview.Result{Applied: 3, Duplicates: 3}, inc(1), inc(2), inc(1), inc(2), inc(3), inc(3))
	wantDoc(t, get(t, s, 1, "p1"), 3, "last", "3", "n", "6")
}

func testIncrements(t *testing.T, s Store) {
	var batch []productview.Change
	var sum int64
	for v := int64(1); v <= 200; v++ {
		by := v%5 + 1
		if v%7 == 0 {
			by = -3
		}
		sum += by
		batch = append(batch, productview.Change{ID: "p1", Version: v, Incr: []productview.Incr{{Name: "count", By: 1}, {Name: "sum", By: by}}})
	}
	apply(t, s, 1, productview.Result{Applied: 100}, batch[:100]...)
	apply(t, s, 1, productview.Result{Applied: 100, Duplicates: 50}, batch[50:]...)
	apply(t, s, 1, productview.Result{Duplicates: 200}, batch...)
	wantDoc(t, get(t, s, 1, "p1"), 200, "count", "200", "sum", strconv.FormatInt(sum, 10))
}

// Counters of changes applied one per Apply, with values around and past
// 2^53 where a float would round, stay exact.
func testIncrementsOneByOne(t *testing.T, s Store) {
	steps := []int64{1, -3, 1<<53 - 2, 1, 1, 1, 1 << 62, -(1 << 62), -(1 << 53), 7, -9}
	var sum int64
	for i, by := range steps {
		v := int64(i + 1)
		sum += by
		c := productview.Change{ID: "p1", Version: v, Set: set("last", strconv.FormatInt(v, 10)),
			Incr: []productview.Incr{{Name: "count", By: 1}, {Name: "sum", By: by}}}
		apply(t, s, 1, productview.Result{Applied: 1}, c)
		apply(t, s, 1, productview.Result{Duplicates: 1}, c)
		wantDoc(t, get(t, s, 1, "p1"), v, "count", strconv.FormatInt(v, 10), "sum", strconv.FormatInt(sum, 10), "last", strconv.FormatInt(v, 10))
	}
}

func testManyDocuments(t *testing.T, s Store) {
	const docs, perDoc = 300, 4
	var batch []productview.Change
	for v := int64(1); v <= perDoc; v++ { // interleaved: every document's v1, then every v2 …
		for i := range docs {
			batch = append(batch, productview.Change{
				ID: fmt.Sprintf("doc-%03d", i), Version: v,
				Set:  set("v", strconv.FormatInt(v, 10)),
				Incr: []productview.Incr{{Name: "n", By: int64(i)}},
			})
		}
	}
	apply(t, s, 1, productview.Result{Applied: docs * perDoc}, batch...)
	apply(t, s, 1, productview.Result{Duplicates: docs * perDoc}, batch...)
	for i := range docs {
		wantDoc(t, get(t, s, 1, fmt.Sprintf("doc-%03d", i)), perDoc, "v", "4", "n", strconv.Itoa(i*perDoc))
	}
	if n, err := s.Count(context.Background(), 1); err != nil || n != docs {
		t.Fatalf("Count = %d, %v; want %d", n, err, docs)
	}
}

func testHugeVersions(t *testing.T, s Store) {
	const big = int64(1) << 60 // 2^60 and 2^60+1 are the same float64
	apply(t, s, 1, productview.Result{Applied: 1}, productview.Change{ID: "p1", Version: big, Set: set("v", "a")})
	apply(t, s, 1, productview.Result{Applied: 1}, productview.Change{ID: "p1", Version: big + 1, Set: set("v", "b")})
	apply(t, s, 1, productview.Result{Duplicates: 1}, productview.Change{ID: "p1", Version: big, Set: set("v", "c")})
	apply(t, s, 1, productview.Result{Duplicates: 1}, productview.Change{ID: "p1", Version: 9, Set: set("v", "d")})
	wantDoc(t, get(t, s, 1, "p1"), big+1, "v", "b")
}

func testGenerations(t *testing.T, s Store) {
	apply(t, s, 1, productview.Result{Applied: 1}, productview.Change{ID: "p1", Version: 5, Set: set("g", "1")})
	// The same version in another generation is new there.
	apply(t, s, 2, productview.Result{Applied: 1}, productview.Change{ID: "p1", Version: 5, Set: set("g", "2")})
	apply(t, s, 2, productview.Result{Applied: 1}, productview.Change{ID: "p2", Version: 1, Set: set("g", "2")})
	wantDoc(t, get(t, s, 1, "p1"), 5, "g", "1")
	wantDoc(t, get(t, s, 2, "p1"), 5, "g", "2")
	if _, ok, err := s.GetAt(context.Background(), 1, "p2"); ok || err != nil {
		t.Fatalf("GetAt(1, p2) = found %v, %v; want not found", ok, err)
	}
	for gen, want := range map[int]int{1: 1, 2: 2, 3: 0} {
		if n, err := s.Count(context.Background(), gen); err != nil || n != want {
			t.Errorf("Count(%d) = %d, %v; want %d", gen, n, err, want)
		}
	}
	if _, err := s.Apply(context.Background(), 0, nil); !errors.Is(err, productview.ErrGeneration) {
		t.Errorf("Apply(gen 0) = %v, want ErrGeneration", err)
	}
}

func testLive(t *testing.T, s Store) {
	ctx := context.Background()
	if _, err := s.Live(ctx); !errors.Is(err, productview.ErrNoLive) {
		t.Fatalf("Live before any = %v, want ErrNoLive", err)
	}
	if _, _, err := s.Get(ctx, "p1"); !errors.Is(err, productview.ErrNoLive) {
		t.Fatalf("Get before any live = %v, want ErrNoLive", err)
	}
	apply(t, s, 1, productview.Result{Applied: 1}, productview.Change{ID: "p1", Version: 1, Set: set("g", "1")})
	apply(t, s, 2, productview.Result{Applied: 1}, productview.Change{ID: "p1", Version: 1, Set: set("g", "2")})

	if g, err := s.EnsureLive(ctx, 1); err != nil || g != 1 {
		t.Fatalf("EnsureLive(1) = %d, %v; want 1", g, err)
	}
	if g, err := s.EnsureLive(ctx, 2); err != nil || g != 1 {
		t.Fatalf("EnsureLive(2) with 1 live = %d, %v; want 1", g, err)
	}
	d, ok, err := s.Get(ctx, "p1")
	if err != nil || !ok || d.Generation != 1 {
		t.Fatalf("Get = g%d found %v, %v; want g1", d.Generation, ok, err)
	}
	wantDoc(t, d, 1, "g", "1")

	if err := s.SetLive(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if g, err := s.Live(ctx); err != nil || g != 2 {
		t.Fatalf("Live = %d, %v; want 2", g, err)
	}
	d, ok, err = s.Get(ctx, "p1")
	if err != nil || !ok || d.Generation != 2 {
		t.Fatalf("Get = g%d found %v, %v; want g2", d.Generation, ok, err)
	}
	wantDoc(t, d, 1, "g", "2")
	if _, ok, err := s.Get(ctx, "p2"); ok || err != nil {
		t.Fatalf("Get(unknown) = found %v, %v; want not found", ok, err)
	}
	if err := s.SetLive(ctx, 0); !errors.Is(err, productview.ErrGeneration) {
		t.Fatalf("SetLive(0) = %v, want ErrGeneration", err)
	}
}

func testClear(t *testing.T, s Store) {
	ctx := context.Background()
	// Generation 10 shares the text "g1" with generation 1: Clear(1) must spare it.
	for _, gen := range []int{1, 2, 10} {
		var batch []productview.Change
		for i := range 1200 {
			batch = append(batch, productview.Change{ID: fmt.Sprintf("p%d", i), Version: 1, Set: set("g", strconv.Itoa(gen))})
		}
		apply(t, s, gen, productview.Result{Applied: len(batch)}, batch...)
	}
	if err := s.SetLive(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Clear(ctx, 1); err != nil || n != 1200 {
		t.Fatalf("Clear(1) = %d, %v; want 1200", n, err)
	}
	for gen, want := range map[int]int{1: 0, 2: 1200, 10: 1200} {
		if n, err := s.Count(ctx, gen); err != nil || n != want {
			t.Errorf("Count(%d) after Clear(1) = %d, %v; want %d", gen, n, err, want)
		}
	}
	if g, err := s.Live(ctx); err != nil || g != 1 {
		t.Errorf("Live after Clear(1) = %d, %v; want 1 (the pointer is not cleared)", g, err)
	}
	if _, ok, err := s.Get(ctx, "p1"); ok || err != nil {
		t.Errorf("Get(p1) after Clear of live = found %v, %v; want not found", ok, err)
	}
	wantDoc(t, get(t, s, 2, "p1"), 1, "g", "2")
	// A cleared generation takes every version again: what a replay needs.
	apply(t, s, 1, productview.Result{Applied: 1}, productview.Change{ID: "p1", Version: 1, Set: set("g", "1")})
	if n, err := s.Clear(ctx, 3); err != nil || n != 0 {
		t.Errorf("Clear(empty generation) = %d, %v; want 0", n, err)
	}
}

func testUnknown(t *testing.T, s Store) {
	for _, id := range []string{"nope", "", "a{b}"} {
		if d, ok, err := s.GetAt(context.Background(), 1, id); ok || err != nil {
			t.Errorf("GetAt(1, %q) = %+v found %v, %v; want not found", id, d, ok, err)
		}
	}
}

func testInvalid(t *testing.T, s Store) {
	good := productview.Change{ID: "p1", Version: 1, Set: set("name", "a")}
	for _, bad := range []productview.Change{
		{ID: "", Version: 1},
		{ID: "a{b}", Version: 1},
		{ID: "p2", Version: 0},
		{ID: "p2", Version: -4},
		{ID: "p2", Version: 1, Set: set("", "x")},
		{ID: "p2", Version: 1, Set: set(productview.VersionField, "9")},
		{ID: "p2", Version: 1, Incr: []productview.Incr{{Name: productview.VersionField, By: 1}}},
	} {
		res, err := s.Apply(context.Background(), 1, []productview.Change{good, bad})
		if !errors.Is(err, productview.ErrInvalidChange) || res != (productview.Result{}) {
			t.Errorf("Apply(good, %+v) = %+v, %v; want ErrInvalidChange", bad, res, err)
		}
	}
	if _, ok, _ := s.GetAt(context.Background(), 1, "p1"); ok {
		t.Errorf("a batch with an invalid change wrote its valid one")
	}
}

func testEmpty(t *testing.T, s Store) {
	apply(t, s, 1, productview.Result{})
	if n, err := s.Count(context.Background(), 1); err != nil || n != 0 {
		t.Errorf("Count = %d, %v; want 0", n, err)
	}
}
