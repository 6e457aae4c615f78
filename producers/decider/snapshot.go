package decider

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/producers/reference"
	"github.com/streamview/streamview/producers/subscription"
	"github.com/streamview/streamview/topics"
)

// Snapshot records. A snapshot of partition P is written to partition P of
// the state topic in the transaction of a batch, after the batch's events:
// one record per product it covers, keyed by product ID, then one
// checkpoint record keyed by checkpointKey that holds the events offset the
// products reflect. The transaction makes the lot atomic with the events,
// so the latest committed checkpoint of a partition always comes after the
// records of every product it covers, and compaction (the latest record
// per key) keeps exactly what a restore needs.
//
// Every value starts with snapshotFormat and a kind byte. A restore that
// finds another format anywhere in what it reads ignores the snapshot and
// replays the whole events partition; the first snapshot after that writes
// every product again, in the current format.
const (
	snapshotFormat byte = 1

	kindProduct      byte = 1
	kindCheckpoint   byte = 2
	kindSubscription byte = 3
	kindReference    byte = 4
)

// subKeyPrefix keys a webhook subscription's record (and marks it in the
// dirty set): subscription events share the product's partition, so the
// partition's snapshot carries them too. Like checkpointKey it starts with
// a byte no product ID holds.
const subKeyPrefix = "\x01sub:"

// subKey is the state-topic key (and dirty-set entry) of subscription id.
func subKey(id string) string { return subKeyPrefix + id }

// refKeyPrefix keys a category's or brand's record (and marks it in the
// dirty set), followed by its reference key ("category:<id>"): their
// events are on the partition their key hashes to, like a product's.
const refKeyPrefix = "\x01ref:"

// refKey is the state-topic key (and dirty-set entry) of the category or
// brand of reference key key.
func refKey(key string) string { return refKeyPrefix + key }

// checkpointKey keys a partition's checkpoint record. It cannot be a
// product ID: those are UUIDs, and the NUL byte is not in any.
const checkpointKey = "\x00checkpoint"

// errSnapshotFormat marks a snapshot written in another format.
var errSnapshotFormat = errors.New("snapshot format differs")

// snapshot adds a snapshot of every partition of the batch that is due one
// to the open transaction, once the batch's records (out) have been
// produced: their offsets say how far the events go. It marks the overlays
// that got one and returns the snapshot records.
func (d *Decider) snapshot(ctx context.Context, sess *kgo.GroupTransactSession, overlays map[int32]*overlay, out []*kgo.Record, now time.Time) ([]*kgo.Record, error) {
	for _, r := range out {
		if r.Topic == d.cfg.EventsTopic {
			o := overlays[r.Partition]
			o.eventsEnd = max(o.eventsEnd, r.Offset+1)
		}
	}
	at := now.UnixMilli()
	var snaps []*kgo.Record
	for _, p := range slices.Sorted(maps.Keys(overlays)) {
		o := overlays[p]
		b := o.base
		changed := len(b.dirty) > 0 || len(o.products) > 0 || len(o.subs) > 0 || len(o.refs) > 0
		due := !b.snapshotted || b.sinceSnapshot+len(o.order) >= d.cfg.SnapshotEvery ||
			(changed && at-b.lastSnapshot >= d.cfg.SnapshotInterval.Milliseconds())
		if !due {
			continue
		}
		recs, err := d.snapshotRecords(p, o, now)
		if err != nil {
			return nil, err
		}
		snaps = append(snaps, recs...)
		o.snap, o.snapAt = true, at
	}
	if len(snaps) == 0 {
		return nil, nil
	}
	promise := kgo.AbortingFirstErrPromise(sess.Client())
	for _, r := range snaps {
		sess.Produce(ctx, r, promise.Promise())
	}
	if err := promise.Err(); err != nil {
		return nil, fmt.Errorf("snapshot to %s: %w", d.cfg.StateTopic, err)
	}
	return snaps, nil
}

