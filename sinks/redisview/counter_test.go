package redisview_test

import (
	"context"
	"math/big"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// The script adds small counters itself (the value read plus the delta,
// written in the one HSET) and leaves larger ones to HINCRBY: either way a
// counter ends exactly where HINCRBY would put it, on both sides of the
// limit (15 characters, where a sum could pass 2^53), for a document of
// one change, a folded write and changes applied one by one; a field both
// incremented and set ends with the set value; a field incremented twice
// in one change gets both deltas.
func TestCountersExact(t *testing.T) {
	cases := []struct {
		name  string
		start string // the counter's value before, "" for absent
		by    []int64
	}{
		{"absent", "", []int64{5}},
		{"zero to negative", "0", []int64{-5}},
		{"15 digits", "999999999999999", []int64{999999999999999}},
		{"15 characters negative", "-99999999999999", []int64{-999999999999999}},
		{"16 digits", "9007199254740993", []int64{1}},
		{"delta 16 digits", "1", []int64{9007199254740993}},
		{"past 2^62", "1", []int64{1 << 62}},
		{"near the int64 limit", "-9223372036854775807", []int64{9223372036854775807}},
		{"several", "7", []int64{999999999999999, 999999999999999, -3}},
	}
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		s := redistest.NewStore(t, c)
		for _, tc := range cases {
			want := new(big.Int)
			if tc.start != "" {
				want.SetString(tc.start, 10)
			}
			for _, by := range tc.by {
				want.Add(want, big.NewInt(by))
			}
			for _, mode := range []string{"one Apply", "folded", "unfolded"} {
				id := "c-" + tc.name + "-" + mode
				if tc.start != "" {
					if err := c.HSet(ctx, s.Key(1, id), "n", tc.start).Err(); err != nil {
						t.Fatal(err)
					}
				}
				var changes []productview.Change
				for i, by := range tc.by {
					changes = append(changes, productview.Change{ID: id, Version: int64(i + 1),
						Set: []productview.Field{{Name: "s", Value: "x"}}, Incr: []productview.Incr{{Name: "n", By: by}}})
				}
				switch mode {
				case "one Apply":
					for _, ch := range changes {
						if _, err := s.Apply(ctx, 1, []productview.Change{ch}); err != nil {
							t.Fatal(err)
						}
					}
				case "folded":
					if _, err := s.Apply(ctx, 1, changes); err != nil {
						t.Fatal(err)
					}
				case "unfolded": // a repeated version keeps the changes unfolded
					if _, err := s.Apply(ctx, 1, append(changes, changes[len(changes)-1])); err != nil {
						t.Fatal(err)
					}
				}
				if got, err := c.HGet(ctx, s.Key(1, id), "n").Result(); err != nil || got != want.String() {
					t.Errorf("%s, %s: n = %q, %v; want %s", tc.name, mode, got, err, want)
				}
			}
		}

		// Incremented and set in one change: the set wins, as HINCRBY then
		// HSET would leave it; incremented twice: both deltas.
		ch := productview.Change{ID: "both", Version: 1, Set: []productview.Field{{Name: "n", Value: "set"}},
			Incr: []productview.Incr{{Name: "n", By: 2}, {Name: "m", By: 3}}}
		twice := productview.Change{ID: "twice", Version: 1, Incr: []productview.Incr{{Name: "m", By: 2}, {Name: "m", By: 3}}}
		if _, err := s.Apply(ctx, 1, []productview.Change{ch, twice}); err != nil {
			t.Fatal(err)
		}
		if got, _ := c.HMGet(ctx, s.Key(1, "both"), "n", "m").Result(); len(got) != 2 || got[0] != "set" || got[1] != "3" {
			t.Errorf("both: n, m = %v; want set, 3", got)
		}
		if got, _ := c.HGet(ctx, s.Key(1, "twice"), "m").Result(); got != "5" {
			t.Errorf("twice: m = %q; want 5", got)
		}
	})
}
