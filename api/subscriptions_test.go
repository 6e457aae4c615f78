package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/streamview/streamview/producers/subscription"
	"github.com/streamview/streamview/schemas"
)

func TestSubscribe(t *testing.T) {
	bus := newFakeBus()
	bus.decider = accept(1)
	s := testServer(t, Deps{Commands: bus})
	w := serve(t, s.Handler(), request{method: "POST", path: "/v1/products/" + productID + "/subscriptions",
		body:   `{"url":"http://127.0.0.1:9999/hook","events":["priceDrop","backInStock"],"secret":"k"}`,
		header: map[string]string{"Idempotency-Key": "sub-1"}})
	got := decodeAs[subscriptionAnswer](t, w)
	if w.Code != http.StatusCreated || got.Status != schemas.StatusAccepted || got.ProductID != productID {
		t.Fatalf("status %d, answer %+v: want 201, accepted", w.Code, got)
	}
	if pid, ok := schemas.SubscriptionProduct(got.SubscriptionID); !ok || pid != productID {
		t.Fatalf("subscriptionId %q does not carry product %s", got.SubscriptionID, productID)
	}
	if loc := w.Header().Get("Location"); loc != "/v1/subscriptions/"+got.SubscriptionID {
		t.Errorf("Location %q", loc)
	}
	// It waited by itself, not for a Prefer: wait: nothing says one applied.
	if pa := w.Header().Get("Preference-Applied"); pa != "" {
		t.Errorf("Preference-Applied %q on a POST without Prefer", pa)
	}
	cmds := bus.commands()
	if len(cmds) != 1 || cmds[0].ProductID != productID {
		t.Fatalf("published %+v, want one command keyed by the product", cmds)
	}
	d, ok := cmds[0].Data.(*schemas.CreateSubscription)
	if !ok || d.SubscriptionID != got.SubscriptionID || d.URL != "http://127.0.0.1:9999/hook" || d.Secret != "k" || len(d.Events) != 2 {
		t.Fatalf("published %+v", cmds[0].Data)
	}

	// A retry with the key names the same subscription.
	w = serve(t, s.Handler(), request{method: "POST", path: "/v1/products/" + productID + "/subscriptions",
		body:   `{"url":"http://127.0.0.1:9999/hook","events":["priceDrop","backInStock"],"secret":"k"}`,
		header: map[string]string{"Idempotency-Key": "sub-1"}})
	if again := decodeAs[subscriptionAnswer](t, w); again.SubscriptionID != got.SubscriptionID {
		t.Errorf("retry answered %+v, want subscription %s", again, got.SubscriptionID)
	}

	if pa := w.Header().Get("Preference-Applied"); pa != "" {
		t.Errorf("Preference-Applied %q on a retry without Prefer", pa)
	}

	// With Prefer: wait it says so; If-Match goes to the decider (the
	// product's version, producers/subscription).
	w = serve(t, s.Handler(), request{method: "POST", path: "/v1/products/" + productID + "/subscriptions",
		body:   `{"url":"http://127.0.0.1:9999/hook","events":["priceDrop"],"secret":"k"}`,
		header: map[string]string{"Idempotency-Key": "sub-2", "Prefer": "wait=5", "If-Match": `"7"`}})
	if w.Code != http.StatusCreated || w.Header().Get("Preference-Applied") != "wait=5" {
		t.Fatalf("with Prefer: wait=5: status %d, Preference-Applied %q; want 201, wait=5", w.Code, w.Header().Get("Preference-Applied"))
	}
	cmds = bus.commands()
	if ev := cmds[len(cmds)-1].ExpectedVersion; ev == nil || *ev != 7 {
		t.Fatalf("If-Match \"7\" published expected version %v, want 7", ev)
	}

	w = serve(t, s.Handler(), request{method: "DELETE", path: "/v1/subscriptions/" + got.SubscriptionID})
	if w.Code != http.StatusAccepted {
		t.Fatalf("DELETE: status %d, body %s", w.Code, w.Body)
	}
	cmds = bus.commands()
	last := cmds[len(cmds)-1]
	if del, ok := last.Data.(*schemas.DeleteSubscription); !ok || del.SubscriptionID != got.SubscriptionID || last.ProductID != productID {
		t.Fatalf("DELETE published %+v %+v, want a DeleteSubscription keyed by the product", last, last.Data)
	}
}

func TestSubscribeRefused(t *testing.T) {
	allow, _ := subscription.ParseAllowlist("hooks.example.com:443")
	cases := []struct {
		name   string
		req    request
		status int
		fields []string
	}{
		{"loopback only by default", request{method: "POST", path: "/v1/products/" + productID + "/subscriptions",
			body: `{"url":"http://example.com/hook","events":["priceDrop"],"secret":"k"}`}, 422, []string{"url"}},
		{"missing fields", request{method: "POST", path: "/v1/products/" + productID + "/subscriptions", body: `{}`}, 422, nil},
		{"unknown event", request{method: "POST", path: "/v1/products/" + productID + "/subscriptions",
			body: `{"url":"http://127.0.0.1/h","events":["sale"],"secret":"k"}`}, 422, []string{"events[0]"}},
		{"unknown member", request{method: "POST", path: "/v1/products/" + productID + "/subscriptions",
			body: `{"url":"http://127.0.0.1/h","events":["priceDrop"],"secret":"k","x":1}`}, 400, nil},
		{"bad subscription ID", request{method: "DELETE", path: "/v1/subscriptions/" + productID}, 400, []string{"subscriptionId"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bus := newFakeBus()
			s := testServer(t, Deps{Commands: bus})
			w := serve(t, s.Handler(), tc.req)
			wantProblem(t, w, tc.status, tc.fields...)
			if n := len(bus.commands()); n != 0 {
				t.Errorf("%d commands published", n)
			}
		})
	}
	// A port out of 1..65535 reaches no server: it was accepted (201),
	// loopback being allowed on any port.
	for _, port := range []string{"99999", "0", "65536", "00"} {
		t.Run("port "+port, func(t *testing.T) {
			bus := newFakeBus()
			bus.decider = accept(1)
			s := testServer(t, Deps{Commands: bus})
			w := serve(t, s.Handler(), request{method: "POST", path: "/v1/products/" + productID + "/subscriptions",
				body: `{"url":"http://127.0.0.1:` + port + `/hook","events":["priceDrop"],"secret":"k"}`})
			p := wantProblem(t, w, 422, "url")
			if want := "port " + port + " is out of range: must be 1 to 65535"; len(p.Errors) != 1 || !strings.Contains(p.Errors[0].Message, want) {
				t.Errorf("errors %+v, want one saying %q", p.Errors, want)
			}
			if n := len(bus.commands()); n != 0 {
				t.Errorf("%d commands published", n)
			}
		})
	}
	t.Run("allowlist", func(t *testing.T) {
		bus := newFakeBus()
		bus.decider = accept(1)
		s := testServer(t, Deps{Commands: bus}, func(c *Config) { c.WebhookAllow = allow })
		w := serve(t, s.Handler(), request{method: "POST", path: "/v1/products/" + productID + "/subscriptions",
			body: `{"url":"http://127.0.0.1/hook","events":["priceDrop"],"secret":"k"}`})
		wantProblem(t, w, 422, "url")
		w = serve(t, s.Handler(), request{method: "POST", path: "/v1/products/" + productID + "/subscriptions",
			body: `{"url":"https://hooks.example.com/hook","events":["priceDrop"],"secret":"k"}`})
		if w.Code != http.StatusCreated {
			t.Fatalf("allowed host: status %d, body %s", w.Code, w.Body)
		}
	})
}
