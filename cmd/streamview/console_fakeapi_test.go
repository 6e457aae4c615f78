package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamview/streamview/api"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
)

// The console in the browser over an API whose parts are fakes: what the
// tour over a running instance cannot stage at will (a server that goes
// away and comes back) or would wait long for (a history of a given
// shape).

// Modes of a flakyAPI.
const (
	apiUp          = iota
	apiUnreachable // every /v1/ request's connection closed unanswered, as a stopped instance's
	apiUnavailable // every /v1/ request answered 503
)

// flakyAPI serves an API, or fails its /v1/ requests as mode says; the
// console's own files are served in every mode, so that a page can open
// while the API is down.
type flakyAPI struct {
	h    http.Handler
	mode atomic.Int32
}

func (f *flakyAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/v1/") {
		switch f.mode.Load() {
		case apiUnreachable:
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
				return
			}
			panic(http.ErrAbortHandler) // closes the connection unanswered too
		case apiUnavailable:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"The instance is stopping."}`)
			return
		}
	}
	f.h.ServeHTTP(w, r)
}

// TestConsoleProjectionsOffline: the projections page says when its
// server cannot be reached or fails, keeps the last data marked stale,
// keeps refreshing every 2 s (a page opened while the server is down
// too), and recovers by itself once the server answers again.
func TestConsoleProjectionsOffline(t *testing.T) {
	browser := chromiumPath(t)
	var reads atomic.Int64
	f := &flakyAPI{h: api.New(api.Config{}, api.Deps{Projections: func(context.Context) (any, error) {
		n := reads.Add(1)
		return map[string]any{
			"projections": []map[string]any{{
				"projection": "product-view", "group": "streamview-product-view", "generation": 1, "state": "live",
				"consumers": 1, "lag": 0, "partitions": []map[string]any{{"partition": 0, "lag": 0, "committed": n, "end": n}},
				"ratePerSecond": 0, "applied": n, "deadLettered": 0,
			}},
			"rebuildable":   []string{"product-view"},
			"rebuildsEnded": []any{},
		}, nil
	}}).Handler()}
	f.mode.Store(apiUnreachable)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	base := srv.URL

	notice := func(texts ...string) string {
		cond := `document.querySelector("#projections-notice")?.hidden === false`
		for _, s := range texts {
			cond += fmt.Sprintf(` && document.querySelector("#projections-notice").textContent.includes(%q)`, s)
		}
		return cond
	}
	const (
		shown  = `document.querySelector('#projections tr[data-projection="product-view"]') !== null`
		stale  = `document.querySelector("#projections-body").classList.contains("stale") && document.querySelector("#projections-updated").textContent.startsWith("stale: updated ")`
		fresh  = `document.querySelector("#projections-notice").hidden && !document.querySelector("#projections-body").classList.contains("stale") && document.querySelector("#projections-updated").textContent.startsWith("updated ")`
		manual = `(() => { const a = document.querySelector("#auto-refresh"); if (a.checked) a.click(); return !a.checked; })()`
		auto   = `(() => { const a = document.querySelector("#auto-refresh"); if (!a.checked) a.click(); return a.checked; })()`
	)

	tr := newTour(t, browser, base, "offline")
	tr.step("opened while the server is down", func() {
		tr.open(base + "/#/projections")
		tr.wait(notice("cannot reach the server: Failed to fetch", "retrying every 2 s") + ` && !document.querySelector("#projections")`)
		tr.shot("projections-down")
	})
	tr.step("the server answers: the page fills itself", func() {
		f.mode.Store(apiUp)
		tr.wait(shown + " && " + fresh)
	})
	tr.step("the server goes away: the data stays, marked stale", func() {
		f.mode.Store(apiUnreachable)
		tr.wait(notice("cannot reach the server: Failed to fetch", "showing the data of", "retrying every 2 s") + " && " + shown + " && " + stale)
		tr.shot("projections-stale")
	})
	tr.step("Refresh, without auto-refresh, says what it met", func() {
		tr.wait(manual)
		f.mode.Store(apiUnavailable)
		tr.click("#projections-refresh")
		tr.wait(notice("The instance is stopping.", "press Refresh to try again") + " && " + shown + " && " + stale)
		tr.wait(auto)
	})
	tr.step("the server is back: fresh data, no notice", func() {
		before := reads.Load()
		f.mode.Store(apiUp)
		tr.wait(shown + " && " + fresh)
		if reads.Load() == before {
			t.Error("the page recovered without reading the projections again")
		}
		tr.shot("projections-back")
	})
}

// TestConsoleHistoryShowsChanges: a ProductDetailsUpdated row of a
// product's history shows the fields the event changed, not the null of
// the lists it left unchanged.
func TestConsoleHistoryShowsChanges(t *testing.T) {
	browser := chromiumPath(t)
	const id = "0b7c6d9e-5a4f-4e3b-8c2d-1a0f9e8d7c6b"
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	str := func(s string) *string { return &s }
	var events []schemas.Event
	for _, d := range []schemas.EventData{
		&schemas.ProductCreated{Name: "Aurora Desk Lamp", Description: "A lamp", Price: schemas.Money{Amount: 2450, Currency: "EUR"},
			CategoryID: "lamps", CategoryName: "Lamps", BrandID: "lumen", BrandName: "Lumen", Tags: []string{"desk"}, ImageURLs: []string{"https://img.example/a.png"}, Stock: 3},
		// PATCH {name, tags, categoryId, categoryName}: imageUrls null (unchanged).
		&schemas.ProductDetailsUpdated{Name: str("Aurora Desk Lamp II"), Tags: []string{"desk", "led"}, CategoryID: str("lighting"), CategoryName: str("Lighting")},
		// PATCH {imageUrls: []}: tags null, imageUrls cleared.
		&schemas.ProductDetailsUpdated{ImageURLs: []string{}},
	} {
		v := int64(len(events)) + 1
		events = append(events, schemas.Event{ID: fmt.Sprintf("e%d", v), AggregateType: schemas.AggregateProduct, AggregateID: id, Version: v,
			Timestamp: at.Add(time.Duration(v) * time.Minute), Data: d,
			Metadata: schemas.Metadata{CorrelationID: fmt.Sprintf("c%d", v), CausationID: fmt.Sprintf("command-%d", v), UserID: "ada"}})
	}
	var view productview.View
	for _, e := range events {
		view = productview.Fold(view, e)
	}
	srv := httptest.NewServer(api.New(api.Config{}, api.Deps{Views: fixedView{view}, History: fixedHistory(events)}).Handler())
	t.Cleanup(srv.Close)

	tr := newTour(t, browser, srv.URL, "history")
	tr.open(srv.URL + "/#/product/" + id)
	row := func(v int) string {
		return fmt.Sprintf(`document.querySelector('#history tbody tr[data-version="%d"] td.data')?.textContent`, v)
	}
	tr.wait(row(2) + ` === "name: Aurora Desk Lamp II; tags: desk, led; categoryId: lighting; categoryName: Lighting"`)
	tr.wait(row(3) + ` === "imageUrls: (cleared)"`)
	tr.shot("product-history") // fails on a page that shows null
}

// fixedView is a ViewReader of one product.
type fixedView struct{ v productview.View }

func (f fixedView) Get(_ context.Context, id string) (productview.View, bool, error) {
	return f.v, id == f.v.ID, nil
}

// fixedHistory is a History of one product's events, versions 1 to n.
type fixedHistory []schemas.Event

func (h fixedHistory) Events(_ context.Context, id string, from int64, limit int) ([]schemas.Event, int64, bool, error) {
	if len(h) == 0 || id != h[0].AggregateID {
		return nil, 0, false, nil
	}
	if from > int64(len(h)) {
		return nil, 0, true, nil
	}
	page := h[from-1:]
	if len(page) > limit {
		return page[:limit], from + int64(limit), true, nil
	}
	return page, 0, true, nil
}

// TestConsoleDeadLettersOfTheNotifier: the dead-letters page of a name
// GET /v1/projections does not list (the notifier's, which the API
// serves at /v1/projections/notifier/dead-letters) says whose letters it
// shows: its select named the first projection, product-view, above the
// notifier's letters.
func TestConsoleDeadLettersOfTheNotifier(t *testing.T) {
	browser := chromiumPath(t)
	srv := httptest.NewServer(api.New(api.Config{}, api.Deps{
		Projections: func(context.Context) (any, error) {
			return map[string]any{
				"projections": []map[string]any{{
					"projection": "product-view", "group": "streamview.product-view.g1", "generation": 1, "state": "live",
					"consumers": 1, "lag": 0, "partitions": []map[string]any{}, "deadLettered": 0,
				}},
				"rebuildable": []string{"product-view"}, "rebuildsEnded": []any{},
			}, nil
		},
		Operations: notifierLetters{},
	}).Handler())
	t.Cleanup(srv.Close)
	tr := newTour(t, browser, srv.URL, "dead-letters-notifier")
	tr.open(srv.URL + "/#/dead-letters/notifier")
	tr.wait(`document.querySelectorAll('#dead-letters tbody tr').length === 1`)
	tr.wait(`document.querySelector('#dl-projection').value === "notifier"`)
	tr.shot("dead-letters-notifier")
	// A re-drive that publishes nothing says so (it said "Re-drove 0: ").
	tr.click("#redrive-all")
	tr.wait(`document.querySelector("#redrive-result").textContent === "Re-drove none"`)
}

// notifierLetters is api.Operations with one dead letter, the notifier's.
type notifierLetters struct{}

func (notifierLetters) DeadLetters(_ context.Context, name string, _ int) ([]api.DeadLetter, bool, error) {
	if name != "notifier" {
		return nil, false, nil
	}
	return []api.DeadLetter{{SourceTopic: "catalog.product-events", Reason: "rejected", Error: "gave up after 24h",
		EventType: "ProductPriceChanged", AggregateID: "0b7c6d9e-5a4f-4e3b-8c2d-1a0f9e8d7c6b", Time: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), Group: "streamview.notifier"}}, false, nil
}

func (notifierLetters) Redrive(context.Context, string, []api.DeadLetterOffset, bool) (api.RedriveResult, error) {
	return api.RedriveResult{}, nil
}

func (notifierLetters) StartRebuild(context.Context, string) (api.RebuildStarted, error) {
	return api.RebuildStarted{}, api.ErrNotRebuildable
}

func (notifierLetters) AbortRebuild(context.Context, string) (api.AbortedRebuild, error) {
	return api.AbortedRebuild{}, api.ErrNoRebuild
}

// TestConsoleOffersNoRebuildUnderWay: while some process runs a rebuild
// of a projection (GET /v1/projections' rebuilding), the projections page
// says so instead of offering a Rebuild the server would refuse; once it
// ends the button is back, also beside a generation still retiring (a
// rebuild started then finishes the retiring).
func TestConsoleOffersNoRebuildUnderWay(t *testing.T) {
	browser := chromiumPath(t)
	var leased atomic.Bool
	leased.Store(true)
	srv := httptest.NewServer(api.New(api.Config{}, api.Deps{Projections: func(context.Context) (any, error) {
		rebuilding := []map[string]any{}
		if leased.Load() {
			rebuilding = append(rebuilding, map[string]any{"projection": "product-view", "holder": "host-9/4242/a1b2"})
		}
		gen := func(g int, state string) map[string]any {
			return map[string]any{"projection": "product-view", "group": fmt.Sprintf("streamview.product-view.g%d", g), "generation": g,
				"state": state, "consumers": 0, "lag": 0, "partitions": []map[string]any{}, "deadLettered": 0}
		}
		return map[string]any{
			"projections": []map[string]any{gen(2, "live"), gen(1, "retiring")},
			"rebuildable": []string{"product-view"}, "rebuildsEnded": []any{}, "rebuilding": rebuilding,
		}, nil
	}}).Handler())
	t.Cleanup(srv.Close)
	const (
		live      = `document.querySelector('#projections tr[data-projection="product-view"][data-state="live"]')`
		underWay  = live + `?.querySelector(".under-way")?.title === "held by host-9/4242/a1b2" && !` + live + `.querySelector("button.rebuild")`
		offerable = live + `?.querySelector("button.rebuild") !== null && !` + live + `.querySelector(".under-way")`
	)
	tr := newTour(t, browser, srv.URL, "rebuild-under-way")
	tr.open(srv.URL + "/#/projections")
	tr.wait(underWay)
	tr.shot("projections-rebuild-under-way")
	leased.Store(false)
	tr.wait(offerable) // the page refreshes every 2 s
}
