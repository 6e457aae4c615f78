package subscription

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/streamview/streamview/schemas"
)

// State is a fold of one subscription's events by Evolve. The zero State
// is a subscription that does not exist.
type State struct {
	Exists, Deleted bool
	Version         int64
}

// Evolve returns s with e applied.
func Evolve(s State, e schemas.Event) State {
	s.Version = e.Version
	switch e.Data.(type) {
	case *schemas.SubscriptionCreated:
		s.Exists = true
	case *schemas.SubscriptionDeleted:
		s.Deleted = true
	}
	return s
}

// Product is what Decide needs to know of the subscription's product.
type Product struct {
	Exists, Discontinued bool
	Version              int64 // the product's version: what a subscribe's If-Match names
}

// Rejection is why a command was refused; Code is a schemas.Reject* code.
type Rejection struct {
	Code, Reason string
}

// Limits of a subscription request.
const (
	MaxURLBytes    = 2048
	MaxSecretBytes = 256
)

// FieldError is one broken stateless rule.
type FieldError struct{ Field, Message string }

// Check returns the stateless problems of a subscription command: an
// absolute http(s) URL of at most MaxURLBytes, with a port (when it names
// one) of 1..65535, whose host allow permits,
// one or both known notification kinds, a secret of 1..MaxSecretBytes.
// A nil allow permits every host.
func Check(c schemas.Command, allow *Allowlist) []FieldError {
	var out []FieldError
	add := func(f, format string, args ...any) { out = append(out, FieldError{f, fmt.Sprintf(format, args...)}) }
	switch d := c.Data.(type) {
	case *schemas.CreateSubscription:
		if _, ok := schemas.SubscriptionProduct(d.SubscriptionID); !ok {
			add("subscriptionId", "is not a subscription ID")
		}
		if msg := checkURL(d.URL, allow); msg != "" {
			add("url", "%s", msg)
		}
		if len(d.Events) == 0 {
			add("events", "name at least one of %q, %q", schemas.NotifyPriceDrop, schemas.NotifyBackInStock)
		}
		for i, e := range d.Events {
			switch {
			case e != schemas.NotifyPriceDrop && e != schemas.NotifyBackInStock:
				add(fmt.Sprintf("events[%d]", i), "must be %q or %q", schemas.NotifyPriceDrop, schemas.NotifyBackInStock)
			case slices.Index(d.Events, e) < i:
				add(fmt.Sprintf("events[%d]", i), "%q is given twice", e)
			}
		}
		switch {
		case d.Secret == "":
			add("secret", "is required: it signs every delivery")
		case len(d.Secret) > MaxSecretBytes || !utf8.ValidString(d.Secret):
			add("secret", "must be valid UTF-8 of at most %d bytes", MaxSecretBytes)
		}
	case *schemas.DeleteSubscription:
		if _, ok := schemas.SubscriptionProduct(d.SubscriptionID); !ok {
			add("subscriptionId", "is not a subscription ID")
		}
	default:
		add("", "not a subscription command: %s", c.Type())
	}
	return out
}

func checkURL(raw string, allow *Allowlist) string {
	if raw == "" {
		return "is required"
	}
	if len(raw) > MaxURLBytes {
		return fmt.Sprintf("is longer than %d bytes", MaxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "must be an absolute http or https URL without user info or fragment"
	}
	if p := u.Port(); p != "" && !validPort(p) {
		// url.Parse takes any digits: :0 and :99999 reach no server.
		return fmt.Sprintf("port %s is out of range: must be 1 to 65535", p)
	}
	if allow != nil && !allow.Allows(u) {
		return fmt.Sprintf("host %s is not allowed: %s", u.Host, allow.refusal())
	}
	return ""
}

// validPort reports whether p, the digits of a URL's port, is a TCP port
// of 1..65535.
func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}

