package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
)

// fakeHistory serves the events of productID from memory.
type fakeHistory struct {
	events []schemas.Event
	err    error
	calls  int
}

func (h *fakeHistory) Events(_ context.Context, id string, from int64, limit int) ([]schemas.Event, int64, bool, error) {
	h.calls++
	if h.err != nil {
		return nil, 0, false, h.err
	}
	if id != productID || len(h.events) == 0 {
		return nil, 0, false, nil
	}
	var out []schemas.Event
	for _, e := range h.events {
		if e.Version >= from && len(out) < limit {
			out = append(out, e)
		}
	}
	next := int64(0)
	if len(out) == limit && from+int64(limit) <= int64(len(h.events)) {
		next = from + int64(limit)
	}
	return out, next, true, nil
}

func historyOf(n int) *fakeHistory {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	md := schemas.Metadata{CorrelationID: "corr", CausationID: "cmd", UserID: "u1"}
	h := &fakeHistory{events: []schemas.Event{{ID: "e1", AggregateType: "Product", AggregateID: productID, Version: 1, Timestamp: at, Metadata: md,
		Data: &schemas.ProductCreated{Name: "Lamp", Description: "Warm", Price: schemas.Money{Amount: 1000, Currency: "EUR"},
			CategoryID: "lamps", CategoryName: "Lamps", BrandID: "lumen", BrandName: "Lumen", Stock: 1}}}}
	for v := 2; v <= n; v++ {
		h.events = append(h.events, schemas.Event{ID: "e" + string(rune('0'+v)), AggregateType: "Product", AggregateID: productID, Version: int64(v),
			Timestamp: at.Add(time.Duration(v) * time.Minute), Metadata: md,
			Data: &schemas.ProductPriceChanged{OldPrice: schemas.Money{Amount: int64(1000 + v - 1), Currency: "EUR"}, NewPrice: schemas.Money{Amount: int64(1000 + v), Currency: "EUR"}}})
	}
	return h
}

func TestProductEvents(t *testing.T) {
	s := testServer(t, Deps{History: historyOf(5)})
	tests := []struct {
		name     string
		query    string
		versions []int64
		next     int64
	}{
		{"all", "", []int64{1, 2, 3, 4, 5}, 0},
		{"a page", "?limit=2", []int64{1, 2}, 3},
		{"from the middle", "?fromVersion=4", []int64{4, 5}, 0},
		{"the last page exactly", "?fromVersion=4&limit=2", []int64{4, 5}, 0},
		{"past the end", "?fromVersion=9", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "/events" + tt.query})
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			page := decodeAs[historyPage](t, w)
			var got []int64
			for _, e := range page.Events {
				got = append(got, e.Version)
			}
			if len(got) != len(tt.versions) || page.NextFromVersion != tt.next {
				t.Fatalf("versions %v next %d, want %v next %d", got, page.NextFromVersion, tt.versions, tt.next)
			}
			for i := range got {
				if got[i] != tt.versions[i] {
					t.Fatalf("versions %v, want %v", got, tt.versions)
				}
			}
		})
	}

	w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "/events?limit=1"})
	want := `{"events":[{"eventId":"e1","eventType":"ProductCreated","version":1,"timestamp":"2025-03-01T12:00:00.000Z",` +
		`"data":{"name":"Lamp","description":"Warm","price":{"amount":1000,"currency":"EUR"},"categoryId":"lamps","categoryName":"Lamps",` +
		`"brandId":"lumen","brandName":"Lumen","tags":null,"imageUrls":null,"stock":1},` +
		`"metadata":{"correlationId":"corr","causationId":"cmd","userId":"u1"}}],"nextFromVersion":2}` + "\n"
	if w.Body.String() != want {
		t.Errorf("body\n%s\nwant\n%s", w.Body, want)
	}
}

func TestProductEventsRefused(t *testing.T) {
	s := testServer(t, Deps{History: historyOf(2)})
	for _, tt := range []struct {
		name, path string
		status     int
		fields     []string
	}{
		{"limit 0", "/v1/products/" + productID + "/events?limit=0", 400, []string{"limit"}},
		{"limit over 1000", "/v1/products/" + productID + "/events?limit=1001", 400, []string{"limit"}},
		{"fromVersion 0", "/v1/products/" + productID + "/events?fromVersion=0", 400, []string{"fromVersion"}},
		{"fromVersion not a number", "/v1/products/" + productID + "/events?fromVersion=-1", 400, []string{"fromVersion"}},
		{"unknown parameter", "/v1/products/" + productID + "/events?x=1", 400, []string{"x"}},
		{"malformed id", "/v1/products/nope/events", 400, []string{"id"}},
		{"unknown product", "/v1/products/7d0e2f5a-3b1c-4c8e-9a6f-2d4b8e1f0c3a/events", 404, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: tt.path}), tt.status, tt.fields...)
		})
	}
	t.Run("no history configured", func(t *testing.T) {
		s := testServer(t, Deps{})
		wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "/events"}), 503)
	})
	t.Run("store fails", func(t *testing.T) {
		s := testServer(t, Deps{History: &fakeHistory{err: errors.New("kafka down")}})
		wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "/events"}), 503)
	})
}

