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
	"path/filepath"
	"strings"
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
	*redisnotify.Store
	j journal
}

// journal keeps journalEntries where a loss of the store does not reach.
type journal interface {
	append(ctx context.Context, e journalEntry) error
	// forget drops the entries of ids, trimmed from the store
	// (journaledStore.Trim).
	forget(ctx context.Context, ids []string) error
}

// teeJournal writes each entry to both its journals.
type teeJournal [2]journal

func (t teeJournal) append(ctx context.Context, e journalEntry) error {
	if err := t[0].append(ctx, e); err != nil {
		return err
	}
	return t[1].append(ctx, e)
}

func (t teeJournal) forget(ctx context.Context, ids []string) error {
	if err := t[0].forget(ctx, ids); err != nil {
		return err
	}
	return t[1].forget(ctx, ids)
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
// know) or that is past the horizon: finished before trimBefore
// (webhook.Config.TrimBefore; the zero time keeps all), a Webhook-Id the
// notifier no longer needs and trims. A gone subscription outlives the
// horizon: an expired entry that says so gives its subscription's entry
// (redisnotify.GonePrefix), which never expires.
func (e journalEntry) finished(trimBefore time.Time) (redisnotify.Finished, bool) {
	if e.WebhookID == "" || (e.Kind != "delivered" && e.Kind != "dead") {
		return redisnotify.Finished{}, false
	}
	f := redisnotify.Finished{WebhookID: e.WebhookID, SubscriptionID: e.SubscriptionID, At: time.UnixMilli(e.At),
		Dead: e.Kind == "dead", Gone: e.Gone}
	if !f.At.Before(trimBefore) || strings.HasPrefix(f.WebhookID, redisnotify.GonePrefix) {
		return f, true
	}
	if f.Dead && f.Gone && f.SubscriptionID != "" {
		f.WebhookID = redisnotify.GonePrefix + f.SubscriptionID
		return f, true
	}
	return redisnotify.Finished{}, false
}

// goneEntry is the journal's entry of subscription sub gone (410) at.
func goneEntry(sub string, at int64) journalEntry {
	return journalEntry{Kind: "dead", WebhookID: redisnotify.GonePrefix + sub, SubscriptionID: sub, At: at, Gone: true}
}

// journalBatch is how many entries a read-back gives the store at once
// (redisnotify.Store.Finish, one pipeline).
const journalBatch = 2000

// openJournal reads the file journal at path into store and returns
// store journaled to it, and to also when not nil (closed with it), and
// how many entries it read. A last line cut short (a crash while it was
// written) is skipped: its notification is sent once more, as after any
// crash between a 2xx and its record. So are the entries finished before
// trimBefore (journalEntry.finished), which the file then loses.
func openJournal(ctx context.Context, path string, store *redisnotify.Store, also journal, trimBefore time.Time) (*journaledStore, int, error) {
	fj, n, err := openFileJournal(ctx, path, store, trimBefore)
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
// for appends; how many entries it read. The file keeps only those: it is
// written again without the entries past the horizon (trimBefore) when
// it had any, so that it does not grow for ever.
func openFileJournal(ctx context.Context, path string, store *redisnotify.Store, trimBefore time.Time) (*fileJournal, int, error) {
	n, err := replayJournal(ctx, path, store, trimBefore)
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

// replayJournal reads the file journal at path into store, and writes it
// again (a new file renamed over it) without its expired entries when it
// had any.
func replayJournal(ctx context.Context, path string, store *redisnotify.Store, trimBefore time.Time) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("notifier journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n, expired := 0, 0
	var kept bytes.Buffer // the entries read, when trimBefore may expire some
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
		fin, ok := e.finished(trimBefore)
		if ok {
			batch = append(batch, fin)
		}
		if !trimBefore.IsZero() {
			switch {
			case !ok:
				expired++
			case fin.WebhookID != e.WebhookID: // a gone subscription's entry
				expired++
				b, _ := json.Marshal(goneEntry(fin.SubscriptionID, e.At))
				kept.Write(append(b, '\n'))
			default:
				kept.Write(append(sc.Bytes(), '\n'))
			}
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
	if err := flush(); err != nil {
		return n, err
	}
	if expired > 0 {
		if err := rewriteJournal(path, kept.Bytes()); err != nil {
			return n, err
		}
	}
	return n, nil
}

// rewriteJournal replaces the file at path with b, durably: a crash
// leaves either file whole.
func rewriteJournal(path string, b []byte) error {
	tmp := path + ".new"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("notifier journal: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("notifier journal: %w", err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
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

// Trim implements notifier.Store: each batch of Webhook-Ids the store
// trims is forgotten by the journal first (in Kafka, a tombstone per
// Webhook-Id), the journal always ahead of the store. A trim cut short
// leaves Webhook-Ids forgotten by the journal and still in the store,
// past the horizon: the next trim, or a read-back, drops them. Each
// subscription gone among them gets its own entry first, which outlives
// the horizon (journalEntry.finished).
func (j *journaledStore) Trim(ctx context.Context, before time.Time) (int, error) {
	return j.Store.TrimFunc(ctx, before, func(ctx context.Context, fs []redisnotify.Finished) error {
		ids := make([]string, len(fs))
		gone := map[string]bool{}
		for i, f := range fs {
			ids[i] = f.WebhookID
			if f.Gone && !gone[f.SubscriptionID] {
				gone[f.SubscriptionID] = true
				if err := j.j.append(ctx, goneEntry(f.SubscriptionID, f.At.UnixMilli())); err != nil {
					return err
				}
			}
		}
		return j.j.forget(ctx, ids)
	})
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

// forget does nothing: a file cannot drop a line, and the entries of
// the Webhook-Ids trimmed are past the horizon, which the next read-back
// skips and drops (openFileJournal).
func (j *fileJournal) forget(context.Context, []string) error { return nil }

// Close closes the journal's file.
func (j *fileJournal) Close() error { return j.f.Close() }
