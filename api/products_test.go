package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/productview"
)

func view(version int64) productview.View {
	return productview.View{
		ID: productID, Name: "Trail Shoe", Description: "Light.",
		Price:      productview.Price{Amount: "89.90", Currency: "EUR"},
		CategoryID: "shoes", CategoryName: "Shoes", BrandID: "acme", BrandName: "ACME",
		AverageRating: 4.5, ReviewCount: 2, InStock: true, Stock: 12,
		Tags: []string{"trail", "run"}, ImageURLs: []string{},
		CreatedAt: "2025-03-01T12:00:00.000Z", UpdatedAt: "2025-03-02T08:30:00.250Z",
		Version: version, RatingSum: 9,
	}
}

func TestGetProduct(t *testing.T) {
	views := newFakeViews(view(3))
	s := testServer(t, Deps{Views: views})

	w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID})
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	if w.Header().Get("ETag") != `"3"` || w.Header().Get("X-Stale") != "" || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("headers = %v, want ETag \"3\", JSON, no X-Stale", w.Header())
	}
	// The exact answer shape of API.md: every key, nothing more.
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"id": productID, "name": "Trail Shoe", "description": "Light.",
		"price":      map[string]any{"amount": "89.90", "currency": "EUR"},
		"categoryId": "shoes", "categoryName": "Shoes", "brandId": "acme", "brandName": "ACME",
		"averageRating": 4.5, "reviewCount": 2.0, "inStock": true, "stock": 12.0,
		"tags": []any{"trail", "run"}, "imageUrls": []any{}, "discontinued": false,
		"createdAt": "2025-03-01T12:00:00.000Z", "updatedAt": "2025-03-02T08:30:00.250Z", "version": 3.0,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("answer = %v\nwant     %v", got, want)
	}

	t.Run("upper-case ID", func(t *testing.T) {
		w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + strings.ToUpper(productID)})
		if w.Code != http.StatusOK {
			t.Errorf("status = %d, want 200", w.Code)
		}
	})
	t.Run("If-None-Match", func(t *testing.T) {
		for _, inm := range []string{`"3"`, `W/"3"`, `"1", "3"`, `*`} {
			w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID, header: map[string]string{"If-None-Match": inm}})
			if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != `"3"` {
				t.Errorf("If-None-Match %s: status %d, body %q; want 304 with the ETag", inm, w.Code, w.Body)
			}
		}
		w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID, header: map[string]string{"If-None-Match": `"2"`}})
		if w.Code != http.StatusOK {
			t.Errorf("an old ETag: status %d, want 200", w.Code)
		}
	})
	t.Run("discontinued", func(t *testing.T) {
		v := view(4)
		v.ID, v.Discontinued = otherID, true
		views.put(v)
		w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + otherID})
		if got := decodeAs[productview.View](t, w); w.Code != http.StatusOK || !got.Discontinued {
			t.Errorf("status %d, discontinued %v: want 200, true", w.Code, got.Discontinued)
		}
	})
}

func TestGetProductRefused(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		status int
		fields []string
	}{
		{"unknown product", "/v1/products/" + otherID, 404, []string{}},
		{"ID not a UUID", "/v1/products/shoe-1", 400, []string{"id"}},
		{"minVersion not a number", "/v1/products/" + productID + "?minVersion=abc", 400, []string{"minVersion"}},
		{"minVersion negative", "/v1/products/" + productID + "?minVersion=-1", 400, []string{"minVersion"}},
		{"minVersion a fraction", "/v1/products/" + productID + "?minVersion=1.5", 400, []string{"minVersion"}},
		{"minVersion empty", "/v1/products/" + productID + "?minVersion=", 400, []string{"minVersion"}},
		{"minVersion overflows", "/v1/products/" + productID + "?minVersion=99999999999999999999", 400, []string{"minVersion"}},
		{"wait not a number", "/v1/products/" + productID + "?minVersion=1&wait=soon", 400, []string{"wait"}},
		{"wait a fraction", "/v1/products/" + productID + "?minVersion=1&wait=0.5", 400, []string{"wait"}},
		{"both bad", "/v1/products/" + productID + "?minVersion=x&wait=y", 400, []string{"minVersion", "wait"}},
		{"repeated", "/v1/products/" + productID + "?minVersion=1&minVersion=2", 400, []string{"minVersion"}},
		{"unknown parameter", "/v1/products/" + productID + "?version=1", 400, []string{"version"}},
		{"malformed query", "/v1/products/" + productID + "?minVersion=%zz", 400, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			views := newFakeViews(view(3))
			s := testServer(t, Deps{Views: views})
			wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: tt.path}), tt.status, tt.fields...)
		})
	}
}

