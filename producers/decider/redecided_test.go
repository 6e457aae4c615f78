package decider

import (
	"testing"
	"time"

	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

// TestRedecidedKeepsItsFingerprintAcrossARestart: a keyed command forgotten
// by the decider within its idempotency window (MaxDecided) and sent again
// by another request with its key (a reuse from an API that forgot the key)
// is decided anew: the decider remembers the second decision, for the
// second request. A restart must remember the same: a retry of the second
// request is answered with the second outcome and the second request's
// fingerprint, not the first request's (which an API answers 422 for, and
// binds the key to the first request again, answering the first request's
// retries with the second request's outcome).
func TestRedecidedKeepsItsFingerprintAcrossARestart(t *testing.T) {
	for _, tc := range []struct {
		name          string
		snapshotEvery int
	}{
		{"from the events", -1}, // the outcome known from its events, its fingerprint from its results
		{"from a snapshot", 1},  // the outcome known from its results alone
	} {
		t.Run(tc.name, func(t *testing.T) { testRedecided(t, tc.snapshotEvery) })
	}
}

func testRedecided(t *testing.T, snapshotEvery int) {
	f := newFixture(t, 1)
	cfg := f.config()
	cfg.MaxDecided = 4
	cfg.SnapshotEvery = snapshotEvery
	first := f.start(t, cfg, nil)
	b := f.bus(t)
	raw, err := commandbus.NewSender(commandbus.SenderConfig{Brokers: f.brokers, Topic: f.commands}, f.codec)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx := waitFor(t, 60*time.Second)

	pid := commandbus.NewID()
	b.do(t, createCmd(pid, 100))
	key := "key-" + pid
	keyed := func(price int64) (schemas.Command, string) { return keyedPrice(pid, key, price) }
	// answers waits for n results of the command and returns them.
	answers := func(id string, n int) []schemas.CommandResult {
		t.Helper()
		for {
			var out []schemas.CommandResult
			for _, r := range f.readResults(t) {
				if r.CommandID == id {
					out = append(out, r)
				}
			}
			if len(out) >= n {
				return out
			}
			if ctx.Err() != nil {
				t.Fatalf("%d results of %s, want %d", len(out), id, n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	r1, fp1 := keyed(200)
	if _, err := raw.SendBound(ctx, r1, fp1); err != nil {
		t.Fatal(err)
	}
	answers(r1.ID, 1)
	for i := range cfg.MaxDecided { // the first decision is forgotten
		b.do(t, priceCmd(pid, int64(110+i)))
	}
	r2, fp2 := keyed(300)
	if _, err := raw.SendBound(ctx, r2, fp2); err != nil {
		t.Fatal(err)
	}
	got := answers(r1.ID, 2)
	o1, o2 := got[0], got[1]
	if o1.Fingerprint != fp1 || o2.Fingerprint != fp2 || o2.Version <= o1.Version {
		t.Fatalf("decisions %+v and %+v, want the second decided anew for the second request", o1, o2)
	}
	retry := func(n int) schemas.CommandResult {
		t.Helper()
		if _, err := raw.SendBound(ctx, r2, fp2); err != nil {
			t.Fatal(err)
		}
		return answers(r2.ID, n)[n-1]
	}
	if res := retry(3); !sameOutcome(res, o2) || res.Fingerprint != fp2 {
		t.Fatalf("a retry of the second request before the restart: %+v, want %+v", res, o2)
	}

	first.stop(t)
	f.start(t, cfg, nil)
	if res := retry(4); !sameOutcome(res, o2) || res.Fingerprint != fp2 {
		t.Errorf("a retry of the second request after the restart: version %d at %v fingerprint %.8s, want the second outcome: version %d at %v fingerprint %.8s (the first request's is %.8s)",
			res.Version, res.DecidedAt, res.Fingerprint, o2.Version, o2.DecidedAt, fp2, fp1)
	}
}

// sameOutcome reports whether a and b are one decision.
func sameOutcome(a, b schemas.CommandResult) bool {
	return a.Status == b.Status && a.Version == b.Version && a.DecidedAt.Equal(b.DecidedAt)
}
