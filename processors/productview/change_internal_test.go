package productview

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// FormatTime and jsonList are written out by hand for speed; they must give
// what the standard library gives.

func TestFormatTimeIsLayoutFormat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{
		{},
		time.Date(2026, 11, 26, 6, 33, 49, 123_999_999, time.FixedZone("CET", 3600)),
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 1_000_000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 3, 29, 2, 30, 0, 0, time.FixedZone("X", -7*3600-1800)),
	}
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(1<<36)-1<<35, r.Int64N(1e9)))
	}
	for _, tm := range times {
		if got, want := FormatTime(tm), tm.UTC().Format(TimeLayout); got != want {
			t.Fatalf("FormatTime(%v) = %q, want %q", tm, got, want)
		}
	}
}

func TestJSONListIsMarshal(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
	}{
		{"nil", nil},
		{"empty", []string{}},
		{"plain", []string{"Red", "new", "https://img.example/a.png?x=1"}},
		{"empty string", []string{""}},
		{"quote and backslash", []string{`a"b`, `c\d`}},
		{"html", []string{"<b>", "a&b"}},
		{"control", []string{"tab\there", "nl\n"}},
		{"unicode", []string{"Ärger", "line\u2028sep", "bad\xffutf8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := "[]"
			if tc.in != nil {
				b, err := json.Marshal(tc.in)
				if err != nil {
					t.Fatal(err)
				}
				want = string(b)
			}
			if got := jsonList(tc.in); got != want {
				t.Fatalf("jsonList(%q) = %s, want %s", tc.in, got, want)
			}
		})
	}
}