// TestGetProductMinVersion advances the store while the request waits, and
// checks that the answer comes as soon as the view has the version.
func TestGetProductMinVersion(t *testing.T) {
	tests := []struct {
		name  string
		start []productview.View // in the store when the request starts
	}{
		{"older view", []productview.View{view(1)}},
		{"no view yet", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			views := newFakeViews(tt.start...)
			// A poll interval far shorter than the wait: the answer must
			// come from a poll, not from the end of the wait.
			s := testServer(t, Deps{Views: views})
			done := make(chan *httptest.ResponseRecorder, 1)
			start := time.Now()
			go func() {
				done <- serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "?minVersion=2&wait=30"})
			}()
			testenv.Eventually(t, 10*time.Second, func() error {
				if n := views.readCount(); n < 2 {
					return testenv.Errorf("the request has read the view %d times, want it polling", n)
				}
				return nil
			})
			select {
			case w := <-done:
				t.Fatalf("answered before the view reached version 2: %d %s", w.Code, w.Body)
			default:
			}
			views.put(view(2))
			w := <-done
			if elapsed := time.Since(start); elapsed > 10*time.Second {
				t.Errorf("answered after %v, want at once", elapsed)
			}
			if w.Code != http.StatusOK || w.Header().Get("X-Stale") != "" || w.Header().Get("ETag") != `"2"` {
				t.Errorf("status %d, X-Stale %q, ETag %q: want 200, fresh, \"2\"", w.Code, w.Header().Get("X-Stale"), w.Header().Get("ETag"))
			}
		})
	}
}

// TestGetProductMinVersionPollsSoonFirst: the first reads of a wait come
// within milliseconds, whatever PollInterval is: a view a few
// milliseconds behind is answered at once, not at the first tick. With a
// poll interval of an hour, only the pauses that start short and double
// can read the view three times within the test.
func TestGetProductMinVersionPollsSoonFirst(t *testing.T) {
	views := newFakeViews(view(1))
	s := testServer(t, Deps{Views: views}, func(c *Config) { c.PollInterval = time.Hour })
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		done <- serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "?minVersion=2&wait=30"})
	}()
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := views.readCount(); n < 3 {
			return testenv.Errorf("the request has read the view %d times, want 3 reads within the first poll interval", n)
		}
		return nil
	})
	views.put(view(2))
	select {
	case w := <-done:
		if w.Code != http.StatusOK || w.Header().Get("ETag") != `"2"` {
			t.Errorf("status %d, ETag %q: want 200, \"2\"", w.Code, w.Header().Get("ETag"))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no answer 20 s after the view reached version 2 (pauses should stay under a second for 20 s)")
	}
}

func TestGetProductMinVersionNotReached(t *testing.T) {
	t.Run("stale", func(t *testing.T) {
		s := testServer(t, Deps{Views: newFakeViews(view(3))})
		w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "?minVersion=5&wait=0"})
		if w.Code != http.StatusOK || w.Header().Get("X-Stale") != "true" || w.Header().Get("ETag") != `"3"` {
			t.Errorf("status %d, X-Stale %q, ETag %q: want 200, true, \"3\"", w.Code, w.Header().Get("X-Stale"), w.Header().Get("ETag"))
		}
	})
	t.Run("stale after a short wait", func(t *testing.T) {
		s := testServer(t, Deps{Views: newFakeViews(view(3))}, func(c *Config) { c.ReadWait = 20 * time.Millisecond })
		w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "?minVersion=5"})
		if w.Code != http.StatusOK || w.Header().Get("X-Stale") != "true" {
			t.Errorf("status %d, X-Stale %q: want 200, true", w.Code, w.Header().Get("X-Stale"))
		}
	})
	t.Run("absent", func(t *testing.T) {
		s := testServer(t, Deps{Views: newFakeViews()})
		wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "?minVersion=1&wait=0"}), http.StatusNotFound)
	})
	t.Run("reached already", func(t *testing.T) {
		views := newFakeViews(view(3))
		s := testServer(t, Deps{Views: views})
		w := serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "?minVersion=2&wait=30"})
		if w.Code != http.StatusOK || w.Header().Get("X-Stale") != "" || views.readCount() != 1 {
			t.Errorf("status %d, X-Stale %q, %d reads: want 200, fresh, one read", w.Code, w.Header().Get("X-Stale"), views.readCount())
		}
	})
}

func TestGetProductStoreFails(t *testing.T) {
	views := newFakeViews()
	views.err = errors.New("redis: connection refused")
	s := testServer(t, Deps{Views: views})
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID}), http.StatusServiceUnavailable)

	wantProblem(t, serve(t, testServer(t, Deps{}).Handler(), request{method: "GET", path: "/v1/products/" + productID}), http.StatusServiceUnavailable)

	// A store without a live generation (never projected, or emptied)
	// says what to do: a retry alone never mends it.
	views.err = fmt.Errorf("read: %w: sv:product-view:live is not set", productview.ErrNoLive)
	p := wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID}), http.StatusServiceUnavailable)
	if !strings.Contains(p.Detail, "no live generation") || !strings.Contains(p.Detail, "streamview replay --projection product-view") {
		t.Errorf("detail %q: want the missing live generation named, and the replay", p.Detail)
	}

	// While a projector reads the log again every read is such a 503:
	// logged once per noLiveLogEvery, as a warning. (Each was an error
	// line: a hundred a second under load.)
	var logs strings.Builder
	s = testServer(t, Deps{Views: views}, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	for range 5 {
		wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID}), http.StatusServiceUnavailable)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 || strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("5 reads without a live generation logged:\n%s\nwant one warning", &logs)
	}
	// A store that fails (an outage): one error line a second, not one a
	// read.
	logs.Reset()
	views.err = errors.New("redis: connection refused")
	for range 5 {
		wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID}), http.StatusServiceUnavailable)
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n != 1 {
		t.Errorf("5 reads of a failing store logged %d errors:\n%s\nwant one", n, &logs)
	}
}

