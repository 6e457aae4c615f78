package schemas

import "testing"

func TestSubscriptionID(t *testing.T) {
	id := SubscriptionID(productID, reviewID)
	if len(id) != 43 {
		t.Fatalf("SubscriptionID = %q, want 43 characters", id)
	}
	if p, ok := SubscriptionProduct(id); !ok || p != productID {
		t.Fatalf("SubscriptionProduct(%q) = %q, %v; want %q", id, p, ok, productID)
	}
	for _, bad := range []string{"", productID, id[:42], id + "A", "!" + id[1:]} {
		if p, ok := SubscriptionProduct(bad); ok {
			t.Errorf("SubscriptionProduct(%q) = %q, want not a subscription ID", bad, p)
		}
	}
	if got := SubscriptionID("x", reviewID); got != "" {
		t.Errorf("SubscriptionID of a non-UUID = %q, want \"\"", got)
	}
}

func TestSubscriptionValidate(t *testing.T) {
	ok := subscriptionEvent(1, &SubscriptionCreated{ProductID: productID, URL: "u", Events: []string{NotifyPriceDrop}, Secret: "s"})
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid subscription event: %v", err)
	}
	cases := []struct {
		name  string
		e     Event
		field string
	}{
		{"unknown kind", subscriptionEvent(1, &SubscriptionCreated{ProductID: productID, URL: "u", Events: []string{"sale"}, Secret: "s"}), "data.events"},
		{"twice", subscriptionEvent(1, &SubscriptionCreated{ProductID: productID, URL: "u", Events: []string{NotifyPriceDrop, NotifyPriceDrop}, Secret: "s"}), "data.events"},
		{"no secret", subscriptionEvent(1, &SubscriptionCreated{ProductID: productID, URL: "u", Events: []string{NotifyPriceDrop}}), "data.secret"},
		{"another product", subscriptionEvent(1, &SubscriptionCreated{ProductID: eventID, URL: "u", Events: []string{NotifyPriceDrop}, Secret: "s"}), "data.productId"},
		{"product aggregate", event(1, &SubscriptionDeleted{ProductID: productID}), "aggregateType"},
		{"product event on a subscription", subscriptionEvent(1, &ProductDiscontinued{}), "aggregateType"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errs := FieldErrors(tc.e.Validate())
			found := false
			for _, e := range errs {
				found = found || e.Field == tc.field
			}
			if !found {
				t.Fatalf("errors %v, want one on %s", errs, tc.field)
			}
		})
	}
}
