package bleveindex

import (
	"encoding/json"
	"fmt"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/mapping"

	"github.com/streamview/streamview/processors/productsearch"
)

// mappingVersion names the mapping below; Open refuses an index of another.
// Change it with any change to the mapping or to fieldsOf.
const mappingVersion = "1"

// mappingVersionKey is where the index records its mappingVersion, in
// bleve's internal storage.
var mappingVersionKey = []byte("streamview/mapping-version")

// analyzerName is Elasticsearch's standard analyzer: Unicode word
// boundaries (UAX #29) and lower case, no stop words. bleve's own
// "standard" drops English stop words, so that "a" or "for" would match
// nothing where Elasticsearch matches them.
const analyzerName = "streamview-standard"

// Fields of a document.
const (
	fieldName         = "name"
	fieldDescription  = "description"
	fieldTags         = "tags"
	fieldBrandName    = "brandName"
	fieldCategoryName = "categoryName"
	fieldCategoryID   = "categoryId"
	fieldBrandID      = "brandId"
	// fieldCategoryFacet and fieldBrandFacet hold the JSON pair [id, name]:
	// one term facet on them counts each ID and tells the majority label.
	fieldCategoryFacet = "categoryFacet"
	fieldBrandFacet    = "brandFacet"
	fieldPrice         = "price" // minor units
	fieldAverageRating = "averageRating"
	fieldReviewCount   = "reviewCount"
	fieldCreatedAt     = "createdAt" // Unix milliseconds
	fieldInStock       = "inStock"
	fieldDiscontinued  = "discontinued"
	// fieldSource is the productsearch.Doc as JSON, stored, not indexed.
	fieldSource = "source"
)

func newMapping() (*mapping.IndexMappingImpl, error) {
	m := bleve.NewIndexMapping()
	err := m.AddCustomAnalyzer(analyzerName, map[string]any{
		"type":          custom.Name,
		"tokenizer":     unicode.Name,
		"token_filters": []any{lowercase.Name},
	})
	if err != nil {
		return nil, fmt.Errorf("bleve: mapping: %w", err)
	}
	m.DefaultAnalyzer = analyzerName
	m.StoreDynamic, m.IndexDynamic, m.DocValuesDynamic = false, false, false

	text := func(termVectors bool) *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = analyzerName
		f.Store, f.IncludeInAll, f.DocValues = false, false, false
		f.IncludeTermVectors = termVectors // positions, for the phrase boost
		return f
	}
	keywordField := func(docValues bool) *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Store, f.IncludeInAll, f.IncludeTermVectors = false, false, false
		f.DocValues = docValues
		return f
	}
	number := func() *mapping.FieldMapping {
		f := bleve.NewNumericFieldMapping()
		f.Store, f.IncludeInAll = false, false
		f.DocValues = true // sorts and the price facet read them
		return f
	}
	boolean := func() *mapping.FieldMapping {
		f := bleve.NewBooleanFieldMapping()
		f.Store, f.IncludeInAll, f.DocValues = false, false, false
		return f
	}
	source := bleve.NewTextFieldMapping()
	source.Analyzer = keyword.Name
	source.Index, source.IncludeInAll, source.IncludeTermVectors, source.DocValues = false, false, false, false
	source.Store = true

	doc := bleve.NewDocumentStaticMapping()
	for name, f := range map[string]*mapping.FieldMapping{
		fieldName:          text(true),
		fieldDescription:   text(false),
		fieldTags:          text(false),
		fieldBrandName:     text(false),
		fieldCategoryName:  text(false),
		fieldCategoryID:    keywordField(false),
		fieldBrandID:       keywordField(false),
		fieldCategoryFacet: keywordField(true),
		fieldBrandFacet:    keywordField(true),
		fieldPrice:         number(),
		fieldAverageRating: number(),
		fieldReviewCount:   number(),
		fieldCreatedAt:     number(),
		fieldInStock:       boolean(),
		fieldDiscontinued:  boolean(),
		fieldSource:        source,
	} {
		doc.AddFieldMappingsAt(name, f)
	}
	m.DefaultMapping = doc
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("bleve: mapping: %w", err)
	}
	return m, nil
}

// fieldsOf is the bleve document of d. A discontinued product keeps only its
// stored Doc and the flag: nothing of it can match a search.
func fieldsOf(d productsearch.Doc) (map[string]any, error) {
	src, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	if d.Discontinued {
		return map[string]any{fieldDiscontinued: true, fieldSource: string(src)}, nil
	}
	pair := func(id, name string) string {
		b, _ := json.Marshal([2]string{id, name}) // strings always marshal
		return string(b)
	}
	// Numbers are float64 in bleve: exact for prices below 2^53 minor units
	// and for millisecond timestamps.
	return map[string]any{
		fieldName:          d.Name,
		fieldDescription:   d.Description,
		fieldTags:          d.Tags,
		fieldBrandName:     d.BrandName,
		fieldCategoryName:  d.CategoryName,
		fieldCategoryID:    d.CategoryID,
		fieldBrandID:       d.BrandID,
		fieldCategoryFacet: pair(d.CategoryID, d.CategoryName),
		fieldBrandFacet:    pair(d.BrandID, d.BrandName),
		fieldPrice:         float64(d.Price),
		fieldAverageRating: d.AverageRating,
		fieldReviewCount:   float64(d.ReviewCount),
		fieldCreatedAt:     float64(d.CreatedAt.UnixMilli()),
		fieldInStock:       d.InStock,
		fieldDiscontinued:  false,
		fieldSource:        string(src),
	}, nil
}

// parsePair undoes the pair of fieldsOf.
func parsePair(term string) (id, name string, ok bool) {
	var p [2]string
	if json.Unmarshal([]byte(term), &p) != nil {
		return "", "", false
	}
	return p[0], p[1], true
}
