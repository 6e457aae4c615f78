// Package productview is the product-view projection: the JSON document that
// GET /v1/products/{id} serves (View), kept in Redis.
//
// It owns the view's semantics: which fields an event sets or increments
// (Change, pure), the reference fold of events into a view (Fold, pure), the
// Projector that the projection runtime calls with each batch, and the Reader
// that turns stored documents back into views. It does not own consuming
// Kafka, retries or commits (the runtime in processors/) nor Redis (the
// generic versioned store in sinks/redisview).
//
// Review averages are exact: the store keeps reviewCount and ratingSum as
// integers and AverageRating divides them when a view is read, rounding half
// up to 2 decimals (4.333… → 4.33, 4.666… → 4.67, 4.125 → 4.13).
package productview
