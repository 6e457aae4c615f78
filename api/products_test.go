package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
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
