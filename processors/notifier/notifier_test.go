package notifier

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/streamview/streamview/schemas"
)

const (
	productID = "0b6e0d8c-5d1e-4c71-9a38-2f4f1c1f6a01"
	otherID   = "6f1c2b9e-8f0a-4a43-b7a5-0d7e2f3c4b02"
)

var (
	subA = schemas.SubscriptionID(productID, "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b04")
	subB = schemas.SubscriptionID(productID, "c3a1e5f2-7b6d-4e8f-9a0b-1c2d3e4f5a03")
)

func eur(c int64) schemas.Money { return schemas.Money{Amount: c, Currency: "EUR"} }

// log builds one partition's events at offsets 0, 1, 2, …
type log struct {
	events []Positioned
	n      int
}

func (l *log) add(aggType, aggID string, v int64, d schemas.EventData) *log {
	l.n++
	id := schemas.NameUUID([16]byte{1}, string(rune(l.n)))
	l.events = append(l.events, Positioned{Offset: int64(len(l.events)), Event: schemas.Event{
		ID: id, AggregateType: aggType, AggregateID: aggID, Version: v, Data: d,
	}})
	return l
}

func (l *log) product(v int64, d schemas.EventData) *log {
	return l.add(schemas.AggregateProduct, productID, v, d)
}

func (l *log) subscribe(id string, kinds ...string) *log {
	return l.add(schemas.AggregateSubscription, id, 1, &schemas.SubscriptionCreated{ProductID: productID, URL: "http://127.0.0.1/" + id[:4], Events: kinds, Secret: "k"})
}

func (l *log) unsubscribe(id string) *log {
	return l.add(schemas.AggregateSubscription, id, 2, &schemas.SubscriptionDeleted{ProductID: productID})
}

func ids(ns []Notification) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Kind+"@"+n.SubscriptionID[:4]+"#"+string(rune('0'+n.Offset)))
	}
	return out
}

