package productview_test

import (
	"bytes"
	"fmt"
	"os"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
)

// readEvents reads a .jsonl event fixture (eventgen.ReadJSONL).
func readEvents(path string) ([]schemas.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	events, err := eventgen.ReadJSONL(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return events, nil
}

// foldAll folds a stream, in order, into one view per product.
func foldAll(events []schemas.Event) map[string]productview.View {
	views := make(map[string]productview.View)
	for _, e := range events {
		views[e.AggregateID] = productview.Fold(views[e.AggregateID], e)
	}
	return views
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
