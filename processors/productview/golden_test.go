package productview_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the pure Fold")

func marshalViews(t *testing.T, views map[string]productview.View) []byte {
	t.Helper()
	ids := make([]string, 0, len(views))
	for id := range views {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	list := make([]productview.View, len(ids))
	for i, id := range ids {
		list[i] = views[id]
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestGolden folds each testdata/<name>.jsonl stream with Fold and compares
// the views with testdata/<name>.golden.json; then it applies the same
// stream through Writer and the store (in batches of 3, the whole stream
// twice more as redeliveries) and compares what Reader returns with the same
// file.
func TestGolden(t *testing.T) {
	streams, err := filepath.Glob("testdata/*.jsonl")
	if err != nil || len(streams) == 0 {
		t.Fatalf("no testdata/*.jsonl: %v", err)
	}
	for _, path := range streams {
		name := strings.TrimSuffix(filepath.Base(path), ".jsonl")
		golden := filepath.Join("testdata", name+".golden.json")
		t.Run(name, func(t *testing.T) {
			events, err := readEvents(path)
			if err != nil {
				t.Fatal(err)
			}
			views := foldAll(events)
			got := marshalViews(t, views)
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("Fold of %s differs from %s (run with -update after checking):\n got: %s\nwant: %s", path, golden, got, want)
			}

			redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
				ctx := context.Background()
				store := redistest.NewStore(t, c)
				p, err := productview.NewWriter(store, 1)
				if err != nil {
					t.Fatal(err)
				}
				for range 3 {
					for b := range slices.Chunk(events, 3) {
						if err := p.Apply(ctx, b); err != nil {
							t.Fatal(err)
						}
					}
				}
				if err := store.SetLive(ctx, 1); err != nil {
					t.Fatal(err)
				}
				r := productview.NewReader(store)
				stored := make(map[string]productview.View)
				for id := range views {
					v, ok, err := r.Get(ctx, id)
					if err != nil || !ok {
						t.Fatalf("Get(%s) = found %v, %v", id, ok, err)
					}
					stored[id] = v
				}
				if got := marshalViews(t, stored); !bytes.Equal(got, want) {
					t.Fatalf("views from the store differ from %s:\n got: %s\nwant: %s", golden, got, want)
				}
				if n, err := store.Count(ctx, 1); err != nil || n != len(views) {
					t.Fatalf("Count = %d, %v; want %d", n, err, len(views))
				}
			})
		})
	}
}
