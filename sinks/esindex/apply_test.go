package esindex_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/streamview/streamview/internal/backoff"
	"github.com/streamview/streamview/processors/batch"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/esindex"
)

func created(id string, version int64, name string) schemas.Event {
	return schemas.Event{ID: id + "-1", AggregateType: schemas.AggregateProduct, AggregateID: id, Version: version,
		Timestamp: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		Data:      &schemas.ProductCreated{Name: name, Price: schemas.Money{Amount: 100, Currency: "EUR"}, Stock: 1}}
}

func stock(id string, version, q int64) schemas.Event {
	return schemas.Event{ID: id, AggregateType: schemas.AggregateProduct, AggregateID: id, Version: version,
		Timestamp: time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC), Data: &schemas.ProductStockChanged{Quantity: q}}
}

func fakeIndex(t *testing.T, c *elasticsearch.Client) *esindex.Index {
	t.Helper()
	ix, err := esindex.New(c, esindex.Config{IndexPrefix: "t", Alias: "t-read", Retry: backoff.Policy{Min: time.Millisecond}, MaxRounds: 4})
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func TestApplyWritesNewAndChangedDocuments(t *testing.T) {
	f, c := newFake(t)
	ix := fakeIndex(t, c)
	ctx := t.Context()
	if err := ix.Apply(ctx, []schemas.Event{created("a", 1, "A"), created("b", 1, "B"), stock("a", 2, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := ix.Apply(ctx, []schemas.Event{created("a", 1, "A"), stock("a", 2, 0), stock("b", 2, 5)}); err != nil {
		t.Fatal(err)
	}
	a, _ := f.stored("a")
	b, _ := f.stored("b")
	if a["inStock"] != false || a["version"] != 2.0 || b["stock"] != 5.0 || b["version"] != 2.0 {
		t.Fatalf("stored a=%v b=%v", a, b)
	}
	st := ix.Stats()
	if st.Writes != 3 || st.Duplicates != 2 || st.Applied != 4 || st.Bulks != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestApplyRefoldsOnConflict(t *testing.T) {
	f, c := newFake(t)
	ix := fakeIndex(t, c)
	ctx := t.Context()
	if err := ix.Apply(ctx, []schemas.Event{created("a", 1, "A")}); err != nil {
		t.Fatal(err)
	}
	// Someone writes "a" between our read and our write, once.
	f.item = func(id string, attempt int, _ []byte) (int, string) {
		if attempt == 2 { // the fake holds its lock while it calls item
			d := f.docs[id]
			f.seq++
			d.seq = f.seq
			f.docs[id] = d
		}
		return 0, ""
	}
	if err := ix.Apply(ctx, []schemas.Event{stock("a", 2, 7)}); err != nil {
		t.Fatal(err)
	}
	if a, _ := f.stored("a"); a["stock"] != 7.0 {
		t.Fatalf("stored %v", a)
	}
	// The first Apply takes "a" to be new (no read); the second folds from
	// the cache, conflicts and reads again.
	if st := ix.Stats(); st.Conflicts != 1 || st.Mgets != 1 || st.CacheHits != 1 || st.NewGuesses != 1 {
		t.Fatalf("stats %+v: want one conflict, re-read", st)
	}
}

// TestApplyStoreEmptiedBehindItsBack checks that the cache never makes
// Apply skip what the store lacks: a replay into an emptied store rebuilds
// the documents, whatever the cache remembers.
func TestApplyStoreEmptiedBehindItsBack(t *testing.T) {
	f, c := newFake(t)
	ix := fakeIndex(t, c)
	batch := []schemas.Event{created("a", 1, "A"), stock("a", 2, 4), created("b", 1, "B")}
	if err := ix.Apply(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	clear(f.docs)
	f.mu.Unlock()
	// a: all duplicates by the cache, so confirmed by a read; b: newer than
	// the cache, so written conditionally, which conflicts and re-reads.
	if err := ix.Apply(t.Context(), []schemas.Event{created("a", 1, "A"), stock("a", 2, 4), created("b", 1, "B"), stock("b", 2, 6)}); err != nil {
		t.Fatal(err)
	}
	a, okA := f.stored("a")
	b, okB := f.stored("b")
	if !okA || !okB || a["stock"] != 4.0 || b["stock"] != 6.0 {
		t.Fatalf("after the replay a=%v b=%v", a, b)
	}
}

func TestApplyResendsThrottledItems(t *testing.T) {
	f, c := newFake(t)
	ix := fakeIndex(t, c)
	f.item = func(id string, attempt int, _ []byte) (int, string) {
		if id == "a" && attempt <= 2 {
			return 429, "es_rejected_execution_exception"
		}
		if id == "b" && attempt == 1 {
			return 503, "unavailable_shards_exception"
		}
		if id == "c" && attempt == 1 { // index.blocks.write, lifted since
			return 403, "cluster_block_exception"
		}
		if id == "d" && attempt == 1 { // privileges, granted since
			return 403, "security_exception"
		}
		return 0, ""
	}
	if err := ix.Apply(t.Context(), []schemas.Event{created("a", 1, "A"), created("b", 1, "B"), created("c", 1, "C"), created("d", 1, "D")}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		if _, ok := f.stored(id); !ok {
			t.Fatalf("%s not stored", id)
		}
	}
	if st := ix.Stats(); st.Throttled != 5 || st.Writes != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestApplyGivesUpOnEndlessConflicts(t *testing.T) {
	f, c := newFake(t)
	ix := fakeIndex(t, c)
	f.item = func(string, int, []byte) (int, string) { return 409, "version_conflict_engine_exception" }
	err := ix.Apply(t.Context(), []schemas.Event{created("a", 1, "A")})
	if err == nil || batch.IsPermanent(err) {
		t.Fatalf("Apply = %v, want a retryable error", err)
	}
}

func TestApplyRejectedDocumentIsPermanent(t *testing.T) {
	f, c := newFake(t)
	ix := fakeIndex(t, c)
	f.item = func(id string, _ int, _ []byte) (int, string) {
		if id == "bad" {
			return 400, "document_parsing_exception"
		}
		return 0, ""
	}
	err := ix.Apply(t.Context(), []schemas.Event{created("ok", 1, "fine"), created("bad", 1, "broken")})
	if !slices.Equal(batch.PermanentAt(err), []int{1}) ||
		!strings.Contains(err.Error(), "bad") || !strings.Contains(err.Error(), "document_parsing_exception") {
		t.Fatalf("Apply = %v, want event 1 named as permanent naming product bad", err)
	}
	if _, ok := f.stored("ok"); !ok {
		t.Fatal("the good document of the batch was not written")
	}
}

// TestApplyIsolatesTheRejectedEvent checks that of a product's events in a
// batch, exactly the one that makes its document unacceptable is reported,
// and the ones before it are stored.
func TestApplyIsolatesTheRejectedEvent(t *testing.T) {
	f, c := newFake(t)
	ix := fakeIndex(t, c)
	f.item = func(_ string, _ int, source []byte) (int, string) {
		if strings.Contains(string(source), "poison") {
			return 400, "document_parsing_exception"
		}
		return 0, ""
	}
	poison := "poison"
	events := []schemas.Event{
		created("other", 1, "Other"),
		created("a", 1, "A"),
		stock("a", 2, 3),
		{ID: "a-3", AggregateType: schemas.AggregateProduct, AggregateID: "a", Version: 3, Timestamp: time.Now(),
			Data: &schemas.ProductDetailsUpdated{Name: &poison}},
		stock("a", 4, 9),
	}
	err := ix.Apply(t.Context(), events)
	if !slices.Equal(batch.PermanentAt(err), []int{3}) {
		t.Fatalf("Apply = %v, want event 3 named as permanent", err)
	}
	if a, _ := f.stored("a"); a["version"] != 2.0 || a["stock"] != 3.0 {
		t.Fatalf("before the culprit: stored %v, want version 2", a)
	}
	// The runtime dead-letters event 3 and applies the rest again.
	rest := append(events[:3:3], events[4])
	if err := ix.Apply(t.Context(), rest); err != nil {
		t.Fatal(err)
	}
	if a, _ := f.stored("a"); a["version"] != 4.0 || a["stock"] != 9.0 || a["name"] != "A" {
		t.Fatalf("after the dead-letter: stored %v", a)
	}
}

func TestApplyUnencodableDocumentIsPermanent(t *testing.T) {
	_, c := newFake(t)
	ix := fakeIndex(t, c)
	e := created("a", 1, "A")
	e.Timestamp = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) // JSON has no year 10000
	err := ix.Apply(t.Context(), []schemas.Event{e})
	if !slices.Equal(batch.PermanentAt(err), []int{0}) {
		t.Fatalf("Apply = %v, want event 0 named as permanent", err)
	}
}

func TestApplyEventWithoutAggregateIsPermanent(t *testing.T) {
	f, c := newFake(t)
	ix := fakeIndex(t, c)
	err := ix.Apply(t.Context(), []schemas.Event{created("a", 1, "A"), created("", 1, "nameless")})
	if !slices.Equal(batch.PermanentAt(err), []int{1}) {
		t.Fatalf("Apply = %v, want event 1 permanent", err)
	}
	if _, ok := f.stored("a"); !ok {
		t.Fatal("the rest of the batch was not written")
	}
}

func TestApplyReturnsTransientErrorsAsIs(t *testing.T) {
	f, c := newFake(t)
	ix := fakeIndex(t, c)
	f.request = func(path string) int {
		if strings.HasSuffix(path, "/_bulk") {
			return 429
		}
		return 0
	}
	err := ix.Apply(t.Context(), []schemas.Event{created("a", 1, "A")})
	var re *esindex.ResponseError
	if !errors.As(err, &re) || re.Status != 429 || !re.Retryable() || batch.IsPermanent(err) {
		t.Fatalf("Apply = %v, want a retryable *ResponseError", err)
	}
	f.request = func(string) int { return 502 }
	err = ix.Apply(t.Context(), []schemas.Event{created("a", 1, "A")})
	if !errors.As(err, &re) || re.Status != 502 || !re.Retryable() {
		t.Fatalf("Apply = %v, want a retryable 502", err)
	}

	// Connection refused: a port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	down, _ := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{"http://" + addr}, DisableRetry: true})
	ix = fakeIndex(t, down)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err = ix.Apply(ctx, []schemas.Event{created("a", 1, "A")})
	if !errors.Is(err, syscall.ECONNREFUSED) || batch.IsPermanent(err) {
		t.Fatalf("Apply = %v, want connection refused", err)
	}
}

func TestBulkThresholds(t *testing.T) {
	f, c := newFake(t)
	ix, err := esindex.New(c, esindex.Config{IndexPrefix: "t", Alias: "t-read", BulkMaxDocs: 10, BulkMaxBytes: 2000})
	if err != nil {
		t.Fatal(err)
	}
	var batch []schemas.Event
	for i := range 25 {
		batch = append(batch, created(string(rune('a'+i)), 1, strings.Repeat("x", 10)))
	}
	if err := ix.Apply(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	// About 420 bytes a document: the byte threshold (2000) cuts first.
	if f.bulks < 5 {
		t.Fatalf("%d bulk requests for 25 documents of ~420 bytes under a 2000-byte threshold", f.bulks)
	}
	if st := ix.Stats(); st.Writes != 25 {
		t.Fatalf("stats %+v", st)
	}

	// A time threshold shorter than folding one document: one per request.
	f, c = newFake(t)
	ix, err = esindex.New(c, esindex.Config{IndexPrefix: "t", Alias: "t-read", BulkFlushInterval: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Apply(t.Context(), batch[:5]); err != nil {
		t.Fatal(err)
	}
	if f.bulks != 5 {
		t.Fatalf("%d bulk requests for 5 documents with a 1ns flush interval", f.bulks)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (esindex.Config{}).Validate(); err != nil {
		t.Fatalf("the zero Config: %v", err)
	}
	err := esindex.Config{IndexPrefix: "Bad*", Alias: "x-g1", Generation: -1, Currency: "eu", Refresh: "now", Shards: -1}.Validate()
	for _, want := range []string{"IndexPrefix", "Generation", "Currency", "Refresh", "Shards"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want it to name %s", err, want)
		}
	}
	if err := (esindex.Config{IndexPrefix: "x", Alias: "x-g1"}).Validate(); err == nil {
		t.Error("an alias named like a generation index passed")
	}
}

// A product the cache does not hold whose batch starts with its creation is
// taken to be new: written with op_type=create without an _mget. When the
// index holds it after all (a redelivery to a new process, a replay over a
// live index), the create conflicts and the next round reads it: the
// events it has are duplicates, the newer ones are written.
func TestApplyTakesACreationToBeNewAndChecksIt(t *testing.T) {
	f, c := newFake(t)
	ix := fakeIndex(t, c)
	ctx := t.Context()
	if err := ix.Apply(ctx, []schemas.Event{created("a", 1, "A"), stock("a", 2, 5), created("b", 1, "B")}); err != nil {
		t.Fatal(err)
	}
	if st := ix.Stats(); st.Mgets != 0 || st.NewGuesses != 2 || st.Writes != 2 || st.Conflicts != 0 {
		t.Fatalf("stats %+v: want two creates written without a read", st)
	}

	again := fakeIndex(t, c) // a new process: nothing cached
	if err := again.Apply(ctx, []schemas.Event{created("a", 1, "A"), stock("a", 2, 5), stock("a", 3, 7), created("b", 1, "B")}); err != nil {
		t.Fatal(err)
	}
	a, _ := f.stored("a")
	b, _ := f.stored("b")
	if a["version"] != 3.0 || a["stock"] != 7.0 || a["name"] != "A" || b["version"] != 1.0 {
		t.Fatalf("stored a=%v b=%v", a, b)
	}
	if st := again.Stats(); st.NewGuesses != 2 || st.Conflicts != 2 || st.Mgets != 1 || st.Duplicates != 3 || st.Applied != 1 || st.Writes != 1 {
		t.Fatalf("stats %+v: want both guesses to conflict, one read of both, a's v3 written and the rest duplicates", st)
	}
}