// TestProductEventsCheckedAgainstTheView: where the history index ends a
// product's history, the view, which follows the same events, says
// whether it ends there. While Redis is read again after it lost its data
// (the view has no live generation) or the index is behind the view, a
// read answers 503 with Retry-After: it answered 404 for a product that
// exists, or a page cut short without nextFromVersion.
func TestProductEventsCheckedAgainstTheView(t *testing.T) {
	noLive := fmt.Errorf("%w: sv:product-view:live is not set", productview.ErrNoLive)
	tests := []struct {
		name     string
		index    int   // the index holds versions 1..index
		view     int64 // the view's version, 0: unknown
		viewErr  error
		query    string
		status   int
		versions int   // events answered
		next     int64 // nextFromVersion answered
	}{
		{"the index has all the view has", 5, 5, nil, "", 200, 5, 0},
		{"the view behind the index", 5, 3, nil, "", 200, 5, 0},
		{"a product the view does not know yet", 2, 0, nil, "", 200, 2, 0},
		{"unknown to both", 0, 0, nil, "", 404, 0, 0},
		{"unknown to the index, known to the view", 0, 4, nil, "", 503, 0, 0},
		{"a page cut short of the view", 3, 5, nil, "", 503, 0, 0},
		{"a page cut short within the limit", 3, 9, nil, "?limit=5", 503, 0, 0},
		{"a full page where the index ends", 3, 5, nil, "?limit=3", 200, 3, 4},
		{"a full page where both end", 3, 3, nil, "?limit=3", 200, 3, 0},
		{"past the end of both", 3, 3, nil, "?fromVersion=4", 200, 0, 0},
		{"past the end of the index, not of the view", 3, 5, nil, "?fromVersion=4", 503, 0, 0},
		{"unknown to the index, past the end of the view", 0, 4, nil, "?fromVersion=6", 503, 0, 0},
		{"the view without a live generation", 3, 0, noLive, "", 503, 0, 0},
		{"the view without a live generation, an unknown product", 0, 0, noLive, "", 503, 0, 0},
		{"the view failing", 3, 0, errors.New("redis down"), "", 503, 0, 0},
		{"a page the index continues: the view is not read", 5, 0, errors.New("not read"), "?limit=2", 200, 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := historyOf(max(tt.index, 1))
			h.events = h.events[:tt.index]
			views := newFakeViews()
			if tt.view > 0 {
				views.put(view(tt.view))
			}
			views.err = tt.viewErr
			s := testServer(t, Deps{History: h, Views: views}, func(c *Config) { c.ReadWait = 20 * time.Millisecond })
			w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "/events" + tt.query})
			if tt.status != http.StatusOK {
				wantProblem(t, w, tt.status)
				if tt.status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
					t.Errorf("503 without Retry-After")
				}
				return
			}
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			page := decodeAs[historyPage](t, w)
			if len(page.Events) != tt.versions || page.NextFromVersion != tt.next {
				t.Errorf("%d events, nextFromVersion %d; want %d, %d", len(page.Events), page.NextFromVersion, tt.versions, tt.next)
			}
		})
	}
}

func TestGetProductAsOfVersion(t *testing.T) {
	h := historyOf(1500) // more than one page of history
	short := func(c *Config) { c.ReadWait = 20 * time.Millisecond }
	s := testServer(t, Deps{History: h, Views: newFakeViews(view(1500))}, short)
	for _, v := range []int64{1, 2, 1001, 1500} {
		h.calls = 0
		w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "?asOfVersion=" + itoa64(v)})
		if w.Code != http.StatusOK {
			t.Fatalf("asOfVersion=%d: status %d: %s", v, w.Code, w.Body)
		}
		got := decodeAs[map[string]any](t, w)
		wantAmount := "10.00"
		if v > 1 {
			wantAmount = formatCents(1000 + v)
		}
		if got["version"] != float64(v) || got["price"].(map[string]any)["amount"] != wantAmount || got["name"] != "Lamp" ||
			w.Header().Get("ETag") != `"`+itoa64(v)+`"` {
			t.Errorf("asOfVersion=%d: %v ETag %s, want price %s", v, got, w.Header().Get("ETag"), wantAmount)
		}
		if wantCalls := int((v + MaxHistoryLimit - 1) / MaxHistoryLimit); h.calls != wantCalls {
			t.Errorf("asOfVersion=%d: %d reads of the history, want %d", v, h.calls, wantCalls)
		}
	}
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "?asOfVersion=1501"}), 404)
	// The view is at 1600 and the index not yet: try again, not 404.
	behind := testServer(t, Deps{History: h, Views: newFakeViews(view(1600))}, short)
	wantProblem(t, serve(t, behind.Handler(), request{method: "GET", path: "/v1/products/" + productID + "?asOfVersion=1501"}), 503)
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/7d0e2f5a-3b1c-4c8e-9a6f-2d4b8e1f0c3a?asOfVersion=1"}), 404)
	// Redis lost its data: the view has no live generation and the index
	// does not know the product yet. Try again, not "never had".
	lost := newFakeViews()
	lost.err = fmt.Errorf("%w: sv:product-view:live is not set", productview.ErrNoLive)
	refilled := testServer(t, Deps{History: &fakeHistory{}, Views: lost}, short)
	w := serve(t, refilled.Handler(), request{method: "GET", path: "/v1/products/" + productID + "?asOfVersion=2"})
	if wantProblem(t, w, 503); w.Header().Get("Retry-After") == "" {
		t.Errorf("asOfVersion while the view has no live generation: 503 without Retry-After")
	}
	// Version 0 is well-formed, and no product ever had it.
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "?asOfVersion=0"}), 404)
	for _, q := range []string{"asOfVersion=-1", "asOfVersion=x", "asOfVersion=2&minVersion=1", "asOfVersion=1&asOfVersion=2"} {
		wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "?" + q}), 400)
	}
}

