package productsearch_test

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/productsearch"
)

// sameAsMarshal fails t unless d.AppendJSON gives what json.Marshal gives:
// the same bytes, or an error both.
func sameAsMarshal(t *testing.T, d productsearch.Doc) {
	t.Helper()
	want, werr := json.Marshal(d)
	prefix := []byte("[prefix]")
	got, gerr := d.AppendJSON(append([]byte(nil), prefix...))
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("AppendJSON error %v, json.Marshal error %v, for %+v", gerr, werr, d)
	}
	if werr != nil {
		return
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("AppendJSON did not append: %s", got)
	}
	if got = got[len(prefix):]; !bytes.Equal(got, want) {
		t.Fatalf("AppendJSON gave\n%s\njson.Marshal gives\n%s", got, want)
	}
	if enc, err := d.EncodeJSON(); err != nil || !bytes.Equal(enc, want) {
		t.Fatalf("EncodeJSON gave %s, %v; json.Marshal gives\n%s", enc, err, want)
	}
}

// The documents of a generated catalogue, and each edge of the encoding.
func TestAppendJSONIsMarshal(t *testing.T) {
	events := eventgen.Stream(eventgen.Options{Products: 300, Seed: 7, Updates: eventgen.Range{Min: 1, Max: 8}, ManyDetails: true})
	docs := map[string]productsearch.Doc{}
	for _, e := range events {
		d := productsearch.Fold(docs[e.AggregateID], e)
		docs[e.AggregateID] = d
		sameAsMarshal(t, d)
	}
	if len(docs) != 300 {
		t.Fatalf("folded %d products, want 300", len(docs))
	}

	base := productsearch.Doc{ID: "p", Tags: []string{}, CreatedAt: time.Date(2026, 3, 1, 12, 0, 0, 123e6, time.UTC)}
	cases := []struct {
		name string
		edit func(d *productsearch.Doc)
	}{
		{"zero", func(d *productsearch.Doc) { *d = productsearch.Doc{} }},
		{"nil tags", func(d *productsearch.Doc) { d.Tags = nil }},
		{"tags", func(d *productsearch.Doc) { d.Tags = []string{"a", "", "b c"} }},
		{"HTML", func(d *productsearch.Doc) { d.Name = `<b>Tom & "Jerry"</b>` }},
		{"controls", func(d *productsearch.Doc) { d.Description = "a\tb\nc\rd\be\ff\x00g\x1fh\x7f" }},
		{"backslash", func(d *productsearch.Doc) { d.BrandName = `C:\path` }},
		{"unicode", func(d *productsearch.Doc) { d.CategoryName = "Küche – 厨房 🍳" }},
		{"line separators", func(d *productsearch.Doc) { d.Tags = []string{"a\u2028b\u2029c"} }},
		{"invalid UTF-8", func(d *productsearch.Doc) { d.Name = "a\xffb\xc3" }},
		{"ref versions", func(d *productsearch.Doc) { d.CategoryRefVersion, d.BrandRefVersion = 3, -1 }},
		{"ints", func(d *productsearch.Doc) {
			d.Price, d.Stock, d.Version, d.ReviewCount, d.RatingSum = math.MaxInt64, math.MinInt64, 1, -5, 0
		}},
		{"bools", func(d *productsearch.Doc) { d.InStock, d.Discontinued = true, true }},
		{"rating", func(d *productsearch.Doc) { d.AverageRating = 4.333333333333333 }},
		{"rating -0", func(d *productsearch.Doc) { d.AverageRating = math.Copysign(0, -1) }},
		{"rating tiny", func(d *productsearch.Doc) { d.AverageRating = 1e-7 }},
		{"rating at 1e-6", func(d *productsearch.Doc) { d.AverageRating = 1e-6 }},
		{"rating huge", func(d *productsearch.Doc) { d.AverageRating = 1e21 }},
		{"rating under 1e21", func(d *productsearch.Doc) { d.AverageRating = 999999999999999900000 }},
		{"rating NaN", func(d *productsearch.Doc) { d.AverageRating = math.NaN() }},
		{"rating infinite", func(d *productsearch.Doc) { d.AverageRating = math.Inf(-1) }},
		{"nanoseconds", func(d *productsearch.Doc) { d.UpdatedAt = time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC) }},
		{"a zone", func(d *productsearch.Doc) {
			d.UpdatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", -(5*3600+30*60)))
		}},
		{"a zone of seconds", func(d *productsearch.Doc) {
			d.UpdatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600+7))
		}},
		{"a zone a day off", func(d *productsearch.Doc) {
			d.UpdatedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 24*3600))
		}},
		{"year 0", func(d *productsearch.Doc) { d.CreatedAt = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"year 9999", func(d *productsearch.Doc) { d.CreatedAt = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC) }},
		{"year 10000", func(d *productsearch.Doc) { d.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"year -1", func(d *productsearch.Doc) { d.UpdatedAt = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := base
			d.Tags = append([]string{}, base.Tags...)
			c.edit(&d)
			sameAsMarshal(t, d)
		})
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("Kettle", "<a&b>", "x\u2028", 4.5, int64(1767225600123), int64(0))
	f.Add("\xff", "\"\\", "", 1e-9, int64(-62135596800000), int64(3600))
	f.Fuzz(func(t *testing.T, name, tag, brand string, rating float64, ms, zone int64) {
		at := time.UnixMilli(ms).In(time.FixedZone("z", int(zone%(48*3600))))
		sameAsMarshal(t, productsearch.Doc{ID: name + tag, Name: name, BrandName: brand, Tags: []string{tag, name},
			AverageRating: rating, CreatedAt: at, UpdatedAt: at.UTC()})
	})
}

func BenchmarkAppendJSON(b *testing.B) {
	events := eventgen.Stream(eventgen.Options{Products: 100, Seed: 1})
	docs := map[string]productsearch.Doc{}
	for _, e := range events {
		docs[e.AggregateID] = productsearch.Fold(docs[e.AggregateID], e)
	}
	var all []productsearch.Doc
	for _, d := range docs {
		all = append(all, d)
	}
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		for i := 0; b.Loop(); i++ {
			var err error
			if buf, err = all[i%len(all)].AppendJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := json.Marshal(all[i%len(all)]); err != nil {
				b.Fatal(err)
			}
		}
	})
}
