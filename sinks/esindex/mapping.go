package esindex

import (
	_ "embed"
	"encoding/json"
	"fmt"
)

// mapping is the explicit mapping of every product-search index. Choices:
//   - dynamic strict: a field the Doc does not have is a bug, not data; it
//     fails the write (a permanent error) instead of growing the mapping.
//   - keyword for IDs, filters and the id tie-breaker (sorting on _id needs
//     fielddata); text with the built-in standard analyzer for what q
//     searches, with raw keyword sub-fields on the names for facet labels.
//   - price as a long of minor units: exact ranges and sorts, no float;
//     averageRating as a double, the float64 Go computes, so that index and
//     Go sort alike.
//   - ignore_above on keywords whose values come from users: an absurdly
//     long category name is left out of facets instead of making the whole
//     document a rejected write (Lucene refuses terms over 32 KB).
//   - categoryRefVersion and brandRefVersion (the reference versions a
//     document's names show) are indexed: a rename's fan-out searches for
//     the documents older than it. "ref" is the one field of a category's or
//     brand's own document (see reference.go), enabled:false: stored, not
//     indexed, and absent from every product.
//   - fields only read back (ratingSum, stock, updatedAt, version) are not
//     indexed: doc values keep them sortable later, the inverted index is
//     spared.
//
//go:embed mapping.json
var mapping json.RawMessage

// MappingVersion is _meta.streamview.mappingVersion of mapping.json. A
// changed mapping gets a new version and needs a new generation: EnsureIndex
// refuses an existing index of another version, except version 1, which
// version 2 (the reference join's fields) only adds to: that one is
// upgraded in place.
const MappingVersion = 2

// Mapping returns the index mapping (the "mappings" object) as JSON.
func Mapping() json.RawMessage { return append(json.RawMessage(nil), mapping...) }

// createBody is the body of the create-index request.
func (c Config) createBody() ([]byte, error) {
	body := map[string]any{
		"settings": map[string]any{
			"index": map[string]any{
				"number_of_shards":   c.Shards,
				"number_of_replicas": c.Replicas,
				"refresh_interval":   c.RefreshInterval,
			},
		},
		"mappings": mapping,
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: building the index body: %w", err)
	}
	return b, nil
}

// mappingVersionOf reads _meta.streamview.mappingVersion of a GET _mapping
// answer for one index.
func mappingVersionOf(m json.RawMessage) int {
	var v struct {
		Meta struct {
			Streamview struct {
				MappingVersion int `json:"mappingVersion"`
			} `json:"streamview"`
		} `json:"_meta"`
	}
	_ = json.Unmarshal(m, &v)
	return v.Meta.Streamview.MappingVersion
}