// Decide returns the payload of the event that c yields on subscription s
// of product p, or why c is refused. The event's version is s.Version+1.
func Decide(p Product, s State, c schemas.Command) ([]schemas.EventData, *Rejection) {
	if errs := Check(c, nil); len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Field + ": " + e.Message
		}
		return nil, &Rejection{schemas.RejectInvalid, "invalid command: " + strings.Join(msgs, "; ")}
	}
	switch d := c.Data.(type) {
	case *schemas.CreateSubscription:
		if pid, _ := schemas.SubscriptionProduct(d.SubscriptionID); pid != c.ProductID {
			return nil, &Rejection{schemas.RejectInvalid, fmt.Sprintf("subscription %s is not of product %s", d.SubscriptionID, c.ProductID)}
		}
		switch {
		case !p.Exists:
			return nil, &Rejection{schemas.RejectNotFound, fmt.Sprintf("product %s does not exist", c.ProductID)}
		case p.Discontinued:
			return nil, &Rejection{schemas.RejectConflict, fmt.Sprintf("product %s is discontinued", c.ProductID)}
		case c.ExpectedVersion != nil && *c.ExpectedVersion != p.Version:
			// If-Match on a command to a product (API.md): the product's version.
			return nil, &Rejection{schemas.RejectConflict, fmt.Sprintf("product %s: expected version %d, but it is at %d", c.ProductID, *c.ExpectedVersion, p.Version)}
		case s.Exists:
			return nil, &Rejection{schemas.RejectConflict, fmt.Sprintf("subscription %s exists already", d.SubscriptionID)}
		}
		return []schemas.EventData{&schemas.SubscriptionCreated{
			ProductID: c.ProductID, URL: d.URL, Events: slices.Clone(d.Events), Secret: d.Secret,
		}}, nil
	case *schemas.DeleteSubscription:
		if !s.Exists || s.Deleted {
			return nil, &Rejection{schemas.RejectNotFound, fmt.Sprintf("subscription %s does not exist", d.SubscriptionID)}
		}
		if v := c.ExpectedVersion; v != nil && *v != s.Version {
			return nil, &Rejection{schemas.RejectConflict, fmt.Sprintf("subscription %s: expected version %d, but it is at %d", d.SubscriptionID, *v, s.Version)}
		}
		return []schemas.EventData{&schemas.SubscriptionDeleted{ProductID: c.ProductID}}, nil
	}
	return nil, &Rejection{schemas.RejectInvalid, "not a subscription command"}
}

// AggregateID is the subscription a command of this package acts on, or
// "" for another command.
func AggregateID(c schemas.Command) string {
	switch d := c.Data.(type) {
	case *schemas.CreateSubscription:
		return d.SubscriptionID
	case *schemas.DeleteSubscription:
		return d.SubscriptionID
	}
	return ""
}

// Allowlist is the set of webhook target hosts (STREAMVIEW_WEBHOOK_ALLOW):
// entries "host" (any port) or "host:port". The zero Allowlist allows
// loopback only: localhost, 127.0.0.0/8 and ::1, on any port.
type Allowlist struct {
	entries []string // lower case; "host" or "host:port"
}

// ParseAllowlist reads a comma-separated list; "" is the default
// (loopback only).
func ParseAllowlist(s string) (*Allowlist, error) {
	a := &Allowlist{}
	for _, e := range strings.Split(s, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if strings.ContainsAny(e, "/@ ") {
			return nil, fmt.Errorf("webhook allowlist entry %q: want host or host:port", e)
		}
		if _, p, err := net.SplitHostPort(e); err == nil && !validPort(p) {
			return nil, fmt.Errorf("webhook allowlist entry %q: port %s is out of range: want 1 to 65535", e, p)
		}
		a.entries = append(a.entries, e)
	}
	return a, nil
}

// Allows reports whether u's host may be a webhook target.
func (a *Allowlist) Allows(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if a == nil || len(a.entries) == 0 {
		if host == "localhost" {
			return true
		}
		ip := net.ParseIP(host)
		return ip != nil && ip.IsLoopback()
	}
	for _, e := range a.entries {
		if h, p, err := net.SplitHostPort(e); err == nil {
			if strings.Trim(h, "[]") == host && p == port {
				return true
			}
			continue
		}
		if strings.Trim(e, "[]") == host {
			return true
		}
	}
	return false
}

// refusal says why a host is refused, to the API's caller: the default's
// rule, but not the hosts an operator listed (they may name internal
// hosts; the operator knows them).
func (a *Allowlist) refusal() string {
	if a == nil || len(a.entries) == 0 {
		return "webhooks go to loopback hosts only (localhost, 127.0.0.0/8, ::1) unless the server's STREAMVIEW_WEBHOOK_ALLOW names others"
	}
	return "it is not among the hosts the server's STREAMVIEW_WEBHOOK_ALLOW names; ask its operator"
}

func (a *Allowlist) String() string {
	if a == nil || len(a.entries) == 0 {
		return "loopback only"
	}
	return strings.Join(a.entries, ",")
}
