package decider

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
)

func TestForget(t *testing.T) {
	for _, tc := range []struct {
		name     string
		oldest   int64
		max      int
		maxBytes int64
		want     []string
	}{
		{"keeps all", 0, 10, 1 << 20, []string{"c0", "c1", "c2", "c3", "c4"}},
		{"by age", 3, 10, 1 << 20, []string{"c3", "c4"}},
		{"by count", 0, 2, 1 << 20, []string{"c3", "c4"}},
		{"by bytes", 0, 10, 3 * decidedBytes("c0"), []string{"c2", "c3", "c4"}},
		{"bytes just short of one more", 0, 10, 2*decidedBytes("c0") - 1, []string{"c4"}},
		{"age and count", 4, 3, 1 << 20, []string{"c4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newPartState()
			for i := range 5 {
				s.remember(fmt.Sprintf("c%d", i), outcome{version: int64(i), at: int64(i)})
			}
			s.forget(tc.oldest, tc.max, tc.maxBytes)
			if s.bytes != int64(len(s.decided))*decidedBytes("c0") {
				t.Errorf("counts %d bytes for %d outcomes", s.bytes, len(s.decided))
			}
			if len(s.decided) != len(tc.want) {
				t.Errorf("remembers %d, want %v", len(s.decided), tc.want)
			}
			for _, id := range tc.want {
				if _, ok := s.decided[id]; !ok {
					t.Errorf("forgot %s", id)
				}
			}
		})
	}
}

func TestOverlay(t *testing.T) {
	base := newPartState()
	base.products["p"] = product.State{Exists: true, Version: 1}
	base.broken["q"] = "bad event"
	base.remember("old", outcome{version: 1, at: 1})

	o := newOverlay(base)
	o.products["p"] = product.State{Exists: true, Version: 2}
	o.decide("new", outcome{version: 2, at: 2, rejected: &rejection{code: schemas.RejectConflict, reason: "x"}})
	if s, _ := o.product("p"); s.Version != 2 {
		t.Errorf("overlay product version %d, want 2", s.Version)
	}
	if _, broken := o.product("q"); broken == "" {
		t.Error("overlay hides a broken product")
	}
	if _, ok := o.outcome("old"); !ok {
		t.Error("overlay hides the base's outcomes")
	}
	if base.products["p"].Version != 1 || len(base.decided) != 1 {
		t.Fatal("overlay changed its base before commit")
	}

	// An abort is dropping the overlay; a commit merges it.
	o.commit(0, 10, 1<<20, true)
	if base.products["p"].Version != 2 {
		t.Errorf("base version %d after commit, want 2", base.products["p"].Version)
	}
	out, ok := base.decided["new"]
	if res := out.result("new", "p"); !ok || res.Status != schemas.StatusRejected || res.Code != schemas.RejectConflict || res.ProductID != "p" {
		t.Errorf("committed outcome %+v", res)
	}
}

func TestEventID(t *testing.T) {
	a, b := EventID("cmd", 0), EventID("cmd", 1)
	if a == b || a != EventID("cmd", 0) || EventID("cmd2", 0) == a {
		t.Errorf("EventID not deterministic and distinct: %s %s", a, b)
	}
	if len(a) != 36 || a[14] != '5' {
		t.Errorf("EventID %s is not a version-5 UUID", a)
	}
}

// refusesSecondEvent is a codec that cannot encode a command's second
// event.
type refusesSecondEvent struct {
	Codec
	events int
}

func (c *refusesSecondEvent) EncodeEvent(e schemas.Event) ([]byte, error) {
	if c.events++; c.events == 2 {
		return nil, errors.New("refused")
	}
	return c.Codec.EncodeEvent(e)
}

// A command of several events, one of which does not encode, is rejected
// at the version it found, and the state evolves by none of its events:
// the first was evolved before the second failed, so the state ran one
// version ahead of the log (helper 90; no command makes two events yet).
func TestAcceptEvolvesOnlyWhenEveryEventEncodes(t *testing.T) {
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	d := &Decider{cfg: Config{EventsTopic: "events", ResultsTopic: "results"}.withDefaults(), codec: &refusesSecondEvent{Codec: codec}, log: slog.New(slog.DiscardHandler)}
	cmd := schemas.Command{ID: "c1", ProductID: "p1"}
	payloads := []schemas.EventData{&schemas.ProductStockChanged{Quantity: 1}, &schemas.ProductStockChanged{Quantity: 2}}
	var evolved []int64
	rejectedAt := int64(-1)
	reject := func(code, reason string, version int64) []*kgo.Record {
		rejectedAt = version
		return nil
	}
	_, err = d.accept(&kgo.Record{}, newOverlay(newPartState()), cmd, schemas.AggregateProduct, "p1", 5, payloads, time.Now(), &tally{}, d.log, reject,
		func(e schemas.Event) { evolved = append(evolved, e.Version) })
	if err != nil {
		t.Fatal(err)
	}
	if rejectedAt != 5 || len(evolved) != 0 {
		t.Fatalf("rejected at version %d with the state evolved by versions %v; want rejected at 5, nothing evolved", rejectedAt, evolved)
	}

	d.codec = codec // both encode: evolved by 6, then 7
	recs, err := d.accept(&kgo.Record{}, newOverlay(newPartState()), cmd, schemas.AggregateProduct, "p1", 5, payloads, time.Now(), &tally{}, d.log, reject,
		func(e schemas.Event) { evolved = append(evolved, e.Version) })
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || !slices.Equal(evolved, []int64{6, 7}) {
		t.Fatalf("%d records, evolved by %v; want 2 events and a result, evolved by [6 7]", len(recs), evolved)
	}
}
