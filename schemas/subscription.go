package schemas

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// AggregateSubscription is the aggregate type of subscription events. They
// are written to the events topic keyed by their product's ID, so that they
// sit in the product's partition, ordered with its events: the notifier
// learns of a subscription exactly before the product events that follow
// it, the same way on every replay.
const AggregateSubscription = "Subscription"

// Notification kinds a subscription may ask for.
const (
	NotifyPriceDrop   = "priceDrop"   // a price change to a lower amount
	NotifyBackInStock = "backInStock" // a stock change from 0 to more than 0
)

// Subscription event and command type names.
const (
	TypeSubscriptionCreated = "SubscriptionCreated"
	TypeSubscriptionDeleted = "SubscriptionDeleted"
	TypeCreateSubscription  = "CreateSubscription"
	TypeDeleteSubscription  = "DeleteSubscription"
)

// SubscriptionCreated starts a webhook subscription to one product. The
// event's aggregate ID is the subscription ID, its version 1.
type SubscriptionCreated struct {
	ProductID string   `json:"productId"`
	URL       string   `json:"url"`
	Events    []string `json:"events"` // NotifyPriceDrop, NotifyBackInStock
	Secret    string   `json:"secret"`
}

// SubscriptionDeleted ends a subscription; version 2 of its aggregate.
type SubscriptionDeleted struct {
	ProductID string `json:"productId"`
}

// CreateSubscription asks for a subscription to Command.ProductID.
type CreateSubscription struct {
	SubscriptionID string   `json:"subscriptionId"`
	URL            string   `json:"url"`
	Events         []string `json:"events"`
	Secret         string   `json:"secret"`
}

// DeleteSubscription ends a subscription of Command.ProductID.
type DeleteSubscription struct {
	SubscriptionID string `json:"subscriptionId"`
}

func (*SubscriptionCreated) EventType() string  { return TypeSubscriptionCreated }
func (*SubscriptionDeleted) EventType() string  { return TypeSubscriptionDeleted }
func (*CreateSubscription) CommandType() string { return TypeCreateSubscription }
func (*DeleteSubscription) CommandType() string { return TypeDeleteSubscription }

// SubscriptionID is the opaque ID of subscription sub (a UUID) to product
// productID (a UUID): both in 32 bytes, base64url without padding (43
// characters). It carries the product so that any API instance can route
// DELETE /v1/subscriptions/{id} to the product's partition without a
// lookup. It returns "" when either is not a UUID.
func SubscriptionID(productID, sub string) string {
	p, ok1 := uuidBytes(productID)
	s, ok2 := uuidBytes(sub)
	if !ok1 || !ok2 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(append(p[:], s[:]...))
}

// SubscriptionEventProduct is the product a subscription's event follows
// (its events live on the product's partition): the product ID its
// payload names, else the one inside its subscription ID; false for an
// event that is not a subscription's.
func SubscriptionEventProduct(e Event) (string, bool) {
	switch d := e.Data.(type) {
	case *SubscriptionCreated:
		if d != nil && d.ProductID != "" {
			return d.ProductID, true
		}
	case *SubscriptionDeleted:
		if d != nil && d.ProductID != "" {
			return d.ProductID, true
		}
	}
	if e.AggregateType == AggregateSubscription {
		return SubscriptionProduct(e.AggregateID)
	}
	return "", false
}

// SubscriptionProduct is the product ID (lower-case UUID) inside a
// subscription ID, and false when id is not one.
func SubscriptionProduct(id string) (string, bool) {
	if len(id) != 43 {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(b) != 32 || base64.RawURLEncoding.EncodeToString(b) != id {
		return "", false
	}
	return FormatUUID([16]byte(b[:16])), true
}

// uuidBytes parses a UUID's text form.
func uuidBytes(s string) ([16]byte, bool) {
	var u [16]byte
	if !IsUUID(s) {
		return u, false
	}
	if _, err := hex.Decode(u[:], []byte(strings.ReplaceAll(s, "-", ""))); err != nil {
		return u, false
	}
	return u, true
}

// subscription checks what CreateSubscription and SubscriptionCreated
// share.
func (p *problems) subscription(prefix, url string, events []string, secret string) {
	p.nonEmpty(prefix+"url", url)
	if len(events) == 0 {
		p.add(prefix+"events", "name at least one of %q, %q", NotifyPriceDrop, NotifyBackInStock)
	}
	seen := map[string]bool{}
	for i, e := range events {
		switch {
		case e != NotifyPriceDrop && e != NotifyBackInStock:
			p.add(prefix+"events", "item %d: unknown event %q (want %q or %q)", i, e, NotifyPriceDrop, NotifyBackInStock)
		case seen[e]:
			p.add(prefix+"events", "item %d: %q given twice", i, e)
		}
		seen[e] = true
	}
	p.nonEmpty(prefix+"secret", secret)
}

func (p *problems) subscriptionID(field, id string) {
	if _, ok := SubscriptionProduct(id); !ok {
		p.add(field, "not a subscription ID: %q", id)
	}
}

func (*SubscriptionCreated) subscriptionEvent() {}
func (*SubscriptionDeleted) subscriptionEvent() {}
