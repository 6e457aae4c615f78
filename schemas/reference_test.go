package schemas_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/streamview/streamview/schemas"
)

// apiReferenceID is API.md's rule for a category or brand ID, as written.
var apiReferenceID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func TestValidReferenceID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"shoes", true},
		{"Cat-01_a.b", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{"a b", false},
		{"a/b", false},
		{"a:b", false},
		{"é", false},
		{"a\x00", false},
		{"\u212a", false}, // the Kelvin sign, which folds to K
	} {
		if got := schemas.ValidReferenceID(tc.id); got != tc.want {
			t.Errorf("ValidReferenceID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestAddressableReferenceID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"shoes", true},
		{"...", true},
		{".a", true},
		{"a..", true},
		{".", false},
		{"..", false},
		{"", false},
		{"a/b", false},
	} {
		if got := schemas.AddressableReferenceID(tc.id); got != tc.want {
			t.Errorf("AddressableReferenceID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

// FuzzValidReferenceID holds the loop to API.md's pattern.
func FuzzValidReferenceID(f *testing.F) {
	for _, s := range []string{"shoes", "", "a b", strings.Repeat("z", 64), strings.Repeat("z", 65), "é", "-._"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if got, want := schemas.ValidReferenceID(id), apiReferenceID.MatchString(id); got != want {
			t.Fatalf("ValidReferenceID(%q) = %v, the pattern says %v", id, got, want)
		}
	})
}

// BenchmarkValidReferenceID: the loop beside API.md's pattern as a regular
// expression, which it replaced.
func BenchmarkValidReferenceID(b *testing.B) {
	id := "brand-42"
	b.Run("loop", func(b *testing.B) {
		for b.Loop() {
			if !schemas.ValidReferenceID(id) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("pattern", func(b *testing.B) {
		for b.Loop() {
			if !apiReferenceID.MatchString(id) {
				b.Fatal("refused")
			}
		}
	})
}