func itoa64(v int64) string { return strconv.FormatInt(v, 10) }

func formatCents(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }

// laggingHistory is an index a few milliseconds behind the log: it holds
// versions 1..shown of fakeHistory's events until at, then all of them.
type laggingHistory struct {
	fakeHistory
	shown int
	at    time.Time
}

func (h *laggingHistory) Events(ctx context.Context, id string, from int64, limit int) ([]schemas.Event, int64, bool, error) {
	f := h.fakeHistory
	if time.Now().Before(h.at) {
		f.events = f.events[:h.shown]
	}
	return f.Events(ctx, id, from, limit)
}

// TestHistoryReadsItsWrites: right after a command's answer (version V),
// the history has V: a read waits for the index, a few milliseconds
// behind the log, when the view has a version it lacks, or when it asks
// for what neither has yet. It answered 404 ("No product … is known",
// "never had version 1") right after a create, a page without V, or a
// 503 at once. An index that does not catch up within the wait is a 503
// for what the view has, and the usual answer otherwise.
func TestHistoryReadsItsWrites(t *testing.T) {
	const lag = 30 * time.Millisecond
	tests := []struct {
		name       string
		events     int   // the log holds versions 1..events
		index      int   // the index holds 1..index for lag
		view       int64 // the view's version for lag
		viewAfter  int64 // then
		never      bool  // the index does not catch up
		path       string
		status     int
		version    int64 // asOfVersion's answer, or the last event's
		wantEvents int
	}{
		{"events right after a create", 1, 0, 0, 1, false, "/events", 200, 1, 1},
		{"events right after a change, the view has it", 3, 2, 3, 3, false, "/events", 200, 3, 3},
		{"events right after a change, from its version", 3, 2, 2, 3, false, "/events?fromVersion=3", 200, 3, 1},
		{"asOfVersion=1 right after a create", 1, 0, 0, 1, false, "?asOfVersion=1", 200, 1, 0},
		{"asOfVersion right after a change, the view has it", 3, 2, 3, 3, false, "?asOfVersion=3", 200, 3, 0},
		{"asOfVersion right after a change, the view has it not", 3, 2, 2, 3, false, "?asOfVersion=3", 200, 3, 0},
		{"the index behind the view for good", 3, 2, 3, 3, true, "/events", 503, 0, 0},
		{"asOfVersion behind the view for good", 3, 2, 3, 3, true, "?asOfVersion=3", 503, 0, 0},
		{"an unknown product", 0, 0, 0, 0, true, "/events", 404, 0, 0},
		{"a version never had", 3, 3, 3, 3, true, "?asOfVersion=4", 404, 0, 0},
		{"past the end", 3, 3, 3, 3, true, "/events?fromVersion=4", 200, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &laggingHistory{fakeHistory: *historyOf(max(tt.events, 1)), shown: tt.index, at: time.Now().Add(lag)}
			h.events = h.events[:tt.events]
			if tt.never {
				h.at = time.Now().Add(time.Hour)
			}
			views := newFakeViews()
			if tt.view > 0 {
				views.put(view(tt.view))
			}
			time.AfterFunc(lag, func() {
				if tt.viewAfter > 0 {
					views.put(view(tt.viewAfter))
				}
			})
			s := testServer(t, Deps{History: h, Views: views}, func(c *Config) { c.ReadWait = 300 * time.Millisecond })
			start := time.Now()
			w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + tt.path})
			if tt.status != http.StatusOK {
				wantProblem(t, w, tt.status)
				if tt.status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
					t.Errorf("503 without Retry-After")
				}
				if took := time.Since(start); took < 300*time.Millisecond {
					t.Errorf("answered %d after %v: before the index had a chance to catch up", tt.status, took)
				}
				return
			}
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if strings.HasPrefix(tt.path, "?") {
				if v := decodeAs[map[string]any](t, w)["version"]; v != float64(tt.version) {
					t.Errorf("version %v, want %d", v, tt.version)
				}
				return
			}
			page := decodeAs[historyPage](t, w)
			if len(page.Events) != tt.wantEvents || len(page.Events) > 0 && page.Events[len(page.Events)-1].Version != tt.version {
				t.Errorf("%d events, want %d up to version %d: %+v", len(page.Events), tt.wantEvents, tt.version, page)
			}
		})
	}
}
