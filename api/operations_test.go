package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeOps records what the operations endpoints ask for.
type fakeOps struct {
	letters  []DeadLetter
	redriven [][]DeadLetterOffset
	all      []bool
	started  []string
	start    RebuildStarted   // what StartRebuild answers
	skip     map[int64]string // offsets Redrive leaves out, with why
	err      error
	hang     bool // DeadLetters waits for its context to end
}

func (o *fakeOps) DeadLetters(ctx context.Context, name string, limit int) ([]DeadLetter, bool, error) {
	if o.hang {
		<-ctx.Done()
		return nil, false, ctx.Err()
	}
	if o.err != nil {
		return nil, false, o.err
	}
	if name != "product-view" {
		return nil, false, fmt.Errorf("%q: %w", name, ErrUnknownProjection)
	}
	if len(o.letters) > limit {
		return o.letters[:limit], true, nil
	}
	return o.letters, false, nil
}

func (o *fakeOps) Redrive(_ context.Context, name string, offsets []DeadLetterOffset, all bool) (RedriveResult, error) {
	if o.err != nil {
		return RedriveResult{}, o.err
	}
	o.redriven, o.all = append(o.redriven, offsets), append(o.all, all)
	var out RedriveResult
	for _, off := range offsets {
		if why, ok := o.skip[off.Offset]; ok {
			out.Skipped = append(out.Skipped, SkippedLetter{DeadLetterOffset: off, Reason: why})
			continue
		}
		out.Redriven = append(out.Redriven, Redriven{DeadLetterOffset: off, Topic: "catalog.product-events", ToPartition: 2, ToOffset: 100 + off.Offset})
	}
	return out, nil
}

func (o *fakeOps) StartRebuild(_ context.Context, name string) (RebuildStarted, error) {
	if o.err != nil {
		return RebuildStarted{}, o.err
	}
	o.started = append(o.started, name)
	return o.start, nil
}

func (o *fakeOps) AbortRebuild(_ context.Context, name string) (AbortedRebuild, error) {
	if o.err != nil {
		return AbortedRebuild{}, o.err
	}
	return AbortedRebuild{Generation: 3, Group: true, Documents: true}, nil
}

func TestDeadLetters(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 1, 0, time.UTC)
	ops := &fakeOps{letters: []DeadLetter{
		{DeadLetterOffset{0, 4}, "catalog.product-events", 3, 77, "undecodable", "no header", "", "k1", at, "streamview.product-view.g1"},
		{DeadLetterOffset{0, 5}, "catalog.product-events", 1, 78, "rejected", "too big", "ProductCreated", "k2", at, "streamview.product-view.g2"},
	}}
	s := testServer(t, Deps{Operations: ops})
	w := serve(t, s.Handler(), request{method: "GET", path: "/v1/projections/product-view/dead-letters?limit=1"})
	want := `{"projection":"product-view","deadLetters":[{"partition":0,"offset":4,"sourceTopic":"catalog.product-events","sourcePartition":3,` +
		`"sourceOffset":77,"reason":"undecodable","error":"no header","eventType":"","aggregateId":"k1","time":"2026-11-26T10:00:01Z","group":"streamview.product-view.g1"}],"more":true}` + "\n"
	if w.Code != 200 || w.Body.String() != want {
		t.Errorf("%d %s\nwant %s", w.Code, w.Body, want)
	}
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/projections/nope/dead-letters"}), 404)
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/projections/product-view/dead-letters?limit=1001"}), 400, "limit")
	wantProblem(t, serve(t, testServer(t, Deps{}).Handler(), request{method: "GET", path: "/v1/projections/product-view/dead-letters"}), 503)
	ops.err = errors.New("kafka down")
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/projections/product-view/dead-letters"}), 503)
}