// snapshotRecords returns partition p's snapshot as of the overlay: every
// product when the state topic holds no usable snapshot yet, otherwise the
// products changed since the last one; then the checkpoint.
func (d *Decider) snapshotRecords(p int32, o *overlay, now time.Time) ([]*kgo.Record, error) {
	b := o.base
	var ids []string
	if b.snapshotted {
		ids = slices.Collect(maps.Keys(b.dirty))
		for id := range o.products {
			if _, ok := b.dirty[id]; !ok {
				ids = append(ids, id)
			}
		}
		for id := range o.subs {
			if _, ok := b.dirty[subKey(id)]; !ok {
				ids = append(ids, subKey(id))
			}
		}
		for key := range o.refs {
			if _, ok := b.dirty[refKey(key)]; !ok {
				ids = append(ids, refKey(key))
			}
		}
	} else {
		ids = slices.Collect(maps.Keys(b.products))
		for id := range b.broken {
			if _, ok := b.products[id]; !ok {
				ids = append(ids, id)
			}
		}
		for id := range o.products {
			if _, ok := b.products[id]; !ok {
				ids = append(ids, id)
			}
		}
		for id := range b.subs {
			ids = append(ids, subKey(id))
		}
		for id := range o.subs {
			if _, ok := b.subs[id]; !ok {
				ids = append(ids, subKey(id))
			}
		}
		for key := range b.refs {
			ids = append(ids, refKey(key))
		}
		for key := range o.refs {
			if _, ok := b.refs[key]; !ok {
				ids = append(ids, refKey(key))
			}
		}
	}
	recs := make([]*kgo.Record, 0, len(ids)+1)
	for _, id := range ids {
		if sub, ok := strings.CutPrefix(id, subKeyPrefix); ok {
			recs = append(recs, &kgo.Record{Topic: d.cfg.StateTopic, Partition: p, Key: []byte(id),
				Value: encodeSubscription(o.subscription(sub)), Timestamp: now})
			continue
		}
		if key, ok := strings.CutPrefix(id, refKeyPrefix); ok {
			s, broken := o.reference(key)
			recs = append(recs, &kgo.Record{Topic: d.cfg.StateTopic, Partition: p, Key: []byte(id),
				Value: encodeReference(s, broken), Timestamp: now})
			continue
		}
		s, broken := o.product(id)
		recs = append(recs, &kgo.Record{Topic: d.cfg.StateTopic, Partition: p, Key: []byte(id),
			Value: encodeProduct(s, broken), Timestamp: now})
	}
	recs = append(recs, &kgo.Record{Topic: d.cfg.StateTopic, Partition: p, Key: []byte(checkpointKey),
		Value: encodeCheckpoint(checkpoint{eventsEnd: max(b.eventsEnd, o.eventsEnd), products: int64(len(ids))}), Timestamp: now})
	return recs, nil
}

// checkpoint is the last record of a snapshot.
type checkpoint struct {
	eventsEnd int64 // the events offset the snapshot's products reflect
	products  int64 // products written with it (all, or those changed)
}

func encodeCheckpoint(c checkpoint) []byte {
	b := []byte{snapshotFormat, kindCheckpoint}
	b = binary.AppendVarint(b, c.eventsEnd)
	return binary.AppendVarint(b, c.products)
}

