package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/notifier"
	"github.com/streamview/streamview/processors/webhook"
	"github.com/streamview/streamview/sinks/redisnotify"
	"github.com/streamview/streamview/sinks/redisview"
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
//     another epoch, or the mark gone, is a loss; at the start, a store
//     with no mark whose group has read past the start of the log is one
//     too (lost while no notifier ran);
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

func (j *kafkaJournal) append(ctx context.Context, e journalEntry) error {
	b, _ := json.Marshal(e)
	err := j.cl.ProduceSync(ctx, &kgo.Record{Topic: j.topic, Key: []byte(e.WebhookID), Value: b}).FirstErr()
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return fmt.Errorf("notifier journal: topic %s does not exist (streamview topics apply creates it): %w", j.topic, err)
	}
	if err != nil {
		return fmt.Errorf("notifier journal %s: %w", j.topic, err)
	}
	return nil
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
	group   string             // the notifier's consumer group
	events  string             // the events topic
	journal string             // the journal topic
	// whole is the epoch under which this process last found or made the
	// store whole; "" before the first Lost.
	whole string
}

var _ webhook.Recovery = (*notifierRecovery)(nil)

// Lost implements webhook.Recovery.
func (r *notifierRecovery) Lost(ctx context.Context) (bool, error) {
	epoch, err := redisview.Epoch(ctx, r.st.redis)
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
	adm := kadm.NewClient(cl)
	if _, err := journalSpans(ctx, adm, r.journal); err != nil {
		return false, err
	}
	if mark == epoch {
		r.whole = epoch
		return false, nil
	}
	if mark == "" {
		// No mark: a store never used, or one lost while no notifier ran
		// (or kept by a notifier older than the mark). Its group tells.
		read, err := processors.ReadPastStart(ctx, adm, r.group, r.events)
		if err != nil {
			return false, err
		}
		if !read {
			if err := r.store.SetMark(ctx, epoch); err != nil {
				return false, err
			}
			r.whole = epoch
			return false, nil
		}
	}
	return true, nil
}

// journalSpans are the partitions of the journal topic, from their start
// to their end; an error that says what to do when it does not exist.
func journalSpans(ctx context.Context, adm *kadm.Client, topic string) (map[int32]topics.Span, error) {
	spans, err := topics.Spans(ctx, adm, topic)
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return nil, fmt.Errorf("notifier journal: topic %s does not exist (streamview topics apply creates it): %w", topic, err)
	}
	if err != nil {
		return nil, fmt.Errorf("notifier journal %s: %w", topic, err)
	}
	return spans, nil
}

// Restore implements webhook.Recovery: the journal read back into the
// store, then the mark set. A Redis that loses its data again meanwhile
// (another epoch at the end) is restored again.
func (r *notifierRecovery) Restore(ctx context.Context) error {
	for {
		epoch, err := redisview.Epoch(ctx, r.st.redis)
		if err != nil {
			return err
		}
		n, err := restoreJournal(ctx, r.st, r.journal, r.store)
		if err != nil {
			return err
		}
		now, err := redisview.Epoch(ctx, r.st.redis)
		if err != nil {
			return err
		}
		if now != epoch {
			continue
		}
		if err := r.store.SetMark(ctx, epoch); err != nil {
			return err
		}
		r.whole = epoch
		r.st.logger.Info("notifier journal read back into the store", "topic", r.journal, "webhook_ids", n)
		return nil
	}
}

// restoreJournalWorkers is how many entries restoreJournal records at once.
const restoreJournalWorkers = 16

// restoreJournal gives store every entry of the journal topic, up to its
// end when the read began, and returns how many it gave.
func restoreJournal(ctx context.Context, st stack, topic string, store notifier.Store) (int, error) {
	cl, err := kgo.NewClient(st.kafkaOpts()...)
	if err != nil {
		return 0, err
	}
	spans, err := journalSpans(ctx, kadm.NewClient(cl), topic)
	cl.Close()
	if err != nil {
		return 0, err
	}
	n := 0
	err = topics.ReadBounded(ctx, st.kafkaOpts(), topic, spans, func(recs []*kgo.Record) error {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(restoreJournalWorkers)
		for _, rec := range recs {
			var e journalEntry
			if json.Unmarshal(rec.Value, &e) != nil {
				st.logger.Warn("skipping a notifier journal record that is not an entry", "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset)
				continue
			}
			n++
			g.Go(func() error {
				if _, err := e.record(gctx, store); err != nil {
					return fmt.Errorf("notifier journal %s partition %d offset %d: %w", rec.Topic, rec.Partition, rec.Offset, err)
				}
				return nil
			})
		}
		return g.Wait()
	})
	return n, err
}
