package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// readAtBatchBytes is what one fetch of ReadAt asks for: 1 byte, which
// a broker answers with the one batch holding the offset (it always
// returns a whole first batch, however large). More would bring batches
// that rarely hold another wanted offset and cost their decoding.
const readAtBatchBytes = 1

// ReadAt returns the records of one partition of topic at offsets (any
// order, repeats allowed), read_committed, with no consumer group. From the
// lowest offset up, it sends one Fetch request for the next offset not yet
// read to the partition's leader, which answers with the one batch holding
// it, and keeps the wanted records of that batch: the cost grows with the
// number of offsets (less when they share batches), never with the size of
// the partition.
//
// cl is a plain, long-lived client: ReadAt makes no client of its own, so
// that a read costs a metadata request and the fetches.
//
// An offset that holds no record (a transaction marker, an aborted record,
// deleted by retention) is missing from the map. An offset past the end of
// the partition is an error, as is a fetch error.
func ReadAt(ctx context.Context, cl *kgo.Client, topic string, partition int32, offsets []int64) (map[int64]*kgo.Record, error) {
	want := slices.Compact(slices.Sorted(slices.Values(offsets)))
	got := make(map[int64]*kgo.Record, len(want))
	if len(want) == 0 {
		return got, nil
	}
	leader, id, err := partitionLeader(ctx, cl, topic, partition)
	if err != nil {
		return nil, err
	}
	f := fetcher{broker: cl.Broker(int(leader)), dec: kgo.DefaultDecompressor(), topic: topic, id: id, partition: partition}
	for next := 0; next < len(want); {
		at := want[next]
		recs, err := f.fetch(ctx, at)
		if err != nil {
			return nil, err
		}
		last := at // at is passed: read, or holds no record we can see
		for _, r := range recs {
			if _, ok := slices.BinarySearch(want, r.Offset); ok {
				got[r.Offset] = r
			}
			last = max(last, r.Offset)
		}
		for next < len(want) && want[next] <= last {
			next++
		}
	}
	return got, nil
}

// fetcher fetches batches of one partition from its leader.
type fetcher struct {
	broker    *kgo.Broker
	dec       kgo.Decompressor
	topic     string
	id        [16]byte
	partition int32
}

// fetch returns the records of the batch holding offset at, from at on;
// none when at holds no record that read_committed can see.
func (f fetcher) fetch(ctx context.Context, at int64) ([]*kgo.Record, error) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 1
	req.MaxBytes = readAtBatchBytes
	req.IsolationLevel = 1 // read_committed
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = f.topic, f.id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = f.partition
	rp.FetchOffset = at
	rp.CurrentLeaderEpoch = -1
	rp.LogStartOffset = -1
	rp.PartitionMaxBytes = readAtBatchBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, f.broker)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		return nil, fmt.Errorf("topics: read %s partition %d at offset %d: %w", f.topic, f.partition, at, err)
	}
	var part *kmsg.FetchResponseTopicPartition
	for i := range resp.Topics {
		t := &resp.Topics[i]
		if t.Topic != f.topic && t.TopicID != f.id {
			continue
		}
		for j := range t.Partitions {
			if t.Partitions[j].Partition == f.partition {
				part = &t.Partitions[j]
			}
		}
	}
	if part == nil {
		return nil, fmt.Errorf("topics: read %s partition %d at offset %d: the broker's answer has no such partition", f.topic, f.partition, at)
	}
	fp, _ := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
		Offset: at, IsolationLevel: kgo.ReadCommitted(), Topic: f.topic, Partition: f.partition,
	}, part, f.dec, nil)
	var loss *kgo.ErrDataLoss
	switch {
	case errors.Is(fp.Err, kerr.OffsetOutOfRange) && at < fp.LogStartOffset:
		return nil, nil // deleted by retention: no record to see
	case errors.Is(fp.Err, kerr.OffsetOutOfRange):
		return nil, fmt.Errorf("topics: read %s partition %d: offset %d is past the end (%d): %w", f.topic, f.partition, at, fp.HighWatermark, fp.Err)
	case fp.Err != nil && !errors.As(fp.Err, &loss):
		return nil, fmt.Errorf("topics: read %s partition %d at offset %d: %w", f.topic, f.partition, at, fp.Err)
	}
	if len(fp.Records) == 0 && at >= fp.HighWatermark {
		return nil, fmt.Errorf("topics: read %s partition %d: offset %d is past the end (%d)", f.topic, f.partition, at, fp.HighWatermark)
	}
	return fp.Records, nil
}

// partitionLeader returns the leader of topic's partition and the topic's
// ID, from a metadata request.
func partitionLeader(ctx context.Context, cl *kgo.Client, topic string, partition int32) (int32, [16]byte, error) {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return 0, [16]byte{}, fmt.Errorf("topics: metadata of %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		if t.Topic == nil || *t.Topic != topic {
			continue
		}
		if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
			return 0, [16]byte{}, fmt.Errorf("topics: metadata of %s: %w", topic, err)
		}
		for _, p := range t.Partitions {
			if p.Partition == partition {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					return 0, [16]byte{}, fmt.Errorf("topics: metadata of %s partition %d: %w", topic, partition, err)
				}
				return p.Leader, t.TopicID, nil
			}
		}
		return 0, [16]byte{}, fmt.Errorf("topics: %s has no partition %d", topic, partition)
	}
	return 0, [16]byte{}, fmt.Errorf("topics: metadata of %s: %w", topic, kerr.UnknownTopicOrPartition)
}
