package decider

import (
	"testing"
	"time"

	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

// TestRestartRemembersEveryOutcome: a command whose first outcome left no
// event (a rejection, an accepted no-op) is answered as the first time
// after a restart, although the state has changed since so that it would
// now yield an event: the new decider read the outcome back from the
// co-partitioned results partition.
func TestRestartRemembersEveryOutcome(t *testing.T) {
	tests := []struct {
		name string
		// before runs on the first decider and returns the command to
		// retry and its first outcome; after changes the state on the
		// second so that the retried command would now yield an event.
		before func(t *testing.T, b *bus, pid string) schemas.Command
		after  func(t *testing.T, b *bus, pid string)
		status string
	}{
		{
			name: "rejected-then-restart",
			before: func(t *testing.T, b *bus, pid string) schemas.Command {
				change := priceCmd(pid, 200) // no such product yet
				if res := b.do(t, change); res.Status != schemas.StatusRejected {
					t.Fatalf("first outcome %+v, want rejected", res)
				}
				return change
			},
			after: func(t *testing.T, b *bus, pid string) {
				if res := b.do(t, createCmd(pid, 100)); res.Status != schemas.StatusAccepted {
					t.Fatalf("create after the restart: %+v", res)
				}
			},
			status: schemas.StatusRejected,
		},
		{
			name: "no-op-then-restart",
			before: func(t *testing.T, b *bus, pid string) schemas.Command {
				if res := b.do(t, createCmd(pid, 100)); res.Status != schemas.StatusAccepted {
					t.Fatalf("create: %+v", res)
				}
				same := priceCmd(pid, 100) // the price it has: no event
				if res := b.do(t, same); res.Status != schemas.StatusAccepted || res.Version != 1 {
					t.Fatalf("first outcome %+v, want accepted at version 1", res)
				}
				return same
			},
			after: func(t *testing.T, b *bus, pid string) {
				if res := b.do(t, priceCmd(pid, 200)); res.Status != schemas.StatusAccepted {
					t.Fatalf("change after the restart: %+v", res)
				}
			},
			status: schemas.StatusAccepted,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 3)
			b := f.bus(t)
			first := f.start(t, f.config(), nil)
			pid := commandbus.NewID()
			retried := tt.before(t, b, pid)
			want, _ := b.results.Lookup(retried.ID)
			first.stop(t)

			second := f.start(t, f.config(), nil)
			tt.after(t, b, pid)
			ctx := waitFor(t, 60*time.Second)
			if _, err := b.send.Send(ctx, retried); err != nil { // the retry, same command ID
				t.Fatal(err)
			}
			// A later command of the same product is decided after the
			// retry (one partition, in order).
			if res := b.do(t, priceCmd(pid, 300)); res.Status != schemas.StatusAccepted {
				t.Fatalf("last change: %+v", res)
			}

			answers := 0
			for _, r := range f.readResults(t) {
				if r.CommandID != retried.ID {
					continue
				}
				answers++
				if r.Status != tt.status || r.Status != want.Status || r.Version != want.Version || r.Code != want.Code ||
					r.Reason != want.Reason || !r.DecidedAt.Equal(want.DecidedAt) {
					t.Errorf("answer %+v, want the first outcome %+v", r, want)
				}
			}
			if answers != 2 {
				t.Errorf("%d results for the retried command, want 2", answers)
			}
			for _, e := range f.readEvents(t) {
				if e.Metadata.CausationID == retried.ID {
					t.Errorf("event %s v%d caused by the retried command", e.Type(), e.Version)
				}
			}
			if st := second.d.Stats(); st.Duplicates != 1 || st.Rebuilds == 0 {
				t.Errorf("second decider stats %+v, want 1 duplicate after a rebuild", st)
			}
		})
	}
}
