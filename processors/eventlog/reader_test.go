package eventlog_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/eventlog"
	"github.com/streamview/streamview/processors/producthistory"
	"github.com/streamview/streamview/schemas"
)

// mapIndex is an index in memory: product -> entries by version from 1.
type mapIndex map[string][]producthistory.Entry

func (m mapIndex) Range(_ context.Context, id string, from int64, n int) ([]producthistory.Entry, int64, error) {
	es := m[id]
	var out []producthistory.Entry
	for v := from; v >= 1 && v <= int64(len(es)) && len(out) < n; v++ {
		out = append(out, es[v-1])
	}
	return out, int64(len(es)), nil
}

func event(id string, v int64) schemas.Event {
	return schemas.Event{ID: fmt.Sprintf("e-%s-%d", id, v), AggregateType: "Product", AggregateID: id, Version: v,
		Timestamp: time.Date(2026, 1, 1, 0, 0, int(v), 0, time.UTC), Metadata: schemas.Metadata{CorrelationID: "c", CausationID: "k", UserID: "u"},
		Data: &schemas.ProductStockChanged{Quantity: v}}
}

func TestEvents(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	topic := testenv.Topic(t, brokers, "t.eventlog", 2)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Product a's 5 events among 200 events of others in partition 1.
	const a, b = "0b7c6c1e-2f47-4a8e-9a3c-5d2f3e1a9b10", "7d0e2f5a-3b1c-4c8e-9a6f-2d4b8e1f0c3a"
	idx := mapIndex{}
	var otherV int64
	for i := 0; i < 205; i++ {
		e := event(b, otherV+1)
		if i%41 == 0 {
			e = event(a, int64(len(idx[a])+1))
		} else {
			otherV++
		}
		val, err := codec.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		rec := &kgo.Record{Topic: topic, Partition: 1, Key: []byte(e.AggregateID), Value: val}
		if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatal(err)
		}
		idx[e.AggregateID] = append(idx[e.AggregateID], producthistory.Entry{AggregateID: e.AggregateID, Version: e.Version, Partition: 1, Offset: rec.Offset})
	}
	r, err := eventlog.New(eventlog.Config{Topic: topic, Client: cl}, idx, codec)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		id       string
		from     int64
		limit    int
		versions []int64
		next     int64
		found    bool
	}{
		{"whole history", a, 1, 100, []int64{1, 2, 3, 4, 5}, 0, true},
		{"first page", a, 1, 2, []int64{1, 2}, 3, true},
		{"last page, exactly", a, 4, 2, []int64{4, 5}, 0, true},
		{"past the end", a, 6, 10, nil, 0, true},
		{"unknown product", "00000000-0000-4000-8000-000000000000", 1, 10, nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, next, found, err := r.Events(ctx, tt.id, tt.from, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, e := range evs {
				got = append(got, e.Version)
				if e.AggregateID != tt.id || e.Data.(*schemas.ProductStockChanged).Quantity != e.Version {
					t.Errorf("event %+v", e)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.versions) || next != tt.next || found != tt.found {
				t.Errorf("Events = %v next %d found %v, want %v next %d found %v", got, next, found, tt.versions, tt.next, tt.found)
			}
		})
	}

	t.Run("an index that does not match the topic", func(t *testing.T) {
		wrong := mapIndex{a: {{AggregateID: a, Version: 1, Partition: 1, Offset: idx[b][0].Offset}}}
		r, _ := eventlog.New(eventlog.Config{Topic: topic, Client: cl}, wrong, codec)
		if _, _, _, err := r.Events(ctx, a, 1, 10); !errors.Is(err, eventlog.ErrIndex) {
			t.Errorf("Events = %v, want ErrIndex", err)
		}
	})
}