// encodeProduct is a product's snapshot value: its state and why it is
// broken ("" when it is not). A compact binary form: restoring is decoding
// one of these per product, and that is the restore's whole cost.
func encodeProduct(s product.State, broken string) []byte {
	b := make([]byte, 0, 128)
	b = append(b, snapshotFormat, kindProduct)
	var flags byte
	if s.Exists {
		flags |= 1
	}
	if s.Discontinued {
		flags |= 2
	}
	b = append(b, flags)
	b = binary.AppendVarint(b, s.Version)
	for _, str := range []string{broken, s.Name, s.Description, s.Price.Currency, s.CategoryID, s.CategoryName, s.BrandID, s.BrandName} {
		b = appendString(b, str)
	}
	b = binary.AppendVarint(b, s.Price.Amount)
	b = binary.AppendVarint(b, s.Stock)
	b = appendStrings(b, s.Tags)
	return appendStrings(b, s.ImageURLs)
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// snapReader reads a snapshot value; the first error sticks.
type snapReader struct {
	b   []byte
	err error
}

var errShort = errors.New("snapshot record ends early")

func (r *snapReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *snapReader) length() int {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > uint64(len(r.b)-n) {
		r.err = errShort
		return 0
	}
	r.b = r.b[n:]
	return int(v)
}

func (r *snapReader) string() string {
	n := r.length()
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *snapReader) strings() []string {
	n := r.length()
	if r.err != nil || n == 0 {
		return nil // empty lists are nil in a State
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.string()
	}
	return out
}

// snapshotKind returns a snapshot value's kind, or errSnapshotFormat.
func snapshotKind(v []byte) (byte, error) {
	if len(v) < 2 {
		return 0, errShort
	}
	if v[0] != snapshotFormat {
		return 0, fmt.Errorf("%w: format %d, this decider reads %d", errSnapshotFormat, v[0], snapshotFormat)
	}
	return v[1], nil
}

func decodeProduct(v []byte) (product.State, string, error) {
	if len(v) < 3 {
		return product.State{}, "", errShort
	}
	r := snapReader{b: v[3:]}
	flags := v[2]
	s := product.State{Exists: flags&1 != 0, Discontinued: flags&2 != 0}
	s.Version = r.varint()
	broken := r.string()
	s.Name, s.Description, s.Price.Currency = r.string(), r.string(), r.string()
	s.CategoryID, s.CategoryName, s.BrandID, s.BrandName = r.string(), r.string(), r.string(), r.string()
	s.Price.Amount = r.varint()
	s.Stock = r.varint()
	s.Tags = r.strings()
	s.ImageURLs = r.strings()
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("snapshot record has %d bytes too many", len(r.b))
	}
	return s, broken, r.err
}

// encodeSubscription is a webhook subscription's snapshot value.
func encodeSubscription(s subscription.State) []byte {
	b := []byte{snapshotFormat, kindSubscription, 0}
	if s.Exists {
		b[2] |= 1
	}
	if s.Deleted {
		b[2] |= 2
	}
	return binary.AppendVarint(b, s.Version)
}

func decodeSubscription(v []byte) (subscription.State, error) {
	if len(v) < 3 {
		return subscription.State{}, errShort
	}
	r := snapReader{b: v[3:]}
	s := subscription.State{Exists: v[2]&1 != 0, Deleted: v[2]&2 != 0}
	s.Version = r.varint()
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("snapshot record has %d bytes too many", len(r.b))
	}
	return s, r.err
}

// encodeReference is a category's or brand's snapshot value: its state and
// why it is broken ("" when it is not).
func encodeReference(s reference.State, broken string) []byte {
	b := []byte{snapshotFormat, kindReference}
	b = binary.AppendVarint(b, s.Version)
	b = appendString(b, broken)
	return appendString(b, s.Name)
}

func decodeReference(v []byte) (reference.State, string, error) {
	r := snapReader{b: v[2:]}
	var s reference.State
	s.Version = r.varint()
	broken := r.string()
	s.Name = r.string()
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("snapshot record has %d bytes too many", len(r.b))
	}
	return s, broken, r.err
}

func decodeCheckpoint(v []byte) (checkpoint, error) {
	r := snapReader{b: v[2:]}
	c := checkpoint{eventsEnd: r.varint(), products: r.varint()}
	return c, r.err
}

// restoredSnapshot is what the state topic holds for one partition.
type restoredSnapshot struct {
	products map[string]product.State
	subs     map[string]subscription.State
	refs     map[string]reference.State // by reference key
	broken   map[string]string
	at       checkpoint
	ok       bool   // a usable snapshot: a checkpoint, everything in the current format
	why      string // why not, when !ok
}

