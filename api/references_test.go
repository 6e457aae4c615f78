package api

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
)

// The fake views serve categories and brands too (ReferenceReader), from
// refs keyed by schemas.ReferenceKey.
var fakeRefs = map[string]productview.Reference{
	"category:books": {ID: "books", Name: "Books", Version: 3},
	"brand:acme":     {ID: "acme", Name: "ACME", Version: 1},
}

func (f *fakeViews) Reference(ctx context.Context, aggregateType, id string) (productview.Reference, bool, error) {
	r, ok := fakeRefs[schemas.ReferenceKey(aggregateType, id)]
	return r, ok, nil
}

func (f *fakeViews) Join(ctx context.Context, v productview.View) (productview.View, error) {
	if r, ok := fakeRefs[schemas.ReferenceKey(schemas.AggregateCategory, v.CategoryID)]; ok {
		v.CategoryName = r.Name
	}
	if r, ok := fakeRefs[schemas.ReferenceKey(schemas.AggregateBrand, v.BrandID)]; ok {
		v.BrandName = r.Name
	}
	return v, nil
}

func TestReferenceCommands(t *testing.T) {
	long := strings.Repeat("é", 201)
	tests := []struct {
		name    string
		rq      request
		decider func(schemas.Command) schemas.CommandResult
		status  int
		fields  []string // of a problem
		key     string   // the published command's key, when one is published
	}{
		{"category, 202", request{method: "PUT", path: "/v1/categories/books", body: `{"name":"Books"}`}, nil, 202, nil, "category:books"},
		{"brand, 202", request{method: "PUT", path: "/v1/brands/a.b-c_9", body: `{"name":"ABC"}`}, nil, 202, nil, "brand:a.b-c_9"},
		{"created: 201", request{method: "PUT", path: "/v1/categories/books", body: `{"name":"Books"}`, header: map[string]string{"Prefer": "wait=5"}}, accept(1), 201, nil, "category:books"},
		{"renamed: 200", request{method: "PUT", path: "/v1/brands/acme", body: `{"name":"Acme"}`, header: map[string]string{"Prefer": "wait=5"}}, accept(4), 200, nil, "brand:acme"},
		{"If-Match conflict: 409", request{method: "PUT", path: "/v1/categories/books", body: `{"name":"B"}`, header: map[string]string{"Prefer": "wait=5", "If-Match": `"1"`}},
			reject(schemas.RejectConflict, "If-Match names version 1, but the category is at version 2", 2), 409, nil, "category:books"},
		{"decider finds it invalid: 422", request{method: "PUT", path: "/v1/categories/books", body: `{"name":"B"}`, header: map[string]string{"Prefer": "wait=5"}},
			reject(schemas.RejectInvalid, "name too long", 2), 422, nil, "category:books"},
		{"ID with a space: 400", request{method: "PUT", path: "/v1/categories/a%20b", body: `{"name":"B"}`}, nil, 400, []string{"categoryId"}, ""},
		{"ID of 65 characters: 400", request{method: "PUT", path: "/v1/brands/" + strings.Repeat("x", 65), body: `{"name":"B"}`}, nil, 400, []string{"brandId"}, ""},
		{"ID ..: 400 (no URL can hold it)", request{method: "PUT", path: "/v1/brands/%2E%2E", body: `{"name":"B"}`}, nil, 400, []string{"brandId"}, ""},
		{"ID .: 400", request{method: "PUT", path: "/v1/categories/%2E", body: `{"name":"B"}`}, nil, 400, []string{"categoryId"}, ""},
		{"not JSON: 400", request{method: "PUT", path: "/v1/categories/books", body: `{"name":`}, nil, 400, nil, ""},
		{"wrong type: 400", request{method: "PUT", path: "/v1/categories/books", body: `{"name":7}`}, nil, 400, nil, ""},
		{"unknown field: 400", request{method: "PUT", path: "/v1/categories/books", body: `{"name":"B","id":"x"}`}, nil, 400, nil, ""},
		{"bad If-Match: 400", request{method: "PUT", path: "/v1/categories/books", body: `{"name":"B"}`, header: map[string]string{"If-Match": "x"}}, nil, 400, nil, ""},
		{"no name: 422", request{method: "PUT", path: "/v1/categories/books", body: `{}`}, nil, 422, []string{"name"}, ""},
		{"blank name: 422", request{method: "PUT", path: "/v1/brands/acme", body: `{"name":"  "}`}, nil, 422, []string{"name"}, ""},
		{"name of 201 characters: 422", request{method: "PUT", path: "/v1/brands/acme", body: `{"name":"` + long + `"}`}, nil, 422, []string{"name"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := newFakeBus()
			bus.decider = tt.decider
			s := testServer(t, Deps{Commands: bus})
			w := serve(t, s.Handler(), tt.rq)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if tt.status >= 400 {
				wantProblem(t, w, tt.status, tt.fields...)
			}
			sent := bus.commands()
			if tt.key == "" {
				if len(sent) != 0 {
					t.Fatalf("published %d commands, want none", len(sent))
				}
				return
			}
			if len(sent) != 1 || sent[0].ProductID != tt.key {
				t.Fatalf("published %+v, want one command keyed %q", sent, tt.key)
			}
			if err := sent[0].Validate(); err != nil {
				t.Errorf("published command: %v", err)
			}
			_, id, _ := schemas.ParseReferenceKey(tt.key)
			switch tt.status {
			case 202, 200, 201:
				a := decodeAs[referenceAnswer](t, w)
				if a.ID != id || a.CommandID != sent[0].ID {
					t.Errorf("answer %+v, want id %q and command %s", a, id, sent[0].ID)
				}
				if tt.status == 201 && w.Header().Get("Location") != "/v1/categories/books" {
					t.Errorf("Location = %q", w.Header().Get("Location"))
				}
				if tt.status != 202 && (a.Status != "accepted" || w.Header().Get("ETag") != etag(a.Version)) {
					t.Errorf("answer %+v, ETag %q", a, w.Header().Get("ETag"))
				}
			case 409, 422:
				// A rejection names the category or brand by its ID, not
				// by its internal key.
				var body map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
					t.Fatal(err)
				}
				if body["id"] != id || body["productId"] != nil || body["commandId"] != sent[0].ID {
					t.Errorf("rejection %v, want id %q, no productId, commandId %s", body, id, sent[0].ID)
				}
			}
		})
	}
}

