package esindex_test

import (
	"context"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productsearch/indextest"
	"github.com/streamview/streamview/sinks/esindex"
)

func TestContract(t *testing.T) {
	c := client(t)
	indextest.Run(t, indextest.Backend{
		New: func(t *testing.T) productsearch.Index {
			return newIndex(t, c, esindex.Config{})
		},
		Refresh: refresh,
		Refuse: func(t *testing.T, ix productsearch.Index, id string) {
			plantUnreadable(t, c, ix.(*esindex.Index).IndexName(1), id)
		},
	})
}

// plantUnreadable stores at id a document the mapping accepts but that does
// not decode into a productsearch.Doc (tags a string, not a list), as a
// discontinued one so that searches pass it by: Apply can fold nothing onto
// it.
func plantUnreadable(t *testing.T, c *elasticsearch.Client, index, id string) {
	t.Helper()
	req := c.Index
	res, err := req(index, strings.NewReader(`{"id":"`+id+`","tags":"not a list","discontinued":true}`),
		req.WithDocumentID(id), req.WithRefresh("true"), req.WithContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.IsError() {
		t.Fatalf("planting an unreadable document: %s", res.String())
	}
}
