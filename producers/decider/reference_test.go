package decider

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

func renameCmd(typ, id, name string, expected *int64) schemas.Command {
	c := schemas.Command{
		ID: commandbus.NewID(), ProductID: schemas.ReferenceKey(typ, id), ExpectedVersion: expected,
		Metadata: schemas.Metadata{CorrelationID: commandbus.NewID(), UserID: "user-1"},
	}
	if typ == schemas.AggregateCategory {
		c.Data = &schemas.RenameCategory{Name: name}
	} else {
		c.Data = &schemas.RenameBrand{Name: name}
	}
	return c
}

// Categories and brands are aggregates of their own, decided on the
// partition of their reference key: created at version 1, +1 per rename,
// a same-name rename accepted with no event, If-Match and the name checked,
// and a restarted decider (from its snapshot, then from the log alone)
// knows them.
func TestReferenceAggregates(t *testing.T) {
	f := newFixture(t, 3)
	b := f.bus(t)
	cfg := f.config()
	cfg.SnapshotEvery = 1 // a snapshot after every batch: the restart restores from it
	first := f.start(t, cfg, nil)
	v := func(n int64) *int64 { return &n }

	steps := []struct {
		name    string
		cmd     schemas.Command
		status  string
		code    string
		version int64
	}{
		{"create", renameCmd(schemas.AggregateCategory, "books", "Books", nil), schemas.StatusAccepted, "", 1},
		{"create a brand of the same ID", renameCmd(schemas.AggregateBrand, "books", "Books Inc", nil), schemas.StatusAccepted, "", 1},
		{"rename", renameCmd(schemas.AggregateCategory, "books", "Livres", v(1)), schemas.StatusAccepted, "", 2},
		{"same name: no event", renameCmd(schemas.AggregateCategory, "books", "Livres", nil), schemas.StatusAccepted, "", 2},
		{"stale If-Match", renameCmd(schemas.AggregateCategory, "books", "X", v(1)), schemas.StatusRejected, schemas.RejectConflict, 2},
		{"If-Match on a new one", renameCmd(schemas.AggregateBrand, "new", "X", v(1)), schemas.StatusRejected, schemas.RejectConflict, 0},
		{"name too long", renameCmd(schemas.AggregateCategory, "books", strings.Repeat("n", 201), nil), schemas.StatusRejected, schemas.RejectInvalid, 2},
	}
	for _, s := range steps {
		res := b.do(t, s.cmd)
		if res.Status != s.status || res.Code != s.code || res.Version != s.version {
			t.Fatalf("%s: %+v, want %s %s at version %d", s.name, res, s.status, s.code, s.version)
		}
		if res.ProductID != s.cmd.ProductID {
			t.Fatalf("%s: result keyed %q, want %q", s.name, res.ProductID, s.cmd.ProductID)
		}
	}
	first.stop(t)
	if first.d.Stats().Snapshots == 0 {
		t.Fatalf("no snapshot written: %+v", first.d.Stats())
	}

	// Restored from the snapshot, then from the events alone.
	for _, snapshots := range []int{1, -1} {
		cfg := f.config()
		cfg.SnapshotEvery = snapshots
		r := f.start(t, cfg, nil)
		if res := b.do(t, renameCmd(schemas.AggregateCategory, "books", "Livres", nil)); res.Status != schemas.StatusAccepted || res.Version != 2 {
			t.Fatalf("same name after a restart (snapshots %d): %+v, want accepted at version 2", snapshots, res)
		}
		if res := b.do(t, renameCmd(schemas.AggregateBrand, "books", "Books Inc", v(1))); res.Status != schemas.StatusAccepted || res.Version != 1 {
			t.Fatalf("brand after a restart (snapshots %d): %+v, want the no-op at version 1", snapshots, res)
		}
		if snapshots > 0 && r.d.Stats().SnapshotRestores == 0 {
			t.Errorf("the restarted decider restored no partition from a snapshot: %+v", r.d.Stats())
		}
		r.stop(t)
	}
	r := f.start(t, f.config(), nil)
	if res := b.do(t, renameCmd(schemas.AggregateCategory, "books", "Bücher", v(2))); res.Status != schemas.StatusAccepted || res.Version != 3 {
		t.Fatalf("rename after restarts: %+v, want accepted at version 3", res)
	}
	r.stop(t)

	var got []string
	for _, rec := range f.readAll(t, f.events) {
		e, err := f.codec.DecodeEvent(rec.Value)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Validate(); err != nil {
			t.Errorf("%s: %v", e.Type(), err)
		}
		if want := schemas.ReferenceKey(e.AggregateType, e.AggregateID); string(rec.Key) != want {
			t.Errorf("%s keyed %q, want %q", e.Type(), rec.Key, want)
		}
		var name string
		switch d := e.Data.(type) {
		case *schemas.CategoryRenamed:
			name = d.Name
		case *schemas.BrandRenamed:
			name = d.Name
		}
		got = append(got, e.AggregateType+"/"+e.AggregateID+"@"+itoa(e.Version)+"="+name)
	}
	want := []string{"Category/books@1=Books", "Brand/books@1=Books Inc", "Category/books@2=Livres", "Category/books@3=Bücher"}
	if strings.Join(sortedCopy(got), ",") != strings.Join(sortedCopy(want), ",") {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func sortedCopy(s []string) []string { return slices.Sorted(slices.Values(s)) }
