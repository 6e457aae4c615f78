package webhook

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A warning repeated while a server stays down is logged at the first
// failure, then once per period with the failures since.
func TestThrottle(t *testing.T) {
	t0 := time.Unix(1_000, 0)
	th := throttle{every: 10 * time.Second}
	for _, step := range []struct {
		name   string
		at     time.Duration
		ok     bool
		failed int
	}{
		{"the first failure", 0, true, 1},
		{"within the period", time.Second, false, 0},
		{"again within it", 9 * time.Second, false, 0},
		{"the period over", 10 * time.Second, true, 3},
		{"right after", 10*time.Second + time.Millisecond, false, 0},
		{"long after", time.Hour, true, 2},
	} {
		ok, failed := th.allow(t0.Add(step.at))
		if ok != step.ok || failed != step.failed {
			t.Errorf("%s: allow = %v, %d; want %v, %d", step.name, ok, failed, step.ok, step.failed)
		}
	}
}

// retrying a store that stays down logs "cannot queue a batch's
// notifications" once, not at each backoff step (about 13 lines a
// second while Redis was down).
func TestRetryingWarnsOncePerPeriod(t *testing.T) {
	var logs bytes.Buffer
	n := &Notifier{cfg: Config{Topic: "events"}.withDefaults(), log: slog.New(slog.NewTextHandler(&logs, nil))}
	calls := 0
	err := n.retrying(context.Background(), "queue a batch's notifications", func() error {
		calls++
		if calls < 4 {
			return errors.New("connection refused")
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("retrying = %v after %d calls; want nil after 4", err, calls)
	}
	if got := strings.Count(logs.String(), "cannot queue a batch's notifications"); got != 1 {
		t.Errorf("%d warnings for 3 failures in a period, want 1:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), "failed_attempts=1") {
		t.Errorf("the warning does not count the failed attempts:\n%s", logs.String())
	}
}