func TestRedrive(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		status  int
		fields  []string
		offsets []DeadLetterOffset
		all     bool
	}{
		{"numbers", `{"offsets":[4,5]}`, 200, nil, []DeadLetterOffset{{0, 4}, {0, 5}}, false},
		{"partition/offset strings", `{"offsets":["1/7","9"]}`, 200, nil, []DeadLetterOffset{{1, 7}, {0, 9}}, false},
		{"all", `{"all":true}`, 200, nil, []DeadLetterOffset{}, true},
		{"neither", `{}`, 422, []string{"offsets"}, nil, false},
		{"both", `{"all":true,"offsets":[1]}`, 422, []string{"all"}, nil, false},
		{"negative", `{"offsets":[-1]}`, 422, []string{"offsets[0]"}, nil, false},
		// Valid JSON that is no offset: the field is named, not "not valid JSON".
		{"not an offset", `{"offsets":[{"a":1}]}`, 400, []string{"offsets"}, nil, false},
		{"bad string", `{"offsets":["x/y"]}`, 400, []string{"offsets"}, nil, false},
		{"null offset", `{"offsets":[3,null]}`, 400, []string{"offsets[1]"}, nil, false}, // not offset 0
		{"unknown field", `{"offset":[1]}`, 400, nil, nil, false},
		{"too large", `{"offsets":[99999999999999999999]}`, 400, []string{"offsets"}, nil, false},
		{"a fraction", `{"offsets":[1.5]}`, 400, []string{"offsets"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ops := &fakeOps{}
			s := testServer(t, Deps{Operations: ops})
			w := serve(t, s.Handler(), request{method: "POST", path: "/v1/projections/product-view/dead-letters/redrive", body: tt.body})
			if tt.status != 200 {
				p := wantProblem(t, w, tt.status, tt.fields...)
				if strings.HasPrefix(tt.name, "too large") || tt.name == "a fraction" {
					// It is a number: the answer says which numbers.
					if len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Message, "whole number from 0 to") {
						t.Errorf("errors %+v, want the offsets' range", p.Errors)
					}
				}
				if len(ops.redriven) > 0 {
					t.Errorf("re-drove %v on a refused request", ops.redriven)
				}
				return
			}
			if w.Code != 200 || len(ops.redriven) != 1 || !reflect.DeepEqual(ops.redriven[0], tt.offsets) || ops.all[0] != tt.all {
				t.Fatalf("%d %s: re-drove %v all %v, want %v all %v", w.Code, w.Body, ops.redriven, ops.all, tt.offsets, tt.all)
			}
		})
	}
	ops := &fakeOps{err: fmt.Errorf("%w: past the end", ErrBadOffsets)}
	wantProblem(t, serve(t, testServer(t, Deps{Operations: ops}).Handler(),
		request{method: "POST", path: "/v1/projections/product-view/dead-letters/redrive", body: `{"offsets":[99]}`}), 422, "offsets")

	// Letters left out are listed beside those re-driven; when every
	// letter named is left out, nothing changed: a 422 that says why.
	ops = &fakeOps{skip: map[int64]string{5: "the record still fails (undecodable)"}}
	h := testServer(t, Deps{Operations: ops}).Handler()
	w := serve(t, h, request{method: "POST", path: "/v1/projections/product-view/dead-letters/redrive", body: `{"offsets":[4,5]}`})
	var got struct {
		Redriven []Redriven      `json:"redriven"`
		Skipped  []SkippedLetter `json:"skipped"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); w.Code != 200 || err != nil || len(got.Redriven) != 1 || got.Redriven[0].Offset != 4 ||
		len(got.Skipped) != 1 || got.Skipped[0].Offset != 5 || !strings.Contains(got.Skipped[0].Reason, "still fails") {
		t.Errorf("one of two left out: %d %s", w.Code, w.Body)
	}
	w = serve(t, h, request{method: "POST", path: "/v1/projections/product-view/dead-letters/redrive", body: `{"offsets":[5]}`})
	wantProblem(t, w, 422, "offsets")
	if !strings.Contains(w.Body.String(), "dead letter 5: not re-driven: the record still fails") {
		t.Errorf("every letter left out: %s, want the reason", w.Body)
	}
	w = serve(t, h, request{method: "POST", path: "/v1/projections/product-view/dead-letters/redrive", body: `{"all":true}`})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"skipped":[]`) {
		t.Errorf("all, none left: %d %s", w.Code, w.Body)
	}
}

