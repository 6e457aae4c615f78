package productsearch_test

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/streamview/streamview/processors/productsearch"
)

func TestTermFacetBuckets(t *testing.T) {
	type add struct {
		value, label string
		n            int64
	}
	tests := []struct {
		name string
		adds []add
		want []productsearch.Bucket
	}{
		{name: "empty is an empty list", want: []productsearch.Bucket{}},
		{name: "largest count first, ties by value",
			adds: []add{{"b", "B", 2}, {"a", "A", 2}, {"c", "C", 5}},
			want: []productsearch.Bucket{{Value: "c", Label: "C", Count: 5}, {Value: "a", Label: "A", Count: 2}, {Value: "b", Label: "B", Count: 2}}},
		{name: "counts of one value add up",
			adds: []add{{"a", "A", 1}, {"a", "A", 3}},
			want: []productsearch.Bucket{{Value: "a", Label: "A", Count: 4}}},
		{name: "label is the one most products carry",
			adds: []add{{"a", "Old", 1}, {"a", "New", 2}, {"a", "Old", 0}},
			want: []productsearch.Bucket{{Value: "a", Label: "New", Count: 3}}},
		{name: "label ties go to the smallest",
			adds: []add{{"a", "Zed", 2}, {"a", "Alpha", 2}},
			want: []productsearch.Bucket{{Value: "a", Label: "Alpha", Count: 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f productsearch.TermFacet
			for _, a := range tt.adds {
				f.Add(a.value, a.label, a.n)
			}
			if got := f.Buckets(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Buckets() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTermFacetKeepsTheLargestMaxFacetValues(t *testing.T) {
	var f productsearch.TermFacet
	for i := range productsearch.MaxFacetValues + 10 {
		f.Add(fmt.Sprintf("v%03d", i), "L", int64(i))
	}
	got := f.Buckets()
	if len(got) != productsearch.MaxFacetValues {
		t.Fatalf("%d buckets, want %d", len(got), productsearch.MaxFacetValues)
	}
	if first, last := got[0].Value, got[len(got)-1].Value; first != fmt.Sprintf("v%03d", productsearch.MaxFacetValues+9) || last != "v010" {
		t.Errorf("kept %s … %s, want the largest counts v%03d … v010", first, last, productsearch.MaxFacetValues+9)
	}
}
