package schemas

import "testing"

func TestAverageRating(t *testing.T) {
	for _, tc := range []struct {
		sum, count int64
		want       float64
	}{
		{0, 0, 0},
		{5, 1, 5},
		{13, 3, 4.33},
		{14, 3, 4.67},
		{3, 2, 1.5},
		{18, 7, 2.57},    // 2.5714285714285716 unrounded
		{33, 8, 4.13},    // 4.125 rounds half up
		{401, 200, 2.01}, // 2.005 rounds half up, which math.Round(2.005*100) would not
		{1, 3, 0.33},
		{2, 3, 0.67},
		{5_000_000_001, 1_000_000_000, 5},
		{4_999_999_999, 1_000_000_000, 5},
		{4_994_999_999, 1_000_000_000, 4.99},
	} {
		if got := AverageRating(tc.sum, tc.count); got != tc.want {
			t.Errorf("AverageRating(%d, %d) = %v, want %v", tc.sum, tc.count, got, tc.want)
		}
	}
}
