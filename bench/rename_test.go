package bench_test

import (
	"context"
	"strings"
	"testing"

	"github.com/streamview/streamview/bench"
	"github.com/streamview/streamview/internal/testenv"
)

// TestRename runs the rename benchmark small on the real servers, so that
// it cannot rot: every view and document must show the new name and a
// search for it find every product (Rename checks that and fails
// otherwise), and the report must carry every figure.
func TestRename(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Kafka, Redis and Elasticsearch")
	}
	var out strings.Builder
	cfg := bench.RenameConfig{Servers: bench.Servers{Brokers: testenv.Kafka(t), RedisAddr: testenv.Redis(t), ElasticsearchURL: testenv.Elasticsearch(t)},
		Products: 200, Out: &out}
	rep, err := bench.Rename(context.Background(), cfg)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Products != 200 {
		t.Errorf("report of %d products, want 200", rep.Products)
	}
	for name, d := range map[string]int64{"views": int64(rep.Views), "search": int64(rep.Search), "view committed": int64(rep.ViewCommitted),
		"search committed": int64(rep.SearchCommitted), "raw view read": int64(rep.RawViewRead), "raw search": int64(rep.RawSearch)} {
		if d <= 0 {
			t.Errorf("%s: no time reported", name)
		}
	}
	if rep.Views < rep.ViewFirst || rep.SearchDocs < rep.Search {
		t.Errorf("every view after %v but a first one after %v; every document read after %v but the search found them after %v", rep.Views, rep.ViewFirst, rep.SearchDocs, rep.Search)
	}
	if rep.FanOut.FannedOut < 200 {
		t.Errorf("the fan-out wrote %d documents, want at least the 200 of the category", rep.FanOut.FannedOut)
	}
	if !strings.Contains(out.String(), "raw: bulk index") {
		t.Errorf("the table lacks the raw search line:\n%s", out.String())
	}
}
