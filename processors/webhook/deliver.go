package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/processors/notifier"
)

// Delivery headers.
const (
	HeaderID        = "Webhook-Id"
	HeaderTimestamp = "Webhook-Timestamp"
	HeaderSignature = "Webhook-Signature"
)

// Headers of a notification's dead letter, beside the dlq-* ones.
const (
	HeaderDLQWebhookID    = "webhook-id"
	HeaderDLQSubscription = "subscription-id"
	HeaderDLQURL          = "webhook-url"
	HeaderDLQEventType    = "event-type"
	HeaderDLQAttempts     = "webhook-attempts"
)

// deliver runs the workers until claims ends: each takes a due
// subscription and delivers its queued notifications in order until one
// fails (then the subscription is parked until its next attempt is due)
// or the queue is empty. The workers run on ctx: when only claims ends,
// they finish what they hold before deliver returns.
func (n *Notifier) deliver(ctx, claims context.Context, prod *kgo.Client) error {
	client := &http.Client{
		Timeout: n.cfg.Timeout,
		// A redirect is an answer other than 2xx: never followed, so it
		// cannot lead a delivery to a host the allowlist refuses.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: n.cfg.Workers,
			IdleConnTimeout:     90 * time.Second,
		},
	}
	defer client.CloseIdleConnections()
	slots := make(chan struct{}, n.cfg.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(n.cfg.Poll)
	defer tick.Stop()
	warn := throttle{every: warnEvery}
	for {
		free := n.cfg.Workers - len(slots)
		var subs []string
		if free > 0 {
			var err error
			subs, err = n.store.Claim(claims, time.Now(), n.cfg.Lease, free)
			if err != nil && claims.Err() == nil && !n.lostStore(err) {
				if ok, failed := warn.allow(time.Now()); ok {
					n.log.Warn("cannot claim due subscriptions; trying again (logged once per 10 s)", "err", err, "failed_attempts", failed)
				}
			}
		}
		for _, sub := range subs {
			slots <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-slots; wg.Done() }()
				n.work(ctx, client, prod, sub)
			}()
		}
		if len(subs) == free && free > 0 {
			continue // maybe more are due
		}
		select {
		case <-claims.Done():
			return nil
		case <-tick.C:
		case <-n.kick:
		}
	}
}

// work delivers sub's notifications, holding its claim.
func (n *Notifier) work(ctx context.Context, client *http.Client, prod *kgo.Client, sub string) {
	// Start no attempt that could outlast the lease: another instance may
	// take the subscription then.
	stop := time.Now().Add(n.cfg.Lease - n.cfg.Timeout - n.cfg.Timeout/2)
	log := n.log.With("subscription", sub)
	dropped := 0
	defer func() {
		if dropped > 0 {
			log.Info("the subscription was deleted: its queued notifications were dropped unsent", "dropped", dropped)
		}
	}()
	for ctx.Err() == nil {
		if time.Now().After(stop) {
			break
		}
		note, tries, ok, err := n.store.Head(ctx, sub)
		if err != nil {
			log.Warn("cannot read the subscription's queue; it is retried when its lease ends", "err", err)
			return
		}
		if !ok {
			break
		}
		// A subscription deleted since its notifications were queued
		// gets none of them, retries of a failing receiver included.
		s, known, err := n.store.Subscription(ctx, note.ProductID, sub)
		if err != nil {
			log.Warn("cannot read the subscription; it is retried when its lease ends", "err", err)
			return
		}
		if known && s.Deleted >= 0 {
			if err := n.store.Drop(ctx, note); err != nil {
				log.Warn("cannot drop a notification of the deleted subscription; it is retried when its lease ends", "webhook_id", note.WebhookID, "err", err)
				return
			}
			n.stats.dropped.Add(1)
			dropped++
			continue
		}
		// A subscription marked gone (a 410 under StopOnGone, here or in
		// an instance sharing the store) stays stopped only while 410s
		// are final: without StopOnGone its notifications are tried.
		gone := false
		if n.cfg.StopOnGone {
			gone, err = n.store.IsGone(ctx, sub)
			if err != nil {
				log.Warn("cannot read the subscription's state; it is retried when its lease ends", "err", err)
				return
			}
		}
		if gone {
			if !n.deadLetter(ctx, prod, note, tries, notifier.ReasonGone, "the receiver answered 410 Gone earlier; no more deliveries", true) {
				return
			}
			continue
		}
		u, err := url.Parse(note.URL)
		if err != nil || (n.cfg.Allowed != nil && !n.cfg.Allowed(u)) {
			if !n.deadLetter(ctx, prod, note, tries, notifier.ReasonForbidden, "the webhook URL's host is not allowed", false) {
				return
			}
			continue
		}
		// An attempt under way when the notifier stops runs to its answer
		// (or its time-out) and is recorded: cut short, a 2xx the receiver
		// had already given would be sent again at the next start.
		status, perr := n.post(context.WithoutCancel(ctx), client, note)
		if ctx.Err() != nil && (perr != nil || status/100 != 2) {
			return // shutting down: the claim ends with its lease
		}
		now := time.Now()
		act, next := notifier.Next(tries, status, perr, now, notifier.Policy{DeadAfter: n.cfg.DeadLetterAfter, StopOnGone: n.cfg.StopOnGone})
		switch act {
		case notifier.Delivered:
			n.stats.delivered.Add(1)
			// Recorded even when the stop came with the answer: else it
			// is sent again.
			rec, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			err := n.store.Delivered(rec, note, now)
			cancel()
			if err != nil {
				// Sent again after the lease: at-least-once to the receiver.
				log.Warn("delivered, but cannot record it", "webhook_id", note.WebhookID, "err", err)
				return
			}
		case notifier.Retry:
			n.stats.failed.Add(1)
			wait := n.delay(next.Count)
			log.Info("delivery failed; parking the subscription", "webhook_id", note.WebhookID, "attempt", next.Count, "in", wait, "err", next.LastError)
			if err := n.store.Failed(ctx, note, next, now.Add(wait)); err != nil {
				log.Warn("cannot record a failed attempt", "webhook_id", note.WebhookID, "err", err)
			}
			return
		case notifier.DeadLetter:
			n.stats.failed.Add(1)
			if !n.deadLetter(ctx, prod, note, next, notifier.ReasonUndeliverable,
				fmt.Sprintf("not delivered within %v (%d attempts): %s", n.cfg.DeadLetterAfter, next.Count, next.LastError), false) {
				return
			}
		case notifier.Gone:
			n.stats.failed.Add(1)
			if !n.deadLetter(ctx, prod, note, next, notifier.ReasonGone, next.LastError+"; no more deliveries to this subscription", true) {
				return
			}
		}
	}
	if err := n.store.Release(ctx, sub, time.Now()); err != nil && ctx.Err() == nil {
		log.Warn("cannot release the subscription; it is taken again when its lease ends", "err", err)
	}
}

