package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

// createBodyReordered is createBody with its keys in another order and
// other whitespace: the same request as parsed JSON.
const createBodyReordered = `{ "stock": 12, "imageUrls": ["https://img.example/1.jpg"], "tags": ["trail", "run"],
	"brandName": "ACME", "brandId": "acme", "categoryName": "Shoes", "categoryId": "shoes",
	"price": {"currency": "EUR", "amount": "89.9"}, "description": "Light.", "name": "Trail Shoe" }`

func keyed(rq request, key string) request {
	rq.header = map[string]string{"Idempotency-Key": key}
	return rq
}

func wantKeyReused(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	if p := wantProblem(t, w, http.StatusUnprocessableEntity, "Idempotency-Key"); !strings.HasSuffix(p.Type, "/idempotency-key-reused") {
		t.Errorf("problem type %q, want one ending /idempotency-key-reused", p.Type)
	}
}

// TestConcurrentRetry: a retry while the first request with its key is
// being written is a 409 with Retry-After, never a 202; when the first
// write fails, the key is free again.
func TestConcurrentRetry(t *testing.T) {
	bus := newFakeBus()
	bus.gate = make(chan error)
	s := testServer(t, Deps{Commands: bus})
	create := keyed(request{method: "POST", path: "/v1/products", body: createBody}, "order-9")

	first := make(chan *httptest.ResponseRecorder, 1)
	go func() { first <- serve(t, s.Handler(), create) }()
	id := <-bus.sending // the first request is inside its write

	retry := serve(t, s.Handler(), create)
	p := wantProblem(t, retry, http.StatusConflict)
	if !strings.HasSuffix(p.Type, "/idempotency-key-in-flight") {
		t.Errorf("problem type %q, want one ending /idempotency-key-in-flight", p.Type)
	}
	if ra := retry.Header().Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}
	// Not written yet: no command to follow.
	wantProblem(t, serve(t, s.Handler(), request{method: "GET", path: "/v1/commands/" + id}), http.StatusNotFound)
	// Another body meanwhile is a reuse.
	wantKeyReused(t, serve(t, s.Handler(), keyed(request{method: "POST", path: "/v1/products", body: strings.Replace(createBody, "Trail Shoe", "Road Shoe", 1)}, "order-9")))

	bus.gate <- fmt.Errorf("send: %w", commandbus.ErrTimeout)
	w := <-first
	wantProblem(t, w, http.StatusServiceUnavailable)
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if n := len(bus.commands()); n != 0 {
		t.Fatalf("bus has %d commands after a failed write, want 0", n)
	}

	// The key is free again: the next retry writes the command.
	go func() {
		<-bus.sending
		bus.gate <- nil
	}()
	again := serve(t, s.Handler(), create)
	if again.Code != http.StatusAccepted {
		t.Fatalf("retry after the failed write: status %d, want 202; body %s", again.Code, again.Body)
	}
	if got := decodeAs[commandStatus](t, again); got.CommandID != id {
		t.Errorf("commandId %s, want the first request's %s", got.CommandID, id)
	}
	if n := len(bus.commands()); n != 1 {
		t.Errorf("bus has %d commands, want 1", n)
	}
}

// TestKeyReuse: the key is bound to method, path, parsed body and caller.
func TestKeyReuse(t *testing.T) {
	price := "/v1/products/" + productID + "/price"
	tests := []struct {
		name   string
		first  request
		second request
		caller string // of the second request
		same   bool   // the same request: the first's command, nothing new published
	}{
		{"same body, other key order and spacing", request{method: "POST", path: "/v1/products", body: createBody},
			request{method: "POST", path: "/v1/products", body: createBodyReordered}, "", true},
		{"other body", request{method: "POST", path: "/v1/products", body: createBody},
			request{method: "POST", path: "/v1/products", body: strings.Replace(createBody, `"stock":12`, `"stock":13`, 1)}, "", false},
		{"other path", request{method: "PUT", path: price, body: `{"price":{"amount":"5","currency":"EUR"}}`},
			request{method: "PUT", path: "/v1/products/" + otherID + "/price", body: `{"price":{"amount":"5","currency":"EUR"}}`}, "", false},
		{"other method and path", request{method: "PUT", path: price, body: `{"price":{"amount":"5","currency":"EUR"}}`},
			request{method: "DELETE", path: "/v1/products/" + productID}, "", false},
		{"same body, spelled apart", request{method: "PUT", path: price, body: `{"price":{"amount":"5","currency":"EUR"}}`},
			request{method: "PUT", path: price, body: "{\"price\" : {\"currency\":\"\\u0045UR\", \"amount\":\"5\"}}\n"}, "", true},
		{"other caller", request{method: "PUT", path: price, body: `{"price":{"amount":"5","currency":"EUR"}}`},
			request{method: "PUT", path: price, body: `{"price":{"amount":"5","currency":"EUR"}}`}, "someone-else", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := newFakeBus()
			s := testServer(t, Deps{Commands: bus})
			first := serve(t, s.Handler(), keyed(tt.first, "k-1"))
			if first.Code != http.StatusAccepted {
				t.Fatalf("first: status %d; body %s", first.Code, first.Body)
			}
			r := keyed(tt.second, "k-1").build(t)
			if tt.caller != "" {
				r = r.WithContext(context.WithValue(r.Context(), callerKey{}, tt.caller))
			}
			second := httptest.NewRecorder()
			s.Handler().ServeHTTP(second, r)
			if tt.same {
				if second.Code != http.StatusAccepted {
					t.Fatalf("second: status %d, want 202; body %s", second.Code, second.Body)
				}
				if a, b := decodeAs[commandStatus](t, first), decodeAs[commandStatus](t, second); a != b {
					t.Errorf("answers differ: %+v and %+v", a, b)
				}
			} else {
				wantKeyReused(t, second)
			}
			if n := len(bus.commands()); n != 1 {
				t.Errorf("bus got %d commands, want 1", n)
			}
			// The first request still gets its outcome.
			bus.decide(accept(1)(bus.commands()[0]))
			if again := serve(t, s.Handler(), keyed(tt.first, "k-1")); again.Code/100 != 2 {
				t.Errorf("first request again: status %d; body %s", again.Code, again.Body)
			}
		})
	}
}

