package notifier

import (
	"context"
	"errors"
	"time"
)

// ErrStoreLost is what a store's Enqueue and Claim return (wrapped) when
// they find the store lost its data since it was last made whole (a Redis
// emptied): they then change nothing, so that a notifier reading its log
// again over the emptied store queues and sends nothing before its record
// of what was delivered is back.
var ErrStoreLost = errors.New("the notifier's store lost its data")

// Store is the notifier's state, the port its store implements: the
// subscriptions, one queue of notifications per subscription, and the
// Webhook-Ids delivered or dead-lettered, which it forgets only when told
// (Trim), so that no redelivery or replay queues a notification again.
type Store interface {
	// Subscriptions returns the stored subscriptions of each product.
	Subscriptions(ctx context.Context, productIDs []string) (map[string][]Subscription, error)
	// Save stores subs (each replaces the one stored with its ID).
	Save(ctx context.Context, subs []Subscription) error
	// Enqueue queues each notification at the end of its subscription's
	// queue (ordered by offset) and makes the subscription due, unless its
	// Webhook-Id is queued, delivered or dead-lettered already. It returns
	// how many it queued.
	Enqueue(ctx context.Context, ns []Notification, now time.Time) (int, error)

	// Claim takes up to n subscriptions with notifications due at now,
	// for lease: no other Claim returns them until the lease ends or
	// they are released.
	Claim(ctx context.Context, now time.Time, lease time.Duration, n int) ([]string, error)
	// Head is the oldest queued notification of sub and its attempts;
	// false when the queue is empty.
	Head(ctx context.Context, sub string) (Notification, Attempts, bool, error)
	// Delivered records n's Webhook-Id as delivered and dequeues it.
	Delivered(ctx context.Context, n Notification, now time.Time) error
	// Failed stores the attempts of n and makes its subscription due at
	// due (this ends the claim).
	Failed(ctx context.Context, n Notification, a Attempts, due time.Time) error
	// DeadLettered records n's Webhook-Id as dead-lettered and dequeues
	// it; gone also marks its subscription gone (410).
	DeadLettered(ctx context.Context, n Notification, now time.Time, gone bool) error
	// IsGone reports whether a receiver answered 410 for sub.
	IsGone(ctx context.Context, sub string) (bool, error)
	// Subscription is the stored subscription id of product productID;
	// false when none is stored.
	Subscription(ctx context.Context, productID, id string) (Subscription, bool, error)
	// Drop dequeues n unsent and records nothing: its subscription was
	// deleted, and the notifier queues nothing more for it.
	Drop(ctx context.Context, n Notification) error
	// Release ends the claim of sub: due at now when notifications are
	// queued, otherwise no longer due.
	Release(ctx context.Context, sub string, now time.Time) error
	// Trim forgets the Webhook-Ids delivered or dead-lettered before
	// before, and returns how many it forgot: the notifier trims those
	// whose events are past its horizon, which it never queues again.
	// Trims running at once are harmless.
	Trim(ctx context.Context, before time.Time) (int, error)
	// Stats counts what is queued and due.
	Stats(ctx context.Context) (Stats, error)
}

// Stats is a snapshot of a Store.
type Stats struct {
	Queued        int64 // notifications waiting
	Subscriptions int64 // subscriptions with notifications waiting
	Delivered     int64 // Webhook-Ids delivered and not trimmed
	DeadLettered  int64 // Webhook-Ids dead-lettered and not trimmed
}