func TestRebuildStartAndAbort(t *testing.T) {
	ops := &fakeOps{}
	s := testServer(t, Deps{Operations: ops})
	w := serve(t, s.Handler(), request{method: "POST", path: "/v1/projections/product-view/rebuild"})
	if w.Code != http.StatusAccepted || w.Header().Get("Location") != "/v1/projections" || len(ops.started) != 1 || ops.started[0] != "product-view" {
		t.Errorf("start: %d %s %v", w.Code, w.Body, ops.started)
	}
	if want := `{"projection":"product-view","status":"building"}` + "\n"; w.Body.String() != want {
		t.Errorf("start: %s, want %s", w.Body, want)
	}
	// A start that only finishes a stopped rebuild's retiring says so.
	ops.start = RebuildStarted{Retiring: true, From: 1}
	w = serve(t, s.Handler(), request{method: "POST", path: "/v1/projections/product-view/rebuild"})
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusAccepted || body["status"] != "retiring" || !strings.Contains(body["detail"], "retiring g1") {
		t.Errorf("start during a retiring: %d %s, want 202 retiring, naming g1", w.Code, w.Body)
	}
	ops.start = RebuildStarted{}
	w = serve(t, s.Handler(), request{method: "DELETE", path: "/v1/projections/product-view/rebuild"})
	if want := `{"projection":"product-view","status":"aborted","generation":3,"groupDeleted":true,"documentsRemoved":true}` + "\n"; w.Code != 200 || w.Body.String() != want {
		t.Errorf("abort: %d %s, want %s", w.Code, w.Body, want)
	}
	for _, tt := range []struct {
		err    error
		status int
	}{
		{ErrRebuildRunning, 409}, {ErrNoRebuild, 409}, {ErrRebuildSwapped, 409}, {ErrNotRebuildable, 409}, {ErrUnknownProjection, 404}, {errors.New("redis down"), 503},
	} {
		ops.err = fmt.Errorf("rebuild x: %w", tt.err)
		wantProblem(t, serve(t, s.Handler(), request{method: "POST", path: "/v1/projections/product-view/rebuild"}), tt.status)
		wantProblem(t, serve(t, s.Handler(), request{method: "DELETE", path: "/v1/projections/product-view/rebuild"}), tt.status)
	}
}

// The operations' reads are bounded by the query timeout: a store or a
// broker that never answers is a 503 with Retry-After in QueryTimeout, not
// a hang (GET /v1/projections hung for minutes on an Elasticsearch that
// accepted connections and never answered, and both waited 40 s on a
// stalled Kafka).
func TestOperationsReadsAreBounded(t *testing.T) {
	const timeout = 200 * time.Millisecond
	hang := func(ctx context.Context) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	s := testServer(t, Deps{Operations: &fakeOps{hang: true}, Projections: hang}, func(c *Config) { c.QueryTimeout = timeout })
	for _, path := range []string{"/v1/projections", "/v1/projections/product-view/dead-letters"} {
		t.Run(path, func(t *testing.T) {
			start := time.Now()
			w := serve(t, s.Handler(), request{method: "GET", path: path})
			took := time.Since(start)
			p := wantProblem(t, w, http.StatusServiceUnavailable)
			if w.Header().Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
			if !strings.Contains(p.Detail, "did not answer within "+timeout.String()) {
				t.Errorf("detail %q does not name the timeout", p.Detail)
			}
			if took > 10*timeout {
				t.Errorf("answered after %v, the query timeout is %v", took, timeout)
			}
		})
	}
}
