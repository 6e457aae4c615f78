package thousands

import (
	"math"
	"testing"
)

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int64
		want string
	}{
		{"zero", 0, "0"},
		{"three digits", 999, "999"},
		{"four digits", 1000, "1,000"},
		{"millions", 1234567, "1,234,567"},
		{"six digits", 100000, "100,000"},
		{"negative", -45000, "-45,000"},
		{"negative three digits", -999, "-999"},
		{"largest", math.MaxInt64, "9,223,372,036,854,775,807"},
		{"smallest", math.MinInt64, "-9,223,372,036,854,775,808"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Format(tc.n); got != tc.want {
				t.Fatalf("Format(%d) = %q, want %q", tc.n, got, tc.want)
			}
		})
	}
	if got := Format(int(-1234)); got != "-1,234" {
		t.Fatalf("Format(int(-1234)) = %q, want -1,234", got)
	}
}
