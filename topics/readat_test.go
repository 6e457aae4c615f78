package topics

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
)

// TestReadAt runs on the real broker, and on kfake (testenv.KafkaOrFake).
func TestReadAt(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	topic := testenv.Topic(t, brokers, "t.readat", 2)
	w := writer{t: t, brokers: brokers, topic: topic}
	plain := w.client()
	// Partition 0: 3000 records in batches of many; 1: aborted records
	// between committed ones.
	for i := 0; i < 3000; i += 500 {
		var vals []string
		for j := i; j < i+500; j++ {
			vals = append(vals, fmt.Sprint("v", j))
		}
		w.plain(plain, 0, vals...)
	}
	w.plain(plain, 1, "m")
	w.begin(1, "aborted-1", "aborted-2")(kgo.TryAbort)
	w.plain(plain, 1, "n")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	reader := w.client()
	tests := []struct {
		name      string
		partition int32
		offsets   []int64
		want      map[int64]string
	}{
		{"scattered, out of order, repeated", 0, []int64{2999, 5, 1200, 5, 0, 1201},
			map[int64]string{0: "v0", 5: "v5", 1200: "v1200", 1201: "v1201", 2999: "v2999"}},
		{"one", 0, []int64{1700}, map[int64]string{1700: "v1700"}},
		{"none", 0, nil, map[int64]string{}},
		// Offsets 1, 2 are aborted records and 3 their marker: no record.
		{"aborted records and a marker hold none", 1, []int64{0, 1, 3, 4}, map[int64]string{0: "m", 4: "n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.partition == 1 && testenv.FakeKafka() {
				// kfake lists no aborted transaction to a fetch that
				// starts inside it; a real broker does.
				t.Skip("kfake: aborted transactions are checked on the real broker")
			}
			got, err := ReadAt(ctx, reader, topic, tt.partition, tt.offsets)
			if err != nil {
				t.Fatal(err)
			}
			vals := map[int64]string{}
			for o, r := range got {
				if r.Offset != o || r.Partition != tt.partition {
					t.Errorf("record at %d: %d/%d", o, r.Partition, r.Offset)
				}
				vals[o] = string(r.Value)
			}
			if !maps.Equal(vals, tt.want) {
				t.Errorf("ReadAt = %v, want %v", slices.Sorted(maps.Keys(vals)), slices.Sorted(maps.Keys(tt.want)))
			}
		})
	}
	t.Run("past the end", func(t *testing.T) {
		_, err := ReadAt(ctx, reader, topic, 0, []int64{10, 5000})
		if err == nil || !strings.Contains(err.Error(), "past the end") {
			t.Errorf("ReadAt past the end = %v", err)
		}
	})
}