// TestGetProductMinVersionOutlastsStoreErrors: a store that fails for a
// while (starting up, failing over) does not end a wait.
func TestGetProductMinVersionOutlastsStoreErrors(t *testing.T) {
	views := newFakeViews()
	views.err = errors.New("no live generation")
	s := testServer(t, Deps{Views: views})
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		done <- serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "?minVersion=1&wait=30"})
	}()
	testenv.Eventually(t, 10*time.Second, func() error {
		if n := views.readCount(); n < 3 {
			return testenv.Errorf("%d reads", n)
		}
		return nil
	})
	views.mu.Lock()
	views.err = nil
	views.views[productID] = view(1)
	views.mu.Unlock()
	if w := <-done; w.Code != http.StatusOK || w.Header().Get("ETag") != `"1"` {
		t.Errorf("status %d, ETag %q: want 200, \"1\"", w.Code, w.Header().Get("ETag"))
	}
}

// fakeChanges is a ViewChanges whose changes the test tells.
type fakeChanges struct {
	mu      sync.Mutex
	waiting map[string][]chan struct{}
	watches int // Watch calls
	active  int // watches not yet stopped
}

func (f *fakeChanges) Watch(id string) (<-chan struct{}, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.waiting == nil {
		f.waiting = map[string][]chan struct{}{}
	}
	ch := make(chan struct{})
	f.waiting[id] = append(f.waiting[id], ch)
	f.watches++
	f.active++
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.active--
		})
	}
}

// tell closes the channels of id's watches.
func (f *fakeChanges) tell(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.waiting[id] {
		close(ch)
	}
	delete(f.waiting, id)
}

func (f *fakeChanges) counts() (watches, active int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watches, f.active
}

// TestGetProductMinVersionWokenByChange: a wait reads the view again as
// soon as ViewChanges tells of a write of the product, not at its next
// poll. Polls are an hour apart here, so only the change can bring the
// answer before the 30 s wait ends; and every watch is stopped once
// answered.
func TestGetProductMinVersionWokenByChange(t *testing.T) {
	views := newFakeViews(view(1))
	changes := new(fakeChanges)
	s := testServer(t, Deps{Views: views, ViewChanges: changes}, func(c *Config) { c.PollInterval = time.Hour })
	s.firstPoll = time.Hour
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() {
		done <- serve(t, s.Handler(), request{method: "GET", path: "/v1/products/" + productID + "?minVersion=3&wait=30"})
	}()
	testenv.Eventually(t, 10*time.Second, func() error {
		if w, _ := changes.counts(); w < 1 || views.readCount() < 1 {
			return testenv.Errorf("the request has watched %d times and read %d times, want it waiting", w, views.readCount())
		}
		return nil
	})
	// A write that does not reach the version: read again, wait on.
	views.put(view(2))
	changes.tell(productID)
	testenv.Eventually(t, 10*time.Second, func() error {
		if w, _ := changes.counts(); w < 2 || views.readCount() < 2 {
			return testenv.Errorf("after a change: watched %d times, read %d times; want 2 and 2", w, views.readCount())
		}
		return nil
	})
	select {
	case w := <-done:
		t.Fatalf("answered before the view reached version 3: %d %s", w.Code, w.Body)
	default:
	}
	views.put(view(3))
	changes.tell(productID)
	select {
	case w := <-done:
		if w.Code != http.StatusOK || w.Header().Get("X-Stale") != "" || w.Header().Get("ETag") != `"3"` {
			t.Errorf("status %d, X-Stale %q, ETag %q: want 200, fresh, \"3\"", w.Code, w.Header().Get("X-Stale"), w.Header().Get("ETag"))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no answer 20 s after the change was told (polls are an hour apart: the change did not wake the wait)")
	}
	if _, active := changes.counts(); active != 0 {
		t.Errorf("%d watches left running after the answer", active)
	}
}

// TestGetProductWatchesOnlyWhenWaiting: a read without ?minVersion=, or one
// whose view is already there, stops any watch it made.
func TestGetProductWatchesOnlyWhenWaiting(t *testing.T) {
	changes := new(fakeChanges)
	s := testServer(t, Deps{Views: newFakeViews(view(3)), ViewChanges: changes})
	for _, path := range []string{"/v1/products/" + productID, "/v1/products/" + productID + "?minVersion=2", "/v1/products/" + productID + "?minVersion=5&wait=0"} {
		if w := serve(t, s.Handler(), request{method: "GET", path: path}); w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
		}
	}
	if _, active := changes.counts(); active != 0 {
		t.Errorf("%d watches left running", active)
	}
}