func TestKind(t *testing.T) {
	cases := []struct {
		name string
		d    schemas.EventData
		want string
	}{
		{"drop", &schemas.ProductPriceChanged{OldPrice: eur(200), NewPrice: eur(199)}, schemas.NotifyPriceDrop},
		{"rise", &schemas.ProductPriceChanged{OldPrice: eur(200), NewPrice: eur(201)}, ""},
		{"other currency", &schemas.ProductPriceChanged{OldPrice: eur(200), NewPrice: schemas.Money{Amount: 1, Currency: "USD"}}, ""},
		{"back in stock", &schemas.ProductStockChanged{OldQuantity: 0, Quantity: 3}, schemas.NotifyBackInStock},
		{"more stock", &schemas.ProductStockChanged{OldQuantity: 1, Quantity: 3}, ""},
		{"sold out", &schemas.ProductStockChanged{OldQuantity: 1, Quantity: 0}, ""},
		{"review", &schemas.ProductReviewAdded{Rating: 5}, ""},
	}
	for _, tc := range cases {
		if got := Kind(schemas.Event{Data: tc.d}); got != tc.want {
			t.Errorf("%s: Kind = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestPlan(t *testing.T) {
	drop := &schemas.ProductPriceChanged{OldPrice: eur(200), NewPrice: eur(100)}
	back := &schemas.ProductStockChanged{OldQuantity: 0, Quantity: 2}
	l := new(log).
		product(1, drop).                                                    // 0: nobody subscribed yet
		subscribe(subA, schemas.NotifyPriceDrop, schemas.NotifyBackInStock). // 1
		product(2, drop).                                                    // 2: A
		subscribe(subB, schemas.NotifyBackInStock).                          // 3
		product(3, back).                                                    // 4: A, B
		unsubscribe(subA).                                                   // 5
		product(4, back).                                                    // 6: B
		product(5, drop)                                                     // 7: nobody wants it

	changed, out := Plan(nil, l.events)
	want := []string{"priceDrop@" + subA[:4] + "#2", "backInStock@" + subA[:4] + "#4", "backInStock@" + subB[:4] + "#4", "backInStock@" + subB[:4] + "#6"}
	if got := ids(out); !reflect.DeepEqual(got, want) {
		t.Fatalf("notifications %v, want %v", got, want)
	}
	if len(changed) != 2 || changed[0].ID != subA || changed[0].Deleted != 5 || changed[1].ID != subB || changed[1].Deleted != -1 {
		t.Fatalf("changed %+v, want A deleted at 5, B live", changed)
	}

	// A replay over the stored subscriptions: nothing to store, the same
	// notifications with the same Webhook-Ids and bodies.
	known := map[string][]Subscription{productID: changed}
	again, out2 := Plan(known, l.events)
	if len(again) != 0 {
		t.Fatalf("replay changed %+v, want nothing", again)
	}
	if !reflect.DeepEqual(out, out2) {
		t.Fatalf("replay planned %v, want %v", ids(out2), ids(out))
	}
	// Only the tail of the log, as after a restart from a committed offset.
	_, tail := Plan(known, l.events[4:])
	if got := ids(tail); !reflect.DeepEqual(got, want[1:]) {
		t.Fatalf("tail planned %v, want %v", got, want[1:])
	}

	var b Body
	if err := json.Unmarshal(out[0].Body, &b); err != nil {
		t.Fatal(err)
	}
	if b.Event != schemas.NotifyPriceDrop || b.OldPrice.Amount != "2.00" || b.Price.Amount != "1.00" || b.Price.Currency != "EUR" ||
		b.Stock != nil || b.SubscriptionID != subA || b.ProductID != productID || b.Version != 2 || b.EventID != l.events[2].Event.ID {
		t.Fatalf("body %s", out[0].Body)
	}
	if out[0].WebhookID != l.events[2].Event.ID+"."+subA {
		t.Fatalf("Webhook-Id %s", out[0].WebhookID)
	}
}

func TestSign(t *testing.T) {
	// Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec
	const want = "v1=8ad37ba156048ae0e0a5533c75cdf26fee88b07f93cb57ee4c80adb053012032"
	got := Sign("whsec", 1700000000, []byte(`{"a":1}`))
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	if !Verify("whsec", 1700000000, []byte(`{"a":1}`), got) {
		t.Fatal("Verify refuses Sign's signature")
	}
	for _, bad := range []struct {
		secret string
		ts     int64
		body   string
	}{{"other", 1700000000, `{"a":1}`}, {"whsec", 1700000001, `{"a":1}`}, {"whsec", 1700000000, `{"a":2}`}} {
		if Verify(bad.secret, bad.ts, []byte(bad.body), got) {
			t.Errorf("Verify accepts the signature with %+v", bad)
		}
	}
}

func TestNext(t *testing.T) {
	t0 := time.Unix(1000, 0)
	day := 24 * time.Hour
	cases := []struct {
		name   string
		a      Attempts
		status int
		err    error
		now    time.Time
		want   Action
		count  int
		stop   bool // Policy.StopOnGone
	}{
		{"2xx", Attempts{}, 204, nil, t0, Delivered, 0, false},
		{"2xx after failures", Attempts{Count: 3, First: t0}, 200, nil, t0.Add(time.Hour), Delivered, 0, false},
		{"500 first", Attempts{}, 500, nil, t0, Retry, 1, false},
		{"time-out", Attempts{Count: 1, First: t0}, 0, errors.New("timeout"), t0.Add(time.Minute), Retry, 2, false},
		{"redirect is a failure", Attempts{}, 302, nil, t0, Retry, 1, false},
		{"too old", Attempts{Count: 9, First: t0}, 503, nil, t0.Add(day), DeadLetter, 10, false},
		{"410 is a failure", Attempts{}, 410, nil, t0, Retry, 1, false},
		{"410 too old", Attempts{Count: 9, First: t0}, 410, nil, t0.Add(day), DeadLetter, 10, false},
		{"410 stops on gone", Attempts{}, 410, nil, t0, Gone, 1, true},
		{"500 with stop on gone", Attempts{}, 500, nil, t0, Retry, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			act, a := Next(tc.a, tc.status, tc.err, tc.now, Policy{DeadAfter: day, StopOnGone: tc.stop})
			if act != tc.want || a.Count != tc.count {
				t.Fatalf("Next = %v, %+v; want %v with count %d", act, a, tc.want, tc.count)
			}
			if act == Retry && tc.a.Count == 0 && !a.First.Equal(tc.now) {
				t.Fatalf("first failure at %v, want %v", a.First, tc.now)
			}
		})
	}
}
