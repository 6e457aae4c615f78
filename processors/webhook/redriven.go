package webhook

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/processors/notifier"
	"github.com/streamview/streamview/topics"
)

// A re-driven dead letter (streamview dlq redrive, or the API's) lands in
// the events topic again at a new offset. An event notifies the
// subscriptions live at its offset, so the copy is judged at the offset
// its event first had: it then yields the original's Webhook-Ids, which
// the store skips when the notifier read the original, and notifies those
// live then when it could not (its own dead letter of a record it failed
// to decode). Judged where it landed, it notified subscriptions made
// after the event.

// redriven is a re-driven copy whose position is not known yet.
type redriven struct {
	event int    // its index among the batch's events
	from  string // deadletter.HeaderRedrivenFrom: the letter it came from
}

// origin is where the event of r, a record of the events topic, first
// sat: r's own position for a record that was not re-driven, the one a
// re-drive wrote (deadletter.HeaderRedrivenOrigin) for a copy. known is
// false for a copy re-driven by a build that did not write it; from then
// names its dead letter, which says.
func origin(r *kgo.Record) (pos deadletter.Position, from string, known bool) {
	if o, ok := deadletter.RedrivenOrigin(r.Headers); ok {
		return o, "", true
	}
	if from := header(r, deadletter.HeaderRedrivenFrom); from != nil {
		return deadletter.Position{}, string(from), false
	}
	return deadletter.Position{Partition: r.Partition, Offset: r.Offset}, "", true
}

// letterOrigins reads the dead letters named by froms
// ("<dlq topic>/<position>", deadletter.Letter.ID) with cl and returns
// where each one's record first sat in its source topic (Letter.Origin),
// by name. A letter that is gone (retention, its topic deleted) or does
// not say is missing from the map; an error is one to retry (a broker
// that does not answer).
func letterOrigins(ctx context.Context, cl *kgo.Client, froms []string) (map[string]deadletter.Position, error) {
	type part struct {
		topic     string
		partition int32
	}
	want := map[part]map[int64][]string{} // letter offset → names
	for _, f := range froms {
		topic, at, ok := strings.Cut(f, "/") // topic names hold no '/'
		if !ok {
			continue
		}
		pos, err := deadletter.ParsePosition(at)
		if err != nil {
			continue
		}
		k := part{topic, pos.Partition}
		if want[k] == nil {
			want[k] = map[int64][]string{}
		}
		want[k][pos.Offset] = append(want[k][pos.Offset], f)
	}
	out := map[string]deadletter.Position{}
	adm := kadm.NewClient(cl)
	for k, names := range want {
		ends, err := adm.ListEndOffsets(ctx, k.topic)
		if unreadable(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("webhook: end offsets of %s: %w", k.topic, err)
		}
		end, ok := ends.Lookup(k.topic, k.partition)
		switch {
		case !ok || errors.Is(end.Err, kerr.UnknownTopicOrPartition) || unreadable(end.Err):
			continue // the dead-letter topic or partition is gone, or not ours to read
		case end.Err != nil:
			return nil, fmt.Errorf("webhook: end offset of %s partition %d: %w", k.topic, k.partition, end.Err)
		}
		var offsets []int64
		for o := range names {
			if o < end.Offset {
				offsets = append(offsets, o)
			}
		}
		recs, err := topics.ReadAt(ctx, cl, k.topic, k.partition, offsets)
		if unreadable(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("webhook: read dead letters: %w", err)
		}
		for o, r := range recs {
			if pos, ok := deadletter.FromRecord(r).Origin(); ok {
				for _, name := range names[o] {
					out[name] = pos
				}
			}
		}
	}
	return out, nil
}

// originals places the re-driven copies among events (copies, by index)
// where their events first sat, reading the dead letters of lookups for
// those that do not say, and leaves out a copy whose origin is not known
// (its dead letter is gone) or lies in another partition (the topic was
// repartitioned: its offsets and the subscriptions' do not compare): what
// it could notify was queued when the original, or the copy with its dead
// letter still there, was first read. An error only when ctx ended.
func (n *Notifier) originals(ctx context.Context, cl *kgo.Client, events []notifier.Positioned, copies map[int]*kgo.Record, lookups []redriven) ([]notifier.Positioned, error) {
	var found map[string]deadletter.Position
	if len(lookups) > 0 && cl != nil {
		froms := make([]string, len(lookups))
		for i, l := range lookups {
			froms[i] = l.from
		}
		err := n.retrying(ctx, "read the dead letters of re-driven events", func() (err error) {
			found, err = letterOrigins(ctx, cl, froms)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	unknown := map[int]bool{}
	for _, l := range lookups {
		pos, ok := found[l.from]
		if !ok {
			unknown[l.event] = true
			continue
		}
		events[l.event].Partition, events[l.event].Offset = pos.Partition, pos.Offset
	}
	out := events[:0]
	for i, p := range events {
		r, copied := copies[i]
		switch {
		case !copied:
		case unknown[i] || p.Partition != r.Partition:
			why := "its dead letter is gone"
			if !unknown[i] {
				why = "it first sat in partition " + strconv.Itoa(int(p.Partition))
			}
			n.log.Warn("a re-driven event whose first offset in its partition is not known notifies nobody (what it could notify was queued when it was first read)",
				logkey.Topic, r.Topic, logkey.Partition, r.Partition, logkey.Offset, r.Offset, logkey.AggregateID, p.Event.AggregateID, logkey.EventType, p.Event.Type(),
				"redriven_from", string(header(r, deadletter.HeaderRedrivenFrom)), "why", why)
			continue
		default:
			n.log.Debug("a re-driven event notifies the subscriptions live at its first position",
				logkey.Topic, r.Topic, logkey.Partition, r.Partition, logkey.Offset, r.Offset, logkey.AggregateID, p.Event.AggregateID, logkey.EventType, p.Event.Type(), "origin_offset", p.Offset)
		}
		out = append(out, p)
	}
	return out, nil
}

// header is the value of r's last header key; nil when it has none.
func header(r *kgo.Record, key string) []byte {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == key {
			return r.Headers[i].Value
		}
	}
	return nil
}

// unreadable reports an error that retrying does not mend: the notifier's
// principal may not read the dead-letter topic (a secured cluster whose
// ACLs give it the events topic alone). The copies whose letters it holds
// then have no known origin, and notify nobody, rather than holding the
// notifier back for good.
func unreadable(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed)
}