// TestDeliveryTimeout: Kafka that does not take a command in time is a
// 503 with Retry-After.
func TestDeliveryTimeout(t *testing.T) {
	bus := newFakeBus()
	bus.sendErr = fmt.Errorf("send ProductStockChanged command: %w", commandbus.ErrTimeout)
	s := testServer(t, Deps{Commands: bus})
	w := serve(t, s.Handler(), keyed(request{method: "PUT", path: "/v1/products/" + productID + "/stock", body: `{"quantity":3}`}, "k-2"))
	p := wantProblem(t, w, http.StatusServiceUnavailable)
	if w.Header().Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if !strings.Contains(p.Detail, "delivery timeout") {
		t.Errorf("detail %q does not say the delivery timeout ran out", p.Detail)
	}
	// A write on the wire may land after the client gave up on it: the
	// answer must not say it was not carried out, and names where it
	// would show. (It once said "it was not carried out", and an audit
	// saw such commands applied.)
	id := commandbus.CommandID("k-2", "PUT", "/v1/products/"+productID+"/stock")
	if strings.Contains(p.Detail, "not carried out") || !strings.Contains(p.Detail, "may still land") || !strings.Contains(p.Detail, "/v1/commands/"+id) || !strings.Contains(p.Detail, "same Idempotency-Key") {
		t.Errorf("detail %q: want it to say the command may still land, where it would show (/v1/commands/%s), and to retry with the key", p.Detail, id)
	}
	// Without a key a retry is a new command: the answer says to look first.
	w = serve(t, s.Handler(), request{method: "PUT", path: "/v1/products/" + productID + "/stock", body: `{"quantity":3}`})
	if p := wantProblem(t, w, http.StatusServiceUnavailable); !strings.Contains(p.Detail, "may be carried out twice") || strings.Contains(p.Detail, "same Idempotency-Key") {
		t.Errorf("detail without a key %q: want the warning that a resend may be carried out twice", p.Detail)
	}
}

// TestRetryOutlivesTheRules: a retry of a command that an earlier API took
// is answered with its first outcome, though this API's rules refuse its
// body now (a categoryId reference data cannot take). It is not checked
// again: a retry must never be told its command was invalid.
func TestRetryOutlivesTheRules(t *testing.T) {
	bus := newFakeBus()
	s := testServer(t, Deps{Commands: bus})
	create := keyed(request{method: "POST", path: "/v1/products", body: strings.Replace(createBody, `"categoryId":"shoes"`, `"categoryId":"Home & Garden"`, 1)}, "k-old")
	s.rules.ReferenceIDs = false // the earlier API's rules
	if first := serve(t, s.Handler(), create); first.Code != http.StatusAccepted {
		t.Fatalf("first, under the earlier rules: %d %s", first.Code, first.Body)
	}
	s.rules.ReferenceIDs = true
	bus.decide(accept(1)(bus.commands()[0]))
	if again := serve(t, s.Handler(), create); again.Code/100 != 2 {
		t.Fatalf("retry under today's rules: %d %s, want the first outcome", again.Code, again.Body)
	}
	// A new command with that body is refused.
	wantProblem(t, serve(t, s.Handler(), keyed(create, "k-new")), http.StatusUnprocessableEntity, "categoryId")
}

