//go:build unix

package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/testenv"
)

// A dev started while the one before is still being torn down (its lock
// not yet released) waits for the lock, saying so, and takes it; a lock
// that stays held is refused after the wait, naming its holder.
func TestLockDataWaitsForAProcessEnding(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	release, err := lockData(ctx, dir, time.Second, &testenv.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var said testenv.Buffer
	got := make(chan error, 1)
	go func() {
		r, err := lockData(ctx, dir, time.Minute, &said)
		if err == nil {
			r()
		}
		got <- err
	}()
	testenv.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(said.String(), "waiting up to 1m0s for it to end") {
			return testenv.Errorf("the second lock says %q", said.String())
		}
		return nil
	})
	release() // the first process ends
	if err := <-got; err != nil {
		t.Fatalf("the lock released while waiting: %v", err)
	}

	release, err = lockData(ctx, dir, time.Second, &testenv.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	began := time.Now()
	_, err = lockData(ctx, dir, 300*time.Millisecond, &testenv.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "is in use by process") || time.Since(began) < 300*time.Millisecond {
		t.Fatalf("a lock held for good: %v after %v, want it refused after the wait", err, time.Since(began))
	}
}
