// Package productview is the product-view projection: the JSON document that
// GET /v1/products/{id} serves (View), kept in Redis.
//
// It owns the view's semantics: which fields an event sets or increments
// (ChangeOf, pure), the reference fold of events into a view (Fold, pure),
// the Writer that the projection runtime calls with each batch, and the
// Reader that turns stored documents back into views. It owns the store's
// vocabulary (Change, Field, Incr, Result, Doc and the errors) and the port
// the store implements (Store), whose contract suite is storetest. It does
// not own consuming Kafka, retries or commits (the runtime in processors/)
// nor Redis (sinks/redisview implements Store); it imports only schemas (and the
// batch error).
//
// Review averages are exact: the store keeps reviewCount and ratingSum as
// integers and AverageRating divides them when a view is read, rounding half
// up to 2 decimals (4.333… → 4.33, 4.666… → 4.67, 4.125 → 4.13).
package productview