// TestReplayAppliesPreferWait: a retry with Prefer: wait of a command
// already decided answers its outcome with Preference-Applied, as the first
// request that waited for it did; a retry without Prefer has none.
func TestReplayAppliesPreferWait(t *testing.T) {
	stock := request{method: "PUT", path: "/v1/products/" + productID + "/stock", body: `{"quantity":3}`}
	category := request{method: "PUT", path: "/v1/categories/books", body: `{"name":"Books"}`}
	subscribe := request{method: "POST", path: "/v1/products/" + productID + "/subscriptions",
		body: `{"url":"http://127.0.0.1:9/hook","events":["priceDrop"],"secret":"s3cret"}`}
	tests := []struct {
		name           string
		rq             request
		decider        func(schemas.Command) schemas.CommandResult
		prefer         string // of the retry
		status         int
		applied        string // Preference-Applied of the retry
		firstWithoutIt bool   // the first request did not wait
	}{
		{"accepted", stock, accept(4), "wait=10", http.StatusOK, "wait=10", false},
		{"rejected", stock, reject(schemas.RejectConflict, "product is discontinued", 5), "wait=10", http.StatusConflict, "wait=10", false},
		{"reference created", category, accept(1), "wait=5", http.StatusCreated, "wait=5", false},
		{"subscription", subscribe, accept(1), "wait=7", http.StatusCreated, "wait=7", false},
		{"first did not wait", stock, accept(4), "wait=3", http.StatusOK, "wait=3", true},
		{"retry does not ask", stock, accept(4), "", http.StatusOK, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus := newFakeBus()
			bus.decider = tt.decider
			s := testServer(t, Deps{Commands: bus})
			first := tt.rq
			first.header = map[string]string{"Idempotency-Key": "k-wait", "Prefer": "wait=10"}
			if tt.firstWithoutIt {
				delete(first.header, "Prefer")
				bus.decider = nil
			}
			w := serve(t, s.Handler(), first)
			if tt.firstWithoutIt {
				bus.decide(tt.decider(bus.commands()[0]))
			} else if w.Code != tt.status || w.Header().Get("Preference-Applied") != "wait=10" {
				t.Fatalf("first: status %d, Preference-Applied %q; want %d, wait=10", w.Code, w.Header().Get("Preference-Applied"), tt.status)
			}
			retry := tt.rq
			retry.header = map[string]string{"Idempotency-Key": "k-wait"}
			if tt.prefer != "" {
				retry.header["Prefer"] = tt.prefer
			}
			again := serve(t, s.Handler(), retry)
			if again.Code != tt.status || again.Header().Get("Preference-Applied") != tt.applied {
				t.Errorf("retry: status %d, Preference-Applied %q; want %d, %q", again.Code, again.Header().Get("Preference-Applied"), tt.status, tt.applied)
			}
			if n := len(bus.commands()); n != 1 {
				t.Errorf("bus got %d commands, want 1", n)
			}
		})
	}
}

// TestKeyReusedOnAnInstanceThatForgotIt: an instance that no longer knows
// a key's binding (it keeps commandbus.ResultsConfig.MaxResults of them)
// gets a request that reuses the key with another body. Its command ID is
// the first request's, whose outcome names the first request's
// fingerprint: the request is a 422 whether the instance still holds that
// outcome or sends the command and waits for the decider's answer; the
// first request is still answered with its outcome.
func TestKeyReusedOnAnInstanceThatForgotIt(t *testing.T) {
	path := "/v1/products/" + productID + "/price"
	first := request{method: "PUT", path: path, body: `{"price":{"amount":"5","currency":"EUR"}}`, header: map[string]string{"Prefer": "wait=5"}}
	other := first
	other.body = `{"price":{"amount":"6","currency":"EUR"}}`
	fp := commandbus.Request{Method: first.method, Path: path, Body: []byte(first.body)}.Fingerprint()
	id := commandbus.CommandID("k-1", "PUT", path)
	outcome := schemas.CommandResult{CommandID: id, ProductID: productID, Status: schemas.StatusAccepted, Version: 4, IdempotencyKey: "k-1", Fingerprint: fp}
	withKey := func(rq request) request {
		rq.header = map[string]string{"Prefer": "wait=5", "Idempotency-Key": "k-1"}
		return rq
	}
	for _, tc := range []struct {
		name  string
		known bool // the instance still holds the outcome
		sent  int  // commands the two requests publish
	}{
		{"outcome held", true, 0},
		{"outcome forgotten too", false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := newFakeBus()
			if tc.known {
				bus.decide(outcome)
			} else {
				// The decider answers the command ID with its first outcome.
				bus.decider = func(schemas.Command) schemas.CommandResult { return outcome }
			}
			s := testServer(t, Deps{Commands: bus})
			wantKeyReused(t, serve(t, s.Handler(), withKey(other)))
			bus.mu.Lock()
			clear(bus.bindings) // forgotten again: the decider's answer binds it
			bus.mu.Unlock()
			w := serve(t, s.Handler(), withKey(first))
			if w.Code != http.StatusOK {
				t.Fatalf("the first request again: status %d, want 200; body %s", w.Code, w.Body)
			}
			if got := decodeAs[commandStatus](t, w); got.CommandID != id || got.Version != 4 {
				t.Errorf("the first request again: %+v, want its outcome at version 4", got)
			}
			if n := len(bus.commands()); n != tc.sent {
				t.Errorf("bus got %d commands, want %d", n, tc.sent)
			}
		})
	}
}
