package api

import (
	"github.com/streamview/streamview/producers/subscription"
	"github.com/streamview/streamview/schemas"
)

// Webhook subscriptions (API.md, "Notifications") are commands on their
// product: POST /v1/products/{id}/subscriptions and DELETE
// /v1/subscriptions/{subscriptionId} go through Server.command like every
// command (Idempotency-Key, Prefer: wait, If-Match), keyed by the product.
// The POST's If-Match names the product's version, as on every command to
// a product (a 409 when it is at another); the DELETE's, the
// subscription's. Without Prefer: wait the POST waits for its outcome by
// itself (defaultSubscribeWait), to answer 201 with the subscription's ID,
// and says no Preference-Applied: none was asked for.
// The subscription ID is derived from the command ID (so a retry with the
// same Idempotency-Key names the same subscription) and carries the
// product ID, which routes a DELETE without a lookup.

type (
	subscribeRequest struct {
		URL    opt[string]   `json:"url"`
		Events opt[[]string] `json:"events"`
		Secret opt[string]   `json:"secret"`
	}
	unsubscribeRequest struct{}
)

func (r *subscribeRequest) command(_ *Server, errs *fieldErrors) schemas.CommandData {
	required(errs, "url", r.URL)
	required(errs, "events", r.Events)
	required(errs, "secret", r.Secret)
	// The subscription ID is set by Server.command once the command ID is known.
	return &schemas.CreateSubscription{URL: r.URL.Value, Events: r.Events.Value, Secret: r.Secret.Value}
}

func (r *unsubscribeRequest) command(*Server, *fieldErrors) schemas.CommandData {
	return &schemas.DeleteSubscription{} // its ID comes from the path
}

// subscriptionAnswer is the body of an accepted (201) or pending (202)
// subscription.
type subscriptionAnswer struct {
	SubscriptionID string `json:"subscriptionId"`
	commandStatus
}

// checkSubscription applies the stateless rules of a subscription command
// (the allowlist of target hosts among them: a host outside it is a 422).
func (s *Server) checkSubscription(cmd schemas.Command) []FieldError {
	allow := s.cfg.WebhookAllow
	if allow == nil {
		allow = &subscription.Allowlist{} // loopback only
	}
	var out []FieldError
	for _, e := range subscription.Check(cmd, allow) {
		if e.Field == "subscriptionId" {
			continue // made by the server; a bad path ID was a 400 already
		}
		out = append(out, FieldError{Field: e.Field, Message: e.Message})
	}
	return out
}

// isSubscribe reports whether a command body creates a subscription.
func isSubscribe(d schemas.CommandData) bool {
	_, ok := d.(*schemas.CreateSubscription)
	return ok
}