// delay is the backoff before attempt count+1.
func (n *Notifier) delay(count int) time.Duration {
	seq := n.cfg.Retry.Start()
	var d time.Duration
	for range max(count, 1) {
		d = seq.Next()
	}
	return d
}

// post makes one attempt; status 0 means no answer.
func (n *Notifier) post(ctx context.Context, client *http.Client, note notifier.Notification) (int, error) {
	ts := time.Now().Unix()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, note.URL, bytes.NewReader(note.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "streamview-notifier")
	req.Header.Set(HeaderID, note.WebhookID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, notifier.Sign(note.Secret, ts, note.Body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// deadLetter produces note's dead letter and records it; false when
// either failed (the subscription is taken again when its lease ends).
func (n *Notifier) deadLetter(ctx context.Context, prod *kgo.Client, note notifier.Notification, tries notifier.Attempts, reason, why string, gone bool) bool {
	rec := &kgo.Record{
		Topic: n.cfg.DeadLetterTopic,
		Key:   []byte(note.ProductID),
		Value: note.Body,
		Headers: []kgo.RecordHeader{
			{Key: HeaderDLQWebhookID, Value: []byte(note.WebhookID)},
			{Key: HeaderDLQSubscription, Value: []byte(note.SubscriptionID)},
			{Key: HeaderDLQURL, Value: []byte(note.URL)},
			{Key: HeaderDLQEventType, Value: []byte(note.EventType)},
			{Key: HeaderDLQAttempts, Value: []byte(strconv.Itoa(tries.Count))},
			{Key: deadletter.HeaderError, Value: []byte(why)},
			{Key: deadletter.HeaderReason, Value: []byte(reason)},
			// No dlq-source-topic: the value is a notification, not an
			// event, and must never be re-driven into the events topic.
			{Key: deadletter.HeaderSourcePartition, Value: []byte(strconv.Itoa(int(note.Partition)))},
			{Key: deadletter.HeaderSourceOffset, Value: []byte(strconv.FormatInt(note.Offset, 10))},
			{Key: deadletter.HeaderProjection, Value: []byte(n.cfg.Group)},
			{Key: deadletter.HeaderTime, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
		},
	}
	if err := prod.ProduceSync(ctx, rec).FirstErr(); err != nil {
		if !errors.Is(err, context.Canceled) {
			n.log.Warn("cannot dead-letter a notification; trying again later", "topic", n.cfg.DeadLetterTopic, "webhook_id", note.WebhookID, "err", err)
		}
		return false
	}
	n.stats.deadLettered.Add(1)
	n.log.Info("notification dead-lettered", "topic", n.cfg.DeadLetterTopic, "webhook_id", note.WebhookID, "reason", reason, "err", why)
	if err := n.store.DeadLettered(ctx, note, time.Now(), gone); err != nil {
		n.log.Warn("dead-lettered, but cannot record it", "webhook_id", note.WebhookID, "err", err)
		return false
	}
	return true
}
