package topics

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// poll stops at the first done or error, and otherwise gives up after
// settleTimeout with try's last reason, or when the context ends.
func TestPoll(t *testing.T) {
	defer func(d time.Duration) { settleTimeout = d }(settleTimeout)
	settleTimeout = 300 * time.Millisecond
	boom := errors.New("boom")
	tests := []struct {
		name      string
		doneAt    int   // the call that reports done; 0: never
		failAt    int   // the call that fails; 0: never
		cancel    bool  // the context ends before the first call
		wantCalls int   // exact, or at least when minCalls
		minCalls  bool  // wantCalls is a minimum (the timeout case)
		wantErr   error // errors.Is
		wantText  string
	}{
		{name: "done at once", doneAt: 1, wantCalls: 1},
		{name: "done on the third try", doneAt: 3, wantCalls: 3},
		{name: "an error ends it", failAt: 2, wantCalls: 2, wantErr: boom},
		{name: "never done: the last reason after the timeout", wantCalls: 3, minCalls: true, wantText: "not settled after 300ms: not yet, "},
		{name: "the context ends", cancel: true, wantCalls: 1, wantErr: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			calls := 0
			err := poll(ctx, settleTimeout, func() (bool, error, error) {
				calls++
				if calls == tt.failAt {
					return false, nil, boom
				}
				return calls == tt.doneAt, errors.New("not yet, try " + string(rune('0'+calls%10))), nil
			})
			if tt.minCalls && calls < tt.wantCalls || !tt.minCalls && calls != tt.wantCalls {
				t.Errorf("%d calls, want %d", calls, tt.wantCalls)
			}
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			case tt.wantText != "":
				last := "try " + string(rune('0'+calls%10))
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantText) || !strings.HasSuffix(err.Error(), last) {
					t.Errorf("err = %v, want it to start %q and give the last reason (%s)", err, tt.wantText, last)
				}
			case err != nil:
				t.Errorf("err = %v", err)
			}
		})
	}
}
