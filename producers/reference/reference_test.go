package reference_test

import (
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/producers/reference"
	"github.com/streamview/streamview/schemas"
)

func cmd(key string, expected *int64, data schemas.CommandData) schemas.Command {
	return schemas.Command{ID: "8f0b6b52-9c4e-4a53-a1a4-0f7c7d8a3b11", ProductID: key, IssuedAt: time.Unix(1, 0),
		ExpectedVersion: expected, Data: data}
}

func ptr(v int64) *int64 { return &v }

func TestDecide(t *testing.T) {
	books := schemas.ReferenceKey(schemas.AggregateCategory, "books")
	acme := schemas.ReferenceKey(schemas.AggregateBrand, "acme")
	at2 := reference.State{Name: "Books", Version: 2}
	for _, tc := range []struct {
		name     string
		s        reference.State
		c        schemas.Command
		want     schemas.EventData // nil: no event
		rejected string            // a schemas.Reject* code
	}{
		{"create", reference.State{}, cmd(books, nil, &schemas.RenameCategory{Name: "Books"}), &schemas.CategoryRenamed{Name: "Books"}, ""},
		{"create brand", reference.State{}, cmd(acme, nil, &schemas.RenameBrand{Name: "Acme"}), &schemas.BrandRenamed{Name: "Acme"}, ""},
		{"rename", at2, cmd(books, nil, &schemas.RenameCategory{Name: "Livres"}), &schemas.CategoryRenamed{Name: "Livres"}, ""},
		{"rename, If-Match matches", at2, cmd(books, ptr(2), &schemas.RenameCategory{Name: "Livres"}), &schemas.CategoryRenamed{Name: "Livres"}, ""},
		{"same name: no-op", at2, cmd(books, nil, &schemas.RenameCategory{Name: "Books"}), nil, ""},
		{"same name, stale If-Match", at2, cmd(books, ptr(1), &schemas.RenameCategory{Name: "Books"}), nil, schemas.RejectConflict},
		{"If-Match on a new one", reference.State{}, cmd(books, ptr(1), &schemas.RenameCategory{Name: "Books"}), nil, schemas.RejectConflict},
		{"stale If-Match", at2, cmd(books, ptr(3), &schemas.RenameCategory{Name: "X"}), nil, schemas.RejectConflict},
		{"empty name", at2, cmd(books, nil, &schemas.RenameCategory{Name: ""}), nil, schemas.RejectInvalid},
		{"blank name", at2, cmd(books, nil, &schemas.RenameCategory{Name: "  "}), nil, schemas.RejectInvalid},
		{"a control character", at2, cmd(books, nil, &schemas.RenameCategory{Name: "a\x00b"}), nil, schemas.RejectInvalid},
		{"a line break", at2, cmd(books, nil, &schemas.RenameCategory{Name: "a\nb"}), nil, schemas.RejectInvalid},
		{"200 runes", at2, cmd(books, nil, &schemas.RenameCategory{Name: strings.Repeat("é", 200)}), &schemas.CategoryRenamed{Name: strings.Repeat("é", 200)}, ""},
		{"201 runes", at2, cmd(books, nil, &schemas.RenameCategory{Name: strings.Repeat("é", 201)}), nil, schemas.RejectInvalid},
		{"brand key on a category", at2, cmd(acme, nil, &schemas.RenameCategory{Name: "X"}), nil, schemas.RejectInvalid},
		{"product key", at2, cmd("8f0b6b52-9c4e-4a53-a1a4-0f7c7d8a3b11", nil, &schemas.RenameBrand{Name: "X"}), nil, schemas.RejectInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rej := reference.Decide(tc.s, tc.c)
			switch {
			case tc.rejected != "":
				if rej == nil || rej.Code != tc.rejected {
					t.Fatalf("Decide = %v, %v; want rejection %s", got, rej, tc.rejected)
				}
				return
			case rej != nil:
				t.Fatalf("Decide rejected: %v", rej)
			case tc.want == nil:
				if len(got) != 0 {
					t.Fatalf("Decide = %v, want no event", got)
				}
				return
			}
			if len(got) != 1 || got[0].EventType() != tc.want.EventType() || reference.Evolve(tc.s, schemas.Event{Version: tc.s.Version + 1, Data: got[0]}).Name != reference.Name(tc.c.Data) {
				t.Fatalf("Decide = %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestEvolve(t *testing.T) {
	var s reference.State
	if s.Exists() {
		t.Fatal("zero State exists")
	}
	s = reference.Evolve(s, schemas.Event{Version: 1, Data: &schemas.BrandRenamed{Name: "A"}})
	s = reference.Evolve(s, schemas.Event{Version: 2, Data: &schemas.BrandRenamed{Name: "B"}})
	if s != (reference.State{Name: "B", Version: 2}) || !s.Exists() {
		t.Fatalf("Evolve = %+v", s)
	}
}
