package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/streamview/streamview/processors/notifier"
)

// journaledStore is dev's notifier store: the in-memory Redis one, with
// each Webhook-Id it records delivered or dead-lettered also appended to a
// file in --data. The next start reads the file back into the empty store
// before the notifier runs, so that the notifier, reading its log again,
// queues again what was still waiting (a receiver that was failing is
// retried after a restart, as API.md wants) and nothing that was done.
type journaledStore struct {
	notifier.Store
	mu sync.Mutex
	f  *os.File
}

// journalEntry is one line of the journal.
type journalEntry struct {
	Kind           string `json:"kind"` // delivered or dead
	WebhookID      string `json:"webhookId"`
	SubscriptionID string `json:"subscriptionId"`
	At             int64  `json:"at"` // Unix milliseconds
	Gone           bool   `json:"gone,omitempty"`
}

// openJournal reads the journal at path into store and returns store
// journaled to it, and how many entries it read. A last line cut short
// (a crash while it was written) is skipped: its notification is sent
// once more, as after any crash between a 2xx and its record.
func openJournal(ctx context.Context, path string, store notifier.Store) (*journaledStore, int, error) {
	n, err := replayJournal(ctx, path, store)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("notifier journal: %w", err)
	}
	// Appends go after the last whole line: a line cut short would glue
	// itself to the next one, and both would be lost.
	b, err := os.ReadFile(path)
	if err == nil {
		err = f.Truncate(int64(bytes.LastIndexByte(b, '\n') + 1))
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekEnd)
	}
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("notifier journal: %w", err)
	}
	return &journaledStore{Store: store, f: f}, n, nil
}

func replayJournal(ctx context.Context, path string, store notifier.Store) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("notifier journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var e journalEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.WebhookID == "" {
			continue // cut short by a crash
		}
		note := notifier.Notification{WebhookID: e.WebhookID, SubscriptionID: e.SubscriptionID}
		switch e.Kind {
		case "delivered":
			err = store.Delivered(ctx, note, time.UnixMilli(e.At))
		case "dead":
			err = store.DeadLettered(ctx, note, time.UnixMilli(e.At), e.Gone)
		default:
			continue
		}
		if err != nil {
			return n, fmt.Errorf("notifier journal %s: %w", path, err)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("notifier journal %s: %w", path, err)
	}
	return n, nil
}

// Delivered implements notifier.Store.
func (j *journaledStore) Delivered(ctx context.Context, n notifier.Notification, now time.Time) error {
	if err := j.Store.Delivered(ctx, n, now); err != nil {
		return err
	}
	return j.append(journalEntry{Kind: "delivered", WebhookID: n.WebhookID, SubscriptionID: n.SubscriptionID, At: now.UnixMilli()})
}

// DeadLettered implements notifier.Store.
func (j *journaledStore) DeadLettered(ctx context.Context, n notifier.Notification, now time.Time, gone bool) error {
	if err := j.Store.DeadLettered(ctx, n, now, gone); err != nil {
		return err
	}
	return j.append(journalEntry{Kind: "dead", WebhookID: n.WebhookID, SubscriptionID: n.SubscriptionID, At: now.UnixMilli(), Gone: gone})
}

func (j *journaledStore) append(e journalEntry) error {
	b, _ := json.Marshal(e)
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("notifier journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("notifier journal: %w", err)
	}
	return nil
}

// Close closes the journal's file.
func (j *journaledStore) Close() error { return j.f.Close() }