func TestReferenceCommandPayload(t *testing.T) {
	bus := newFakeBus()
	s := testServer(t, Deps{Commands: bus})
	w := serve(t, s.Handler(), request{method: "PUT", path: "/v1/brands/acme", body: `{"name":"ACME Corp"}`, header: map[string]string{"If-Match": `"2"`}})
	if w.Code != http.StatusAccepted {
		t.Fatalf("status %d; %s", w.Code, w.Body)
	}
	c := bus.commands()[0]
	d, ok := c.Data.(*schemas.RenameBrand)
	if !ok || d.Name != "ACME Corp" || c.ExpectedVersion == nil || *c.ExpectedVersion != 2 {
		t.Fatalf("command %+v (data %+v), want RenameBrand ACME Corp expecting version 2", c, c.Data)
	}
}

func TestReferenceIdempotency(t *testing.T) {
	bus := newFakeBus()
	s := testServer(t, Deps{Commands: bus})
	put := request{method: "PUT", path: "/v1/categories/books", body: `{"name":"Books"}`, header: map[string]string{"Idempotency-Key": "k-1"}}
	first, second := serve(t, s.Handler(), put), serve(t, s.Handler(), put)
	if first.Code != 202 || second.Code != 202 {
		t.Fatalf("statuses %d, %d; want 202 twice", first.Code, second.Code)
	}
	if a, b := decodeAs[referenceAnswer](t, first), decodeAs[referenceAnswer](t, second); a != b {
		t.Fatalf("answers differ: %+v, %+v", a, b)
	}
	bus.decide(accept(1)(bus.commands()[0]))
	if third := serve(t, s.Handler(), put); third.Code != http.StatusCreated {
		t.Fatalf("after the outcome: %d, want the first outcome 201; %s", third.Code, third.Body)
	}
	// The same key on another body, or another category: 422, nothing more published.
	for _, rq := range []request{
		{method: "PUT", path: "/v1/categories/books", body: `{"name":"Livres"}`, header: put.header},
		{method: "PUT", path: "/v1/categories/other", body: `{"name":"Books"}`, header: put.header},
		{method: "PUT", path: "/v1/brands/books", body: `{"name":"Books"}`, header: put.header},
	} {
		if p := wantProblem(t, serve(t, s.Handler(), rq), http.StatusUnprocessableEntity); !strings.HasSuffix(p.Type, "/idempotency-key-reused") {
			t.Errorf("%s %s: problem type %q", rq.method, rq.path, p.Type)
		}
	}
	if n := len(bus.commands()); n != 1 {
		t.Fatalf("published %d commands, want 1", n)
	}
}

