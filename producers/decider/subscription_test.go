package decider

import (
	"testing"

	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

func subscribeCmd(productID, subID string) schemas.Command {
	return schemas.Command{
		ID: commandbus.NewID(), ProductID: productID,
		Metadata: schemas.Metadata{CorrelationID: commandbus.NewID(), UserID: "user-1"},
		Data:     &schemas.CreateSubscription{SubscriptionID: subID, URL: "http://127.0.0.1/hook", Events: []string{schemas.NotifyPriceDrop}, Secret: "k"},
	}
}

func unsubscribeCmd(productID, subID string) schemas.Command {
	return schemas.Command{
		ID: commandbus.NewID(), ProductID: productID,
		Metadata: schemas.Metadata{CorrelationID: commandbus.NewID(), UserID: "user-1"},
		Data:     &schemas.DeleteSubscription{SubscriptionID: subID},
	}
}

// Subscriptions are decided on their product's partition; their events go
// to the events topic keyed by the product without moving its version,
// and a restarted decider remembers them.
func TestSubscriptions(t *testing.T) {
	f := newFixture(t, 3)
	b := f.bus(t)
	first := f.start(t, f.config(), nil)
	pid, missing := commandbus.NewID(), commandbus.NewID()
	sub := schemas.SubscriptionID(pid, commandbus.NewID())

	if res := b.do(t, subscribeCmd(missing, schemas.SubscriptionID(missing, commandbus.NewID()))); res.Code != schemas.RejectNotFound {
		t.Fatalf("subscribe to a missing product: %+v, want not_found", res)
	}
	b.do(t, createCmd(pid, 100))
	if res := b.do(t, subscribeCmd(pid, sub)); res.Status != schemas.StatusAccepted || res.Version != 1 {
		t.Fatalf("subscribe: %+v, want accepted at the subscription's version 1", res)
	}
	if res := b.do(t, subscribeCmd(pid, schemas.SubscriptionID(missing, commandbus.NewID()))); res.Code != schemas.RejectInvalid {
		t.Fatalf("subscription of another product: %+v, want invalid", res)
	}
	if res := b.do(t, priceCmd(pid, 90)); res.Status != schemas.StatusAccepted || res.Version != 2 {
		t.Fatalf("price after subscribing: %+v, want the product at version 2", res)
	}
	first.stop(t)

	f.start(t, f.config(), nil)
	if res := b.do(t, unsubscribeCmd(pid, sub)); res.Status != schemas.StatusAccepted || res.Version != 2 {
		t.Fatalf("unsubscribe after a restart: %+v, want accepted at version 2", res)
	}
	if res := b.do(t, unsubscribeCmd(pid, sub)); res.Code != schemas.RejectNotFound {
		t.Fatalf("unsubscribe twice: %+v, want not_found", res)
	}

	var subEvents []schemas.Event
	recs := f.readAll(t, f.events)
	for _, r := range recs {
		e, err := f.codec.DecodeEvent(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		if e.AggregateType == schemas.AggregateSubscription {
			subEvents = append(subEvents, e)
			if string(r.Key) != pid {
				t.Errorf("%s keyed %q, want the product %s", e.Type(), r.Key, pid)
			}
			if err := e.Validate(); err != nil {
				t.Errorf("%s: %v", e.Type(), err)
			}
		}
	}
	if len(subEvents) != 2 || subEvents[0].Type() != schemas.TypeSubscriptionCreated || subEvents[1].Type() != schemas.TypeSubscriptionDeleted ||
		subEvents[0].AggregateID != sub || subEvents[1].Version != 2 {
		t.Fatalf("subscription events %+v", subEvents)
	}
}
