package rebuild_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productsearch/indextest"
	"github.com/streamview/streamview/processors/rebuild"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// renamesOf names every category and brand of events twice: version 1 and
// version 2 of each.
func renamesOf(events []schemas.Event) (v1, v2 []schemas.Event) {
	seen := map[string]bool{}
	at := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	add := func(typ, id string) {
		if id == "" || seen[typ+id] {
			return
		}
		seen[typ+id] = true
		for v := int64(1); v <= 2; v++ {
			var data schemas.EventData = &schemas.CategoryRenamed{Name: fmt.Sprintf("Renamedcat%sv%d", id, v)}
			if typ == schemas.AggregateBrand {
				data = &schemas.BrandRenamed{Name: fmt.Sprintf("Renamedbrand%sv%d", id, v)}
			}
			n := len(seen)*2 + int(v)
			e := schemas.Event{ID: fmt.Sprintf("00000000-0000-4000-9000-%012d", n), AggregateType: typ, AggregateID: id, Version: v, Timestamp: at, Data: data,
				Metadata: schemas.Metadata{CorrelationID: fmt.Sprintf("rename-%d", n), CausationID: fmt.Sprintf("00000000-0000-4000-a000-%012d", n)}}
			if v == 1 {
				v1 = append(v1, e)
			} else {
				v2 = append(v2, e)
			}
		}
	}
	for _, e := range events {
		if c, ok := e.Data.(*schemas.ProductCreated); ok {
			add(schemas.AggregateCategory, c.CategoryID)
			add(schemas.AggregateBrand, c.BrandID)
		}
	}
	return v1, v2
}

// publishRefs produces reference events one by one; the publisher keys
// them as the write side does (schemas.ReferenceKey), so that they land on
// other partitions than their products.
func (w *world) publishRefs(t testing.TB, events []schemas.Event) {
	t.Helper()
	for _, e := range events {
		r, err := w.pub.Record(e)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// The search projection's join of category and brand names survives a
// zero-downtime rebuild and a replay: each generation, built from the log,
// shows the newest names (documents, searches by the new names), whatever
// the order the renames and the products' own names come in.
func TestRebuildKeepsReferenceJoin(t *testing.T) {
	w := newWorld(t, testenv.Kafka(t))
	rc := redistest.RealRedis(t)
	ec := esClient(t)
	ctx := context.Background()

	products := eventgen.Stream(eventgen.Options{Products: 200, Events: 2000, Seed: 29, Discontinue: true})
	v1, v2 := renamesOf(products)
	w.publishRefs(t, v1) // renames before the categories' first products
	w.publish(t, products[:len(products)/2])
	w.publishRefs(t, v2)
	w.publish(t, products[len(products)/2:]) // products carrying the older names
	model := indextest.NewModel("EUR", slices.Concat(v1, v2, products))

	st, sg, sctl := search(t, ec, rc)
	w.cleanupGroups(t, st.Name())
	run := func(gen int) {
		t.Helper()
		proj, err := st.Projection(gen)
		if err != nil {
			t.Fatal(err)
		}
		p, err := processors.New(processors.Config{
			Name: st.Name(), Generation: gen, Topic: w.topic, DeadLetterTopic: w.dlq, MaxBatch: 1000, Aggregates: productsearch.Aggregates(),
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond,
		}, w.codec, proj, kgo.SeedBrokers(w.brokers...))
		if err != nil {
			t.Fatal(err)
		}
		stop := background(t, "search projector", p.Run)
		w.waitCommitted(t, processors.GroupName(st.Name(), gen), 5*time.Minute)
		stop()
		if s := p.Stats(); s.DeadLettered > 0 {
			t.Fatalf("generation %d dead-lettered %d records", gen, s.DeadLettered)
		}
	}
	check := func(what string, gen int) {
		t.Helper()
		ix, err := sg.Index(gen)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := ix.Get(ctx, keys(model.Docs)...)
		if err != nil {
			t.Fatal(err)
		}
		if bad := model.Mismatches(docs); len(bad) > 0 {
			t.Fatalf("%s: %d documents differ from the model, first %s", what, len(bad), bad[0])
		}
		if err := ix.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		for _, r := range model.Refs {
			q := productsearch.Query{Text: r.Name, Page: 1, PageSize: 1}
			want, _ := model.Search(q)
			res, err := ix.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if res.Total != int64(len(want)) || len(want) == 0 {
				t.Fatalf("%s: a search for %q finds %d products, want %d (and some)", what, r.Name, res.Total, len(want))
			}
		}
	}

	run(1)
	check("generation 1", 1)

	cfg := w.config()
	cfg.Aggregates = productsearch.Aggregates()
	cfg.Logger = testLogger(t)
	r, err := rebuild.New(cfg, st, sctl)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Run(ctx)
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	if !res.Swapped || res.To != 2 {
		t.Fatalf("rebuild = %+v; want swapped to generation 2", res)
	}
	check("rebuilt generation 2", 2)

	if _, err := rebuild.Replay(ctx, cfg, st, sctl, false); err != nil {
		t.Fatalf("replay: %v", err)
	}
	run(2)
	check("replayed generation 2", 2)
}
