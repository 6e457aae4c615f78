package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/streamview/streamview/processors/webhook"
	"github.com/streamview/streamview/sinks/redisnotify"
	"github.com/streamview/streamview/topics"
)

// A notifier over a Redis that loses its data (emptied, or restarted
// without persistence) would lose with it the subscriptions (its group
// has read past their events: no more notifications for them), the
// queued notifications, and the Webhook-Ids it delivered (a read of the
// log again would send them all again). serve's and notify's notifier
// therefore also writes each Webhook-Id it delivers or dead-letters to a
// Kafka topic, the journal (catalog.notifier.journal), and its recovery
// (webhook.Config.Recovery) notices a loss and mends it:
//
//   - Lost: the notifier's store keeps a mark, the epoch of Redis
//     (redisview.Epoch) under which it was last made whole. Redis holding
//     another epoch, or the mark gone, is a loss. At the start, a store
//     without the mark is one too: lost while no notifier ran (even if
//     the group was reset meanwhile), new, or kept by a notifier older
//     than the journal, whose record of deliveries is then copied into
//     the journal first;
//   - meanwhile the store's Enqueue and Claim require the mark
//     (redisnotify.Store.Expect): between a loss and its notice nothing
//     is queued or sent over the emptied store;
//   - Restore reads the journal back into the store and sets the mark;
//     the notifier then reads the log again from its start, folding the
//     subscriptions and queuing again what the journal does not have (the
//     store skips the rest). Each instance that notices restores and reads
//     again: both are idempotent.

// kafkaJournal is serve's and notify's journal: one record per entry,
// keyed by Webhook-Id, acknowledged before the store records it.
type kafkaJournal struct {
	cl    *kgo.Client
	topic string
}

// newKafkaJournal is a journal on topic, with a producer of its own.
func newKafkaJournal(st stack, topic string) (*kafkaJournal, error) {
	cl, err := kgo.NewClient(st.kafkaOpts(kgo.ProducerLinger(0))...)
	if err != nil {
		return nil, fmt.Errorf("notifier journal: %w", err)
	}
	return &kafkaJournal{cl: cl, topic: topic}, nil
}

func (j *kafkaJournal) append(ctx context.Context, e journalEntry) error {
	return journalErr(j.topic, j.cl.ProduceSync(ctx, journalRecord(j.topic, e)).FirstErr())
}

// forget writes a tombstone (the Webhook-Id as key, no value) for each
// of ids: compaction then drops their entries, and the tombstones after
// the topic's delete.retention.ms.
func (j *kafkaJournal) forget(ctx context.Context, ids []string) error {
	recs := make([]*kgo.Record, len(ids))
	for i, id := range ids {
		recs[i] = &kgo.Record{Topic: j.topic, Key: []byte(id)}
	}
	return journalErr(j.topic, j.cl.ProduceSync(ctx, recs...).FirstErr())
}

func journalRecord(topic string, e journalEntry) *kgo.Record {
	b, _ := json.Marshal(e)
	return &kgo.Record{Topic: topic, Key: []byte(e.WebhookID), Value: b}
}

// journalErr wraps err with the journal topic, saying what to do when
// the topic does not exist.
func journalErr(topic string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		hint := "streamview topics apply creates it"
		if topic != topics.NotifierJournal {
			hint = "create it, compacted, as topics.yaml's " + topics.NotifierJournal
		}
		return fmt.Errorf("notifier journal: topic %s does not exist (%s): %w", topic, hint, err)
	}
	return fmt.Errorf("notifier journal %s: %w", topic, err)
}

// Close closes the journal's producer.
func (j *kafkaJournal) Close() error {
	j.cl.Close()
	return nil
}

// notifierRecovery is serve's and notify's webhook.Recovery, over the
// Redis store and the Kafka journal. Its calls come one at a time.
type notifierRecovery struct {
	st      stack
	store   *redisnotify.Store // the store itself, not journaled
	journal *kafkaJournal
	// whole is the epoch under which this process last found or made the
	// store whole; "" before the first Lost.
	whole string
	// copy: the store had no mark at the start; Restore copies its
	// record into the journal first (a store kept by a notifier older
	// than the journal).
	copy bool
	// trimBefore is webhook.Config.TrimBefore: what a read-back skips,
	// and a copy leaves out, as past the horizon; nil keeps all.
	trimBefore func(now time.Time) time.Time
}

// cut is the time before which a finished Webhook-Id is past the horizon
// now; the zero time without one.
func (r *notifierRecovery) cut() time.Time {
	if r.trimBefore == nil {
		return time.Time{}
	}
	return r.trimBefore(time.Now())
}

var _ webhook.Recovery = (*notifierRecovery)(nil)

// Lost implements webhook.Recovery.
func (r *notifierRecovery) Lost(ctx context.Context) (bool, error) {
	// The process's shared read (at most redisview.DefaultEpochMaxAge
	// old): a loss its scripts report (a mark missing) is seen in the
	// mark, read below, at once.
	epoch, err := r.st.epochs().Epoch(ctx)
	if err != nil {
		return false, err
	}
	mark, err := r.store.Mark(ctx)
	if err != nil {
		return false, err
	}
	if r.whole != "" {
		return epoch != r.whole || mark != r.whole, nil
	}
	// The first look, at the start. Without its journal topic (a cluster
	// whose topics were applied before it existed) the notifier could
	// record no delivery, and would send each again after its lease: it
	// waits for the topic instead.
	cl, err := kgo.NewClient(r.st.kafkaOpts()...)
	if err != nil {
		return false, err
	}
	defer cl.Close()
	if _, err := journalSpans(ctx, kadm.NewClient(cl), r.journal.topic); err != nil {
		return false, err
	}
	if mark == epoch {
		r.setWhole(epoch)
		return false, nil
	}
	r.copy = mark == ""
	return true, nil
}

