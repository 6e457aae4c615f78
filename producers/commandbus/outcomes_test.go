package commandbus_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

// TestRejectedFloodKeepsAccepted: the guarantee of the outcome budgets.
// A flood of rejected outcomes many times MaxRejectedBytes pushes out
// only older rejections: the accepted outcome decided before the flood
// is still known, and the rejections kept fit their budget.
func TestRejectedFloodKeepsAccepted(t *testing.T) {
	f := newFixture(t)
	const budget = 16 << 10
	r, _ := f.results(t, commandbus.ResultsConfig{MaxRejectedBytes: budget})
	<-r.Ready()

	first := accepted(commandbus.NewID(), commandbus.NewID(), 1)
	f.decide(t, true, first)
	var flood []schemas.CommandResult
	var floodBytes int64
	pid := commandbus.NewID() // one partition: read in the order written
	for i := range 1000 {
		res := schemas.CommandResult{CommandID: commandbus.NewID(), ProductID: pid, Status: schemas.StatusRejected,
			Code: schemas.RejectNotFound, Reason: fmt.Sprintf("product %d does not exist", i), DecidedAt: time.Now().UTC()}
		floodBytes += commandbus.ResultBytes(res)
		flood = append(flood, res)
	}
	if floodBytes < 10*budget {
		t.Fatalf("flood of %d bytes is not ten times the budget", floodBytes)
	}
	f.decide(t, true, flood...)
	testenv.Eventually(t, 30*time.Second, func() error {
		if n := r.Stats().Seen; n != int64(len(flood))+1 {
			return fmt.Errorf("%d results read, want %d", n, len(flood)+1)
		}
		return nil
	})

	if got, ok := r.Lookup(first.CommandID); !ok || got.Status != schemas.StatusAccepted || got.Version != 1 {
		t.Errorf("accepted outcome after the flood: %+v, %v; want it kept", got, ok)
	}
	if _, ok := r.Lookup(flood[len(flood)-1].CommandID); !ok {
		t.Error("the newest rejection is not kept")
	}
	if _, ok := r.Lookup(flood[0].CommandID); ok {
		t.Error("the oldest rejection is kept beyond the budget")
	}
	st := r.Stats()
	if max := budget + commandbus.ResultBytes(first); st.ResultBytes > max {
		t.Errorf("outcomes take %d bytes, want at most %d", st.ResultBytes, max)
	}
	if st.Results < 2 {
		t.Errorf("%d outcomes kept", st.Results)
	}
}
