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
	"github.com/streamview/streamview/sinks/redisnotify"
)

// journaledStore is a notifier store with each Webhook-Id it records
// delivered or dead-lettered also written to a journal that outlives the
// store: dev's, over its in-memory Redis, a file in --data (fileJournal,
// read back at every start); serve's and notify's, over a Redis that may
// lose its data, a Kafka topic (kafkaJournal, read back by the notifier's
// recovery after a loss). The journal is written first: a record that
// fails after it sends the notification again after the lease, as a crash
// would, and a journal that fails records nothing.
type journaledStore struct {
	notifier.Store
	j journal
}

// journal keeps journalEntries where a loss of the store does not reach.
type journal interface {
	append(ctx context.Context, e journalEntry) error
}

// teeJournal writes each entry to both its journals.
type teeJournal [2]journal

func (t teeJournal) append(ctx context.Context, e journalEntry) error {
	if err := t[0].append(ctx, e); err != nil {
		return err
	}
	return t[1].append(ctx, e)
}

// Close closes both journals.
func (t teeJournal) Close() error {
	var errs []error
	for _, j := range t {
		if c, ok := j.(io.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}

// fileJournal is dev's journal, a file of JSON lines, fsynced.
type fileJournal struct {
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

// finished is what e says of its Webhook-Id; false for an entry that
// says nothing (cut short by a crash, or of a kind this build does not
// know).
func (e journalEntry) finished() (redisnotify.Finished, bool) {
	if e.WebhookID == "" || (e.Kind != "delivered" && e.Kind != "dead") {
		return redisnotify.Finished{}, false
	}
	return redisnotify.Finished{WebhookID: e.WebhookID, SubscriptionID: e.SubscriptionID, At: time.UnixMilli(e.At),
		Dead: e.Kind == "dead", Gone: e.Gone}, true
}

// journalBatch is how many entries a read-back gives the store at once
// (redisnotify.Store.Finish, one pipeline).
const journalBatch = 2000

// openJournal reads the file journal at path into store and returns
// store journaled to it, and to also when not nil (closed with it), and
// how many entries it read. A last line cut short (a crash while it was
// written) is skipped: its notification is sent once more, as after any
// crash between a 2xx and its record.
func openJournal(ctx context.Context, path string, store *redisnotify.Store, also journal) (*journaledStore, int, error) {
	fj, n, err := openFileJournal(ctx, path, store)
	if err != nil {
		return nil, 0, err
	}
	var j journal = fj
	if also != nil {
		j = teeJournal{fj, also}
	}
	return &journaledStore{Store: store, j: j}, n, nil
}

// openFileJournal reads the file journal at path into store and opens it
// for appends; how many entries it read.
func openFileJournal(ctx context.Context, path string, store *redisnotify.Store) (*fileJournal, int, error) {
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
	return &fileJournal{f: f}, n, nil
}

func replayJournal(ctx context.Context, path string, store *redisnotify.Store) (int, error) {
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
	batch := make([]redisnotify.Finished, 0, journalBatch)
	flush := func() error {
		if err := store.Finish(ctx, batch); err != nil {
			return fmt.Errorf("notifier journal %s: %w", path, err)
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	for sc.Scan() {
		var e journalEntry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue // cut short by a crash
		}
		if fin, ok := e.finished(); ok {
			batch = append(batch, fin)
		}
		if len(batch) == journalBatch {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("notifier journal %s: %w", path, err)
	}
	return n, flush()
}

// Delivered implements notifier.Store.
func (j *journaledStore) Delivered(ctx context.Context, n notifier.Notification, now time.Time) error {
	if err := j.j.append(ctx, journalEntry{Kind: "delivered", WebhookID: n.WebhookID, SubscriptionID: n.SubscriptionID, At: now.UnixMilli()}); err != nil {
		return err
	}
	return j.Store.Delivered(ctx, n, now)
}

// DeadLettered implements notifier.Store.
func (j *journaledStore) DeadLettered(ctx context.Context, n notifier.Notification, now time.Time, gone bool) error {
	if err := j.j.append(ctx, journalEntry{Kind: "dead", WebhookID: n.WebhookID, SubscriptionID: n.SubscriptionID, At: now.UnixMilli(), Gone: gone}); err != nil {
		return err
	}
	return j.Store.DeadLettered(ctx, n, now, gone)
}

// Close closes the journal.
func (j *journaledStore) Close() error {
	if c, ok := j.j.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (j *fileJournal) append(_ context.Context, e journalEntry) error {
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
func (j *fileJournal) Close() error { return j.f.Close() }
