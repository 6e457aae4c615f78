package notifier

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/streamview/streamview/schemas"
)

// Subscription is a webhook subscription as the notifier keeps it.
type Subscription struct {
	ID        string   `json:"id"`
	ProductID string   `json:"productId"`
	URL       string   `json:"url"`
	Events    []string `json:"events"`
	Secret    string   `json:"secret"`
	// Created and Deleted are the offsets of SubscriptionCreated and
	// SubscriptionDeleted in the product's partition; Deleted is -1 while
	// the subscription lives.
	Created int64 `json:"created"`
	Deleted int64 `json:"deleted"`
}

// Active reports whether s is notified of its product's event at offset:
// created before it and not deleted before it.
func (s Subscription) Active(offset int64) bool {
	return s.Created < offset && (s.Deleted < 0 || offset < s.Deleted)
}

// Wants reports whether s asked for notifications of kind.
func (s Subscription) Wants(kind string) bool { return slices.Contains(s.Events, kind) }

// Positioned is an event and its place in the events topic.
type Positioned struct {
	Event     schemas.Event
	Partition int32
	Offset    int64
}

// Notification is one delivery to make: to URL, signed with Secret, the
// same Body and WebhookID on every attempt.
type Notification struct {
	WebhookID      string `json:"webhookId"`
	SubscriptionID string `json:"subscriptionId"`
	ProductID      string `json:"productId"`
	URL            string `json:"url"`
	Secret         string `json:"secret"`
	Kind           string `json:"kind"`
	EventType      string `json:"eventType"`
	Partition      int32  `json:"partition"`
	Offset         int64  `json:"offset"` // of the event; a subscription's notifications queue in this order
	Body           []byte `json:"body"`
}

// Price is money as the API writes it.
type Price struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// Body is the JSON a receiver gets.
type Body struct {
	SubscriptionID string `json:"subscriptionId"`
	ProductID      string `json:"productId"`
	Event          string `json:"event"` // priceDrop or backInStock
	EventID        string `json:"eventId"`
	Version        int64  `json:"version"`
	OldPrice       *Price `json:"oldPrice,omitempty"`
	Price          *Price `json:"price,omitempty"`
	Stock          *int64 `json:"stock,omitempty"`
}

// Kind is the notification e yields: a price change to a lower amount is
// a price drop, a stock change from 0 to more than 0 back in stock;
// anything else yields "".
func Kind(e schemas.Event) string {
	switch d := e.Data.(type) {
	case *schemas.ProductPriceChanged:
		if d != nil && d.NewPrice.Currency == d.OldPrice.Currency && d.NewPrice.Amount < d.OldPrice.Amount {
			return schemas.NotifyPriceDrop
		}
	case *schemas.ProductStockChanged:
		if d != nil && d.OldQuantity == 0 && d.Quantity > 0 {
			return schemas.NotifyBackInStock
		}
	}
	return ""
}

// WebhookID names the delivery of event eventID to subscription subID:
// the same on every attempt, in every replay.
func WebhookID(eventID, subID string) string { return eventID + "." + subID }

// Sign is the Webhook-Signature of body sent at timestamp (Unix seconds,
// as in Webhook-Timestamp): "v1=" and the hex HMAC-SHA256 of
// "<timestamp>.<body>" keyed with secret.
func Sign(secret string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a Webhook-Signature the way a receiver should, in
// constant time.
func Verify(secret string, timestamp int64, body []byte, signature string) bool {
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}

func price(m schemas.Money) *Price {
	return &Price{Amount: schemas.FormatAmount(m.Amount, m.Currency), Currency: m.Currency}
}

// body is the payload of kind for e to subscription s.
func body(s Subscription, e schemas.Event, kind string) []byte {
	b := Body{SubscriptionID: s.ID, ProductID: s.ProductID, Event: kind, EventID: e.ID, Version: e.Version}
	switch d := e.Data.(type) {
	case *schemas.ProductPriceChanged:
		b.OldPrice, b.Price = price(d.OldPrice), price(d.NewPrice)
	case *schemas.ProductStockChanged:
		q := d.Quantity
		b.Stock = &q
	}
	out, _ := json.Marshal(b) // plain strings and numbers: cannot fail
	return out
}

// Relevant reports whether Plan needs the stored subscriptions of e's
// product: e changes subscriptions or may notify.
func Relevant(e schemas.Event) bool {
	return e.AggregateType == schemas.AggregateSubscription || Kind(e) != ""
}

// ProductOf is the product whose partition holds e: a subscription event's
// product, or the product itself.
func ProductOf(e schemas.Event) string {
	if p, ok := schemas.SubscriptionEventProduct(e); ok {
		return p
	}
	return e.AggregateID
}

// Plan folds events (one partition's, in order) over known, the stored
// subscriptions of their products by product ID, and returns the
// subscriptions to store (new ones, and those whose deletion it saw for
// the first time) and the notifications the events yield. known is not
// modified. Events seen before (a redelivery or replay) change nothing
// and yield the same notifications again, with the same Webhook-Ids.
func Plan(known map[string][]Subscription, events []Positioned) (changed []Subscription, out []Notification) {
	subs := make(map[string][]Subscription, len(known))
	index := map[string]int{} // changed, by subscription ID
	for _, p := range events {
		e := p.Event
		pid := ProductOf(e)
		list, ok := subs[pid]
		if !ok {
			list = slices.Clone(known[pid])
		}
		switch d := e.Data.(type) {
		case *schemas.SubscriptionCreated:
			if slices.IndexFunc(list, func(s Subscription) bool { return s.ID == e.AggregateID }) >= 0 {
				break // seen before
			}
			s := Subscription{ID: e.AggregateID, ProductID: d.ProductID, URL: d.URL, Events: slices.Clone(d.Events),
				Secret: d.Secret, Created: p.Offset, Deleted: -1}
			list = append(list, s)
			index[s.ID] = len(changed)
			changed = append(changed, s)
		case *schemas.SubscriptionDeleted:
			i := slices.IndexFunc(list, func(s Subscription) bool { return s.ID == e.AggregateID })
			if i < 0 || list[i].Deleted >= 0 {
				break // unknown (its creation was lost) or seen before
			}
			list[i].Deleted = p.Offset
			if j, ok := index[list[i].ID]; ok {
				changed[j] = list[i]
			} else {
				index[list[i].ID] = len(changed)
				changed = append(changed, list[i])
			}
		default:
			kind := Kind(e)
			if kind == "" {
				break
			}
			for _, s := range list {
				if !s.Active(p.Offset) || !s.Wants(kind) {
					continue
				}
				out = append(out, Notification{
					WebhookID: WebhookID(e.ID, s.ID), SubscriptionID: s.ID, ProductID: s.ProductID,
					URL: s.URL, Secret: s.Secret, Kind: kind, EventType: e.Type(),
					Partition: p.Partition, Offset: p.Offset, Body: body(s, e, kind),
				})
			}
		}
		subs[pid] = list
	}
	return changed, out
}
