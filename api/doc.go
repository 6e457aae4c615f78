// Package api is the HTTP surface of streamview (API.md): commands in,
// queries out, problem+json errors, health, readiness and metrics.
//
// A command request is decoded strictly, checked with the product
// aggregate's stateless rules (product.Check) and only then published as a
// schemas.Command; with `Prefer: wait=N` the handler waits for the decider's
// result. Queries read the product views and the search index. Every
// dependency is a small interface defined here (CommandBus, ViewReader,
// Searcher) that the concrete parts satisfy as they are: a
// *commandbus.Sender and *commandbus.Results together, a
// *productview.Reader, any productsearch.Index. Search parameters are read
// here and checked by productsearch.Query.Validate; command bodies by
// product.Check: the rules live in one place.
//
// It owns HTTP: routing, parsing, status codes, headers, the OpenAPI
// document (openapi.json, served at GET /v1/openapi.json) and the request
// metrics. It does not own the rules of a product (producers/product), the
// transport of commands and results (producers/commandbus), the views or the
// search index (processors/...), nor flags and environment (cmd/streamview).
//
// Decisions that API.md leaves open:
//
//   - Every field problem of a request is reported at once: 422 for values
//     (including a price amount that is not a decimal string), 400 for the
//     shape (a wrong JSON type, an unknown field: the first one found).
//   - null counts as absent on create (a required field then "is required");
//     in a PATCH it is refused (422), since a merge-patch null would mean
//     "remove" and no field can be removed; send [] to clear a list. A null
//     element of a list ("tags":["a",null]) is a wrong JSON type, a 400
//     naming it ("tags[1]").
//   - DELETE takes an optional body {"reason"}, which ProductDiscontinued
//     carries.
//   - UUIDs are accepted in either case and used in lower case, so that one
//     product never has two Kafka keys.
//   - If-Match takes one strong entity tag, "<version>"; a weak one
//     (W/"3") is a 400, since If-Match compares strongly and a weak tag could
//     never match. "*" adds nothing (the decider requires an existing
//     product anyway) and is ignored. On a create, "0" means "must not exist".
//   - A retried request with an Idempotency-Key whose first outcome is known
//     gets that outcome (201/200/404/409/422) even without Prefer: wait; one
//     still pending is not published again; one still being written from
//     this process is a 409 with Retry-After: 1. The body is checked
//     (400/422) before the key is looked at; then the request is compared
//     with the one the key is bound to (commandbus.Request: caller, method,
//     path, body as parsed JSON): another one is a 422
//     (idempotency-key-reused). The caller is "" until authentication
//     (issue 13) sets it (callerOf).
//   - A command Kafka does not take within the sender's delivery timeout is
//     a 503 with Retry-After (commandbus.ErrTimeout).
//   - A command accepted with Prefer: wait answers Content-Location (the
//     command) and, for a create, Location: /v1/products/{id} (RFC 9110
//     §15.3.2); a rejection is problem+json with commandId, productId and
//     the product's current version as extension members.
//   - GET /v1/commands/{id} also honours Prefer: wait for a pending command,
//     and adds the rejection's code ("not_found", "conflict", "invalid").
//   - A store, index or broker that fails is a 503 with Retry-After; the
//     cause is logged, not shown.
//   - Query strings are strict too: an unknown or repeated parameter is a
//     400 naming it. ?wait= and Prefer: wait= above the maximum are capped,
//     not refused.
//   - While the server shuts down, waiting requests stop waiting and answer
//     with what they have (202, or X-Stale), instead of holding up the
//     shutdown.
//   - Authentication (Config.Auth, tokens checked by api/auth) runs before
//     routing: routePolicies names the scope of each route, a rule covers
//     the rest (never open). Without a token an unknown path is a 401, not
//     a 404, so the route map is not shown to strangers. A bad token is a
//     401 even where none is needed (public reads); the open routes
//     (probes, the OpenAPI document) ignore the header.
//   - With auth on, the token's sub is the caller: of the Idempotency-Key
//     binding, of a review (userId), of the events' metadata; an X-User-ID
//     naming someone else is a 422 like a different userId.
//   - The rate limit is per caller (sub, else client address) with a token
//     bucket; a refused request costs no token, and Retry-After is the wait
//     rounded up to whole seconds, so a client waiting it gets through.
//   - Search cursors are the index's cursors with an HMAC bound to the
//     query; the index never sees a client's cursor unchecked.
package api
