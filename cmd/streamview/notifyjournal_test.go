package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/notifier"
	"github.com/streamview/streamview/sinks/redisnotify"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// The journal gives an empty store what the last one recorded: delivered
// and dead-lettered Webhook-Ids and gone subscriptions; a line a crash cut
// short is skipped.
func TestNotifierJournal(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "notifier-journal")
	at := time.UnixMilli(1_796_500_000_000)
	j, n, err := openJournal(ctx, path, redisnotify.New(redistest.Miniredis(t), ""), nil, time.Time{})
	if err != nil || n != 0 {
		t.Fatalf("a new journal: %d, %v", n, err)
	}
	if err := j.Delivered(ctx, notifier.Notification{WebhookID: "e1.s1", SubscriptionID: "s1"}, at); err != nil {
		t.Fatal(err)
	}
	if err := j.DeadLettered(ctx, notifier.Notification{WebhookID: "e2.s2", SubscriptionID: "s2"}, at, true); err != nil {
		t.Fatal(err)
	}
	j.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"kind":"delivered","webhookId":"e3.s`) // cut short
	f.Close()

	store := redisnotify.New(redistest.Miniredis(t), "")
	j, n, err = openJournal(ctx, path, store, nil, time.Time{})
	if err != nil || n != 2 {
		t.Fatalf("reading the journal: %d entries, %v; want 2", n, err)
	}
	defer j.Close()
	if when, ok, err := store.DeliveredAt(ctx, "e1.s1"); err != nil || !ok || !when.Equal(at) {
		t.Errorf("e1.s1 delivered = %v %v %v, want at %v", when, ok, err, at)
	}
	if gone, err := store.IsGone(ctx, "s2"); err != nil || !gone {
		t.Errorf("s2 gone = %v %v, want true", gone, err)
	}
	queued, err := store.Enqueue(ctx, []notifier.Notification{
		{WebhookID: "e1.s1", SubscriptionID: "s1", Offset: 1},
		{WebhookID: "e2.s2", SubscriptionID: "s2", Offset: 2},
		{WebhookID: "e3.s1", SubscriptionID: "s1", Offset: 3},
	}, at)
	if err != nil || queued != 1 {
		t.Errorf("Enqueue after the journal queued %d, %v; want only e3.s1", queued, err)
	}

	// What is journaled after the cut line is read at the next start.
	if err := j.Delivered(ctx, notifier.Notification{WebhookID: "e4.s1", SubscriptionID: "s1"}, at); err != nil {
		t.Fatal(err)
	}
	j.Close()
	store = redisnotify.New(redistest.Miniredis(t), "")
	j, n, err = openJournal(ctx, path, store, nil, time.Time{})
	if err != nil || n != 3 {
		t.Fatalf("reading the journal again: %d entries, %v; want 3", n, err)
	}
	j.Close()
	if _, ok, err := store.DeliveredAt(ctx, "e4.s1"); err != nil || !ok {
		t.Errorf("e4.s1, journaled after a cut line, delivered = %v %v, want true", ok, err)
	}
}
