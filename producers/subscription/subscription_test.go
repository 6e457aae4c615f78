package subscription

import (
	"net/url"
	"strings"
	"testing"

	"github.com/streamview/streamview/schemas"
)

const (
	productID = "0b6e0d8c-5d1e-4c71-9a38-2f4f1c1f6a01"
	otherID   = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b04"
)

var subID = schemas.SubscriptionID(productID, otherID)

func create(url string, events ...string) schemas.Command {
	return schemas.Command{ID: otherID, ProductID: productID, Data: &schemas.CreateSubscription{SubscriptionID: subID, URL: url, Events: events, Secret: "k"}}
}

func TestAllowlist(t *testing.T) {
	cases := []struct {
		name, list, url string
		want            bool
	}{
		{"default loopback v4", "", "http://127.0.0.1:8080/h", true},
		{"default loopback 127/8", "", "http://127.3.4.5/h", true},
		{"default localhost", "", "https://localhost/h", true},
		{"default loopback v6", "", "http://[::1]:9/h", true},
		{"default elsewhere", "", "http://example.com/h", false},
		{"host any port", "hooks.example.com", "https://hooks.example.com:8443/x", true},
		{"host:port", "hooks.example.com:443", "https://hooks.example.com/x", true},
		{"host:port other port", "hooks.example.com:443", "http://hooks.example.com/x", false},
		{"listed excludes loopback", "hooks.example.com", "http://127.0.0.1/x", false},
		{"case", "Hooks.Example.COM", "http://hooks.example.com/x", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ParseAllowlist(tc.list)
			if err != nil {
				t.Fatal(err)
			}
			u, _ := url.Parse(tc.url)
			if got := a.Allows(u); got != tc.want {
				t.Fatalf("Allows(%s) with %q = %v, want %v", tc.url, tc.list, got, tc.want)
			}
		})
	}
	if _, err := ParseAllowlist("http://x/"); err == nil {
		t.Fatal("a URL as an entry was accepted")
	}
	// An entry's port that no URL may name any more is a mistake to show
	// at start.
	for _, list := range []string{"hooks.example.com:0", "hooks.example.com:99999", "hooks.example.com:", "[::1]:65536"} {
		if _, err := ParseAllowlist(list); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("ParseAllowlist(%q) = %v, want a port out of range", list, err)
		}
	}
	if _, err := ParseAllowlist("hooks.example.com:65535,[::1]:1"); err != nil {
		t.Errorf("ports 65535 and 1: %v", err)
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name  string
		c     schemas.Command
		field string
	}{
		{"ok", create("http://127.0.0.1:1/h", schemas.NotifyPriceDrop), ""},
		{"not allowed", create("http://example.com/h", schemas.NotifyPriceDrop), "url"},
		{"ftp", create("ftp://127.0.0.1/h", schemas.NotifyPriceDrop), "url"},
		{"no events", create("http://127.0.0.1/h"), "events"},
		{"unknown event", create("http://127.0.0.1/h", "sale"), "events[0]"},
		{"twice", create("http://127.0.0.1/h", schemas.NotifyBackInStock, schemas.NotifyBackInStock), "events[1]"},
		// url.Parse takes any digits as a port; these reach no server.
		{"port 99999", create("http://127.0.0.1:99999/h", schemas.NotifyPriceDrop), "url"},
		{"port 0", create("http://127.0.0.1:0/h", schemas.NotifyPriceDrop), "url"},
		{"port 65536", create("https://localhost:65536/h", schemas.NotifyPriceDrop), "url"},
		{"port 000", create("http://[::1]:000/h", schemas.NotifyPriceDrop), "url"},
		{"port of 20 digits", create("http://127.0.0.1:18446744073709551617/h", schemas.NotifyPriceDrop), "url"},
		{"port 65535", create("http://127.0.0.1:65535/h", schemas.NotifyPriceDrop), ""},
		{"port 1 of localhost", create("https://localhost:1/h", schemas.NotifyPriceDrop), ""},
		{"no port after the colon", create("http://127.0.0.1:/h", schemas.NotifyPriceDrop), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := Check(tc.c, &Allowlist{})
			if tc.field == "" {
				if len(errs) > 0 {
					t.Fatalf("Check = %v, want none", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != tc.field {
				t.Fatalf("Check = %v, want one on %s", errs, tc.field)
			}
			if strings.HasPrefix(tc.name, "port") && !strings.Contains(errs[0].Message, "is out of range: must be 1 to 65535") {
				t.Errorf("message %q, want it to say the port is out of range", errs[0].Message)
			}
		})
	}
}

// The refusal of a host outside the allowlist says the default's rule, but
// never the hosts an operator listed: they may name internal hosts.
func TestCheckDoesNotShowTheAllowlist(t *testing.T) {
	c := create("http://example.com/h", schemas.NotifyPriceDrop)
	errs := Check(c, &Allowlist{})
	if len(errs) != 1 || !strings.Contains(errs[0].Message, "loopback hosts only") {
		t.Fatalf("default allowlist: %v, want the loopback rule", errs)
	}
	listed, err := ParseAllowlist("hooks.internal.corp:8443,billing.internal.corp")
	if err != nil {
		t.Fatal(err)
	}
	errs = Check(c, listed)
	if len(errs) != 1 || strings.Contains(errs[0].Message, "internal.corp") || !strings.Contains(errs[0].Message, "ask its operator") {
		t.Fatalf("listed allowlist: %v, want a refusal that names no listed host", errs)
	}
}

// ifMatch is c with If-Match's version v.
func ifMatch(c schemas.Command, v int64) schemas.Command {
	c.ExpectedVersion = &v
	return c
}

func TestDecide(t *testing.T) {
	live := Product{Exists: true}
	del := schemas.Command{ID: otherID, ProductID: productID, Data: &schemas.DeleteSubscription{SubscriptionID: subID}}
	cases := []struct {
		name string
		p    Product
		s    State
		c    schemas.Command
		code string // "" accepted
	}{
		{"create", live, State{}, create("http://x/h", schemas.NotifyPriceDrop), ""},
		{"create on missing product", Product{}, State{}, create("http://x/h", schemas.NotifyPriceDrop), schemas.RejectNotFound},
		{"create on discontinued", Product{Exists: true, Discontinued: true}, State{}, create("http://x/h", schemas.NotifyPriceDrop), schemas.RejectConflict},
		{"create twice", live, State{Exists: true, Version: 1}, create("http://x/h", schemas.NotifyPriceDrop), schemas.RejectConflict},
		{"create with If-Match of the product's version", Product{Exists: true, Version: 4}, State{}, ifMatch(create("http://x/h", schemas.NotifyPriceDrop), 4), ""},
		{"create with If-Match of another version", Product{Exists: true, Version: 4}, State{}, ifMatch(create("http://x/h", schemas.NotifyPriceDrop), 3), schemas.RejectConflict},
		{"create with If-Match on a missing product", Product{}, State{}, ifMatch(create("http://x/h", schemas.NotifyPriceDrop), 1), schemas.RejectNotFound},
		{"delete", live, State{Exists: true, Version: 1}, del, ""},
		{"delete unknown", live, State{}, del, schemas.RejectNotFound},
		{"delete twice", live, State{Exists: true, Deleted: true, Version: 2}, del, schemas.RejectNotFound},
		{"delete of a discontinued product's", Product{Exists: true, Discontinued: true}, State{Exists: true, Version: 1}, del, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs, rej := Decide(tc.p, tc.s, tc.c)
			switch {
			case tc.code == "" && (rej != nil || len(evs) != 1):
				t.Fatalf("Decide = %v, %v; want one event", evs, rej)
			case tc.code != "" && (rej == nil || rej.Code != tc.code):
				t.Fatalf("Decide = %v, %v; want rejection %s", evs, rej, tc.code)
			}
		})
	}
}
