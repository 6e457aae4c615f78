package rebuild

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// LogCount is what the log holds up to some offsets.
type LogCount struct {
	Records      int64 // data records read
	Invalid      int64 // records that do not decode or validate: dead-lettered by the runtime
	Products     int64 // distinct products with a valid event
	Discontinued int64 // of which discontinued
}

// Searchable is the number of products that are not discontinued.
func (c LogCount) Searchable() int64 { return c.Products - c.Discontinued }

// countLog reads topic from starts up to upto (exclusive) on every partition,
// as the runtime reads it (read committed), and counts the products the
// valid events make.
func countLog(ctx context.Context, opts []kgo.Opt, dec processors.Decoder, topic string, starts, upto partitionOffsets) (LogCount, error) {
	spans := map[int32]topics.Span{}
	for p, end := range upto {
		spans[p] = topics.Span{From: starts[p], To: end}
	}
	var c LogCount
	discontinued := map[string]bool{}
	err := topics.ReadBounded(ctx, opts, topic, spans, func(recs []*kgo.Record) error {
		for _, r := range recs {
			c.Records++
			e, err := dec.DecodeEvent(r.Value)
			if err == nil {
				err = e.Validate()
			}
			if err != nil {
				c.Invalid++
				continue
			}
			if e.AggregateType != schemas.AggregateProduct {
				continue // a webhook subscription: no view, no document
			}
			_, isDisc := e.Data.(*schemas.ProductDiscontinued)
			discontinued[e.AggregateID] = discontinued[e.AggregateID] || isDisc
		}
		return nil
	})
	if err != nil {
		return c, fmt.Errorf("rebuild: count the log: %w", err)
	}
	c.Products = int64(len(discontinued))
	for _, d := range discontinued {
		if d {
			c.Discontinued++
		}
	}
	return c, nil
}
