package esindex_test

import (
	"testing"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productsearch/indextest"
	"github.com/streamview/streamview/sinks/esindex"
)

func TestContract(t *testing.T) {
	c := client(t)
	indextest.Run(t, func(t *testing.T) productsearch.Index {
		return newIndex(t, c, esindex.Config{})
	}, refresh)
}