// readSnapshots reads the state topic's partitions ps up to their last
// stable offsets (after waiting for open transactions, as for the events)
// and returns the snapshot of each, usable or not.
func (d *Decider) readSnapshots(ctx context.Context, adm *kadm.Client, ps []int32) (map[int32]*restoredSnapshot, error) {
	topic := d.cfg.StateTopic
	bounds, err := d.bounds(ctx, adm, topic, ps)
	if err != nil {
		return nil, err
	}
	out := map[int32]*restoredSnapshot{}
	spans := map[int32]topics.Span{}
	for _, p := range ps {
		out[p] = &restoredSnapshot{products: map[string]product.State{}, subs: map[string]subscription.State{}, refs: map[string]reference.State{}, broken: map[string]string{}}
		if b := bounds[p]; b.To > b.From {
			spans[p] = b
		}
	}
	// stale holds products whose latest record is of another format (or
	// does not decode): a later record of theirs may still replace it.
	stale := map[int32]map[string]string{}
	seen := map[int32]bool{}
	err = topics.ReadBounded(ctx, d.readOpts(), topic, spans, func(recs []*kgo.Record) error {
		p := recs[0].Partition
		rs := out[p]
		if stale[p] == nil {
			stale[p] = map[string]string{}
		}
		for _, r := range recs {
			key := string(r.Key)
			kind, err := snapshotKind(r.Value)
			want := kindProduct
			sub, isSub := strings.CutPrefix(key, subKeyPrefix)
			ref, isRef := strings.CutPrefix(key, refKeyPrefix)
			switch {
			case key == checkpointKey:
				want = kindCheckpoint
			case isSub:
				want = kindSubscription
			case isRef:
				want = kindReference
			}
			if err == nil && kind != want {
				err = fmt.Errorf("record kind %d, want %d", kind, want)
			}
			if key == checkpointKey {
				seen[p] = true
				if err == nil {
					rs.at, err = decodeCheckpoint(r.Value)
				}
				if err != nil {
					rs.why = fmt.Sprintf("checkpoint at offset %d: %v", r.Offset, err)
					rs.ok = false
					continue
				}
				rs.ok, rs.why = true, ""
				continue
			}
			if isSub {
				var ss subscription.State
				if err == nil {
					ss, err = decodeSubscription(r.Value)
				}
				if err != nil {
					stale[p][key] = fmt.Sprintf("subscription %s at offset %d: %v", sub, r.Offset, err)
					delete(rs.subs, sub)
					continue
				}
				delete(stale[p], key)
				rs.subs[sub] = ss
				continue
			}
			if isRef {
				var (
					rs2    reference.State
					broken string
				)
				if err == nil {
					rs2, broken, err = decodeReference(r.Value)
				}
				if err != nil {
					stale[p][key] = fmt.Sprintf("reference %s at offset %d: %v", ref, r.Offset, err)
					delete(rs.refs, ref)
					delete(rs.broken, ref)
					continue
				}
				delete(stale[p], key)
				rs.refs[ref] = rs2
				if broken != "" {
					rs.broken[ref] = broken
				} else {
					delete(rs.broken, ref)
				}
				continue
			}
			var (
				s      product.State
				broken string
			)
			if err == nil {
				s, broken, err = decodeProduct(r.Value)
			}
			if err != nil {
				stale[p][key] = fmt.Sprintf("product %s at offset %d: %v", key, r.Offset, err)
				delete(rs.products, key)
				delete(rs.broken, key)
				continue
			}
			delete(stale[p], key)
			rs.products[key] = s
			if broken != "" {
				rs.broken[key] = broken
			} else {
				delete(rs.broken, key)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	for p, rs := range out {
		switch {
		case !seen[p]:
			rs.ok, rs.why = false, "no snapshot"
		case rs.ok && len(stale[p]) > 0:
			rs.ok = false
			for _, why := range stale[p] {
				rs.why = why
				break
			}
		}
	}
	return out, nil
}
