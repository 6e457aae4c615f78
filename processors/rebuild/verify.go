package rebuild

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/schemas"
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
// as the runtime reads it (read committed, transaction markers kept), and
// counts the products the valid events make.
func countLog(ctx context.Context, opts []kgo.Opt, dec processors.Decoder, topic string, starts, upto partitionOffsets) (LogCount, error) {
	parts := map[int32]kgo.Offset{}
	for p, end := range upto {
		if end > starts[p] {
			parts[p] = kgo.NewOffset().At(starts[p])
		}
	}
	var c LogCount
	if len(parts) == 0 {
		return c, nil
	}
	cl, err := kgo.NewClient(append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		return c, fmt.Errorf("rebuild: log reader: %w", err)
	}
	defer cl.Close()

	discontinued := map[string]bool{}
	pending := len(parts)
	done := map[int32]bool{}
	for pending > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return c, err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			ferr = errors.Join(ferr, fmt.Errorf("rebuild: read %s partition %d: %w", t, p, err))
		})
		if ferr != nil {
			return c, ferr
		}
		fs.EachPartition(func(ftp kgo.FetchTopicPartition) {
			p := ftp.Partition
			for _, r := range ftp.Records {
				if done[p] {
					return
				}
				if r.Offset >= upto[p] {
					done[p] = true
					pending--
					return
				}
				if !r.Attrs.IsControl() {
					c.Records++
					e, err := dec.DecodeEvent(r.Value)
					if err == nil {
						err = e.Validate()
					}
					if err != nil {
						c.Invalid++
					} else {
						_, isDisc := e.Data.(*schemas.ProductDiscontinued)
						discontinued[e.AggregateID] = discontinued[e.AggregateID] || isDisc
					}
				}
				if r.Offset+1 >= upto[p] {
					done[p] = true
					pending--
					return
				}
			}
		})
	}
	c.Products = int64(len(discontinued))
	for _, d := range discontinued {
		if d {
			c.Discontinued++
		}
	}
	return c, nil
}