func (r *notifierRecovery) setWhole(epoch string) {
	r.whole = epoch
	r.store.Expect(epoch)
}

// journalSpans are the partitions of the journal topic, from their start
// to their end; an error that says what to do when it does not exist.
func journalSpans(ctx context.Context, adm *kadm.Client, topic string) (map[int32]topics.Span, error) {
	spans, err := topics.Spans(ctx, adm, topic)
	if err != nil {
		return nil, journalErr(topic, err)
	}
	return spans, nil
}

// Restore implements webhook.Recovery: the journal read back into the
// store, then the mark set. The mark names the restore while it runs,
// and becomes the epoch only if it still does at the end: a store that
// loses its data meanwhile (its keys, or Redis's epoch) is restored again.
func (r *notifierRecovery) Restore(ctx context.Context) error {
	if r.copy {
		n, err := r.copyRecord(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			r.st.logger.Info("notifier: the store's record of deliveries copied into the journal", "topic", r.journal.topic, "entries", n)
		}
		r.copy = false
	}
	for {
		// Fresh reads, here and after the read-back: a read kept from
		// before could hide a loss during it.
		epoch, err := r.st.epochs().Fresh(ctx)
		if err != nil {
			return err
		}
		restoring := "restoring " + newToken()
		if err := r.store.SetMark(ctx, restoring); err != nil {
			return err
		}
		n, err := restoreJournal(ctx, r.st, r.journal.topic, r.store, r.cut())
		if err != nil {
			return err
		}
		whole, err := r.store.SwapMark(ctx, restoring, epoch)
		if err != nil {
			return err
		}
		now, err := r.st.epochs().Fresh(ctx)
		if err != nil {
			return err
		}
		if !whole || now != epoch {
			r.st.logger.Warn("the notifier's store lost its data again while its journal was read back: reading it again", "topic", r.journal.topic)
			continue
		}
		r.setWhole(epoch)
		r.st.logger.Info("notifier journal read back into the store", "topic", r.journal.topic, "webhook_ids", n)
		return nil
	}
}

// newToken is a random name.
func newToken() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// copyRecord writes the store's record of deliveries to the journal:
// each Webhook-Id delivered or dead-lettered, and each subscription gone
// (an entry of its own, "gone:<subscription ID>", dead-lettered and
// gone). Entries already there are written again; compaction keeps one.
// Webhook-Ids past the horizon are left out: they are trimmed.
func (r *notifierRecovery) copyRecord(ctx context.Context) (int, error) {
	var (
		n    int
		mu   sync.Mutex
		perr error
	)
	cut := r.cut().UnixMilli()
	err := r.store.Records(ctx, func(kind, id string, at int64) error {
		e := journalEntry{Kind: kind, WebhookID: id, At: at}
		if kind == "gone" {
			e = goneEntry(id, at)
		} else if at < cut {
			return nil
		}
		n++
		r.journal.cl.Produce(ctx, journalRecord(r.journal.topic, e), func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				perr = cmp.Or(perr, err)
				mu.Unlock()
			}
		})
		return nil
	})
	if ferr := r.journal.cl.Flush(ctx); err == nil {
		err = ferr
	}
	if err == nil {
		err = journalErr(r.journal.topic, perr)
	}
	return n, err
}

// restoreJournal gives store every entry of the journal topic, up to its
// end when the read began, and returns how many it gave: not the
// tombstones of Webhook-Ids trimmed, nor the entries finished before
// trimBefore (journalEntry.finished; the zero time keeps all), past the
// horizon, so that a restored store does not regrow what its trims
// dropped. The entries go
// in pipelines of journalBatch (redisnotify.Store.Finish), one at a time
// and in the journal's order, written while the next are read and
// decoded.
func restoreJournal(ctx context.Context, st stack, topic string, store *redisnotify.Store, trimBefore time.Time) (int, error) {
	cl, err := kgo.NewClient(st.kafkaOpts()...)
	if err != nil {
		return 0, err
	}
	spans, err := journalSpans(ctx, kadm.NewClient(cl), topic)
	cl.Close()
	if err != nil {
		return 0, err
	}
	type batch struct {
		fins        []redisnotify.Finished
		first, last *kgo.Record
	}
	batches := make(chan batch, 1)
	g, gctx := errgroup.WithContext(ctx)
	n := 0
	g.Go(func() error {
		for b := range batches {
			if err := store.Finish(gctx, b.fins); err != nil {
				return fmt.Errorf("notifier journal %s partition %d offsets %d to %d: %w", b.first.Topic, b.first.Partition, b.first.Offset, b.last.Offset, err)
			}
			n += len(b.fins)
		}
		return nil
	})
	g.Go(func() error {
		defer close(batches)
		return topics.ReadBounded(gctx, st.kafkaOpts(), topic, spans, func(recs []*kgo.Record) error {
			for chunk := range slices.Chunk(recs, journalBatch) {
				b := batch{fins: make([]redisnotify.Finished, 0, len(chunk)), first: chunk[0], last: chunk[len(chunk)-1]}
				for _, rec := range chunk {
					if rec.Value == nil {
						continue // a tombstone: trimmed
					}
					var e journalEntry
					if json.Unmarshal(rec.Value, &e) != nil {
						st.logger.Warn("skipping a notifier journal record that is not an entry", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
						continue
					}
					if fin, ok := e.finished(trimBefore); ok {
						b.fins = append(b.fins, fin)
					}
				}
				select {
				case batches <- b:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	})
	err = g.Wait()
	return n, err
}
