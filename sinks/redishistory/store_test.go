package redishistory_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/producthistory"
	"github.com/streamview/streamview/sinks/redishistory"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

func newStore(t *testing.T, c redis.UniversalClient) *redishistory.Store {
	t.Helper()
	s, err := redishistory.New(c, redishistory.Config{Projection: strings.ToLower(testenv.Name("t.history")), EntriesPerPipeline: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Every master of a cluster, one key per command.
		if _, err := redistest.DeleteKeys(context.Background(), c, s.KeyPrefix()+"*"); err != nil {
			t.Logf("cleanup of %s: %v", s.KeyPrefix(), err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	redistest.ForEachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		ctx := context.Background()
		s := newStore(t, c)
		e := func(id string, v int64, p int32, o int64) producthistory.Entry {
			return producthistory.Entry{AggregateID: id, Version: v, Partition: p, Offset: o}
		}
		added, err := s.Put(ctx, []producthistory.Entry{e("a", 1, 2, 10), e("b", 1, 4, 11), e("a", 2, 2, 15), e("a", 3, 2, 40), e("a", 5, 2, 90)})
		if err != nil || added != 5 {
			t.Fatalf("Put = %d, %v; want 5 added", added, err)
		}
		// Redelivered, and a copy at a later offset: the first stays.
		added, err = s.Put(ctx, []producthistory.Entry{e("a", 1, 2, 10), e("a", 2, 2, 999)})
		if err != nil || added != 0 {
			t.Fatalf("Put again = %d, %v; want 0 added", added, err)
		}
		tests := []struct {
			name      string
			id        string
			from      int64
			n         int
			offsets   []int64
			wantTotal int64
		}{
			{"from the start", "a", 1, 10, []int64{10, 15, 40}, 4}, // stops at the missing version 4
			{"a page", "a", 2, 1, []int64{15}, 4},
			{"after the gap", "a", 5, 10, []int64{90}, 4},
			{"past the end", "a", 9, 10, nil, 4},
			{"no fields asked", "a", 1, 0, nil, 4},
			{"another product", "b", 1, 10, []int64{11}, 1},
			{"unknown", "zzz", 1, 10, nil, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, total, err := s.Range(ctx, tt.id, tt.from, tt.n)
				if err != nil {
					t.Fatal(err)
				}
				var offs []int64
				for i, g := range got {
					offs = append(offs, g.Offset)
					if g.Version != tt.from+int64(i) || g.AggregateID != tt.id {
						t.Errorf("entry %d: %+v", i, g)
					}
				}
				if !slices.Equal(offs, tt.offsets) || total != tt.wantTotal {
					t.Errorf("Range = %v total %d, want %v total %d", offs, total, tt.offsets, tt.wantTotal)
				}
			})
		}
		if err := c.HSet(ctx, s.KeyPrefix()+"{bad}", "1", "nonsense").Err(); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Range(ctx, "bad", 1, 1); err == nil || !strings.Contains(err.Error(), "malformed position") {
			t.Errorf("Range of a malformed entry: %v", err)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []redishistory.Config{{Projection: "Bad Name"}, {Generation: -1}, {EntriesPerPipeline: -1}} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("%+v: valid", cfg)
		}
	}
	if err := (redishistory.Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}
