package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// readAtIdle bounds a poll of ReadAt that brings nothing: the offsets it
// looks for are below the last stable offset, so a fetch of them comes
// back at once.
const readAtIdle = 5 * time.Second

// ReadAt returns the records of one partition of topic at offsets (any
// order, repeats allowed), read_committed, without a consumer group. It
// starts at the lowest offset and jumps from each record it has to the
// next offset it wants, so it reads the fetch batches that hold those
// offsets and nothing of the partition between them: the cost grows with
// the number of offsets, not with the partition.
//
// An offset that holds no record (a transaction marker, an aborted
// record, deleted by retention) is missing from the map. An offset past the
// end of the partition ends the read with an error after a poll that brings
// nothing for 5s, as does a broker that does not answer. opts are the
// connection options; the read adds its consume options after them.
func ReadAt(ctx context.Context, opts []kgo.Opt, topic string, partition int32, offsets []int64) (map[int64]*kgo.Record, error) {
	want := slices.Compact(slices.Sorted(slices.Values(offsets)))
	got := make(map[int64]*kgo.Record, len(want))
	if len(want) == 0 {
		return got, nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond)}, opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().At(want[0])}}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("topics: reader of %s partition %d: %w", topic, partition, err)
	}
	defer cl.Close()

	next := 0     // want[next] is the lowest offset not yet passed
	at := want[0] // where the read was last positioned
	for next < len(want) {
		pctx, cancel := context.WithTimeout(ctx, readAtIdle)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			var loss *kgo.ErrDataLoss
			switch {
			case errors.As(err, &loss):
			case errors.Is(err, context.DeadlineExceeded):
				ferr = fmt.Errorf("topics: read %s partition %d: nothing at offset %d within %v (past the end?)", topic, partition, want[next], readAtIdle)
			case ferr == nil:
				ferr = fmt.Errorf("topics: read %s partition %d at offset %d: %w", topic, partition, want[next], err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		last := int64(-1)
		fs.EachRecord(func(r *kgo.Record) {
			if r.Topic != topic || r.Partition != partition {
				return
			}
			if _, ok := slices.BinarySearch(want, r.Offset); ok {
				got[r.Offset] = r
			}
			last = max(last, r.Offset)
		})
		if last < at {
			continue // nothing, or fetched before the last jump
		}
		for next < len(want) && want[next] <= last {
			next++
		}
		if next < len(want) && want[next] > last+1 {
			// Jump over what lies between: the next batch fetched is
			// the one holding want[next].
			at = want[next]
			cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{topic: {partition: {Epoch: -1, Offset: want[next]}}})
		}
	}
	return got, nil
}