// TestReferenceCommandStatus: GET /v1/commands/{id} of a category's or
// brand's command names it by its ID, as the command's own answers do,
// never by its internal key ("category:books") as a productId.
func TestReferenceCommandStatus(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		decider func(schemas.Command) schemas.CommandResult
		want    map[string]any // without commandId
	}{
		{"pending", "/v1/categories/books", nil, map[string]any{"id": "books", "status": "pending"}},
		{"accepted", "/v1/brands/acme", accept(2), map[string]any{"id": "acme", "status": "accepted", "version": 2.0}},
		{"rejected", "/v1/categories/books", reject(schemas.RejectConflict, "If-Match names version 1, but the category is at version 2", 2),
			map[string]any{"id": "books", "status": "rejected", "version": 2.0, "code": "conflict", "reason": "If-Match names version 1, but the category is at version 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := newFakeBus()
			bus.decider, bus.timeOut = tt.decider, tt.decider == nil // a wait for the pending one ends at once
			s := testServer(t, Deps{Commands: bus})
			put := serve(t, s.Handler(), request{method: "PUT", path: tt.path, body: `{"name":"B"}`})
			if put.Code != http.StatusAccepted {
				t.Fatalf("PUT: %d %s", put.Code, put.Body)
			}
			cmdID := decodeAs[referenceAnswer](t, put).CommandID
			for _, prefer := range []string{"", "wait=1"} {
				w := serve(t, s.Handler(), request{method: "GET", path: "/v1/commands/" + cmdID, header: map[string]string{"Prefer": prefer}})
				if w.Code != http.StatusOK {
					t.Fatalf("GET: %d %s", w.Code, w.Body)
				}
				var got map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
					t.Fatal(err)
				}
				if got["commandId"] != cmdID {
					t.Errorf("Prefer %q: commandId %v, want %s", prefer, got["commandId"], cmdID)
				}
				delete(got, "commandId")
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("Prefer %q: answer %v, want %v", prefer, got, tt.want)
				}
			}
		})
	}
}

func TestGetReference(t *testing.T) {
	s := testServer(t, Deps{Views: newFakeViews()})
	w := serve(t, s.Handler(), request{method: "GET", path: "/v1/categories/books"})
	if w.Code != 200 || w.Header().Get("ETag") != `"3"` {
		t.Fatalf("GET category: %d ETag %q; %s", w.Code, w.Header().Get("ETag"), w.Body)
	}
	if got := decodeAs[productview.Reference](t, w); got != (productview.Reference{ID: "books", Name: "Books", Version: 3}) {
		t.Fatalf("category %+v", got)
	}
	if got := decodeAs[productview.Reference](t, serve(t, s.Handler(), request{method: "GET", path: "/v1/brands/acme"})); got.Name != "ACME" {
		t.Fatalf("brand %+v", got)
	}
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/brands/books"}), http.StatusNotFound)
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/categories/a%2Cb"}), http.StatusBadRequest, "categoryId")
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/categories/books?x=1"}), http.StatusBadRequest)
	if w := serve(t, s.Handler(), request{method: "GET", path: "/v1/categories/books", header: map[string]string{"If-None-Match": `"3"`}}); w.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", w.Code)
	}
	plain := testServer(t, Deps{Views: struct{ ViewReader }{newFakeViews()}})
	wantProblem(t, serve(t, plain.Handler(), request{method: "GET", path: "/v1/categories/books"}), http.StatusServiceUnavailable)
}

// A view whose category or brand name was joined may change under the same
// version: If-None-Match on the version never answers 304 for it.
func TestJoinedViewIsNotCachedByVersion(t *testing.T) {
	v := productview.View{ID: productID, Name: "Lamp", CategoryID: "books", CategoryName: "Books", Version: 2, Joined: true}
	plain := v
	plain.ID, plain.Joined = "00000000-0000-4000-8000-000000000002", false
	s := testServer(t, Deps{Views: newFakeViews(v, plain)})
	w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID, header: map[string]string{"If-None-Match": `"2"`}})
	if w.Code != http.StatusOK || w.Header().Get("ETag") != `"2"` {
		t.Fatalf("joined view with If-None-Match of its version: %d ETag %q, want 200 and ETag \"2\"", w.Code, w.Header().Get("ETag"))
	}
	if w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + plain.ID, header: map[string]string{"If-None-Match": `"2"`}}); w.Code != http.StatusNotModified {
		t.Fatalf("view without joined names: %d, want 304", w.Code)
	}
}
