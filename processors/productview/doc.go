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
//
// # Categories and brands: a read-time join
//
// Every view shows the current name of its category and brand (API.md,
// "Reference data"). The projection takes CategoryRenamed and BrandRenamed
// as well as product events (Writer.Aggregates) and stores each category's
// and brand's name as a reference record, a document like a view, keyed by
// schemas.ReferenceKey ("category:<id>") and guarded by the reference's
// version, in the same generation as the views: a replay or a
// zero-downtime rebuild rebuilds the names with the views, and a swap
// switches both at once. The Reader joins them at read time: the view's
// hash, then the category's and brand's records in one pipelined round
// trip (GetMany); a name a product's own event carried shows only until
// its category or brand is first named.
//
// Why at read time rather than a write-time fan-out (a rename rewriting
// the name into every view of the category): product and reference events
// live on different partitions and are applied by different lanes at the
// same time, so a fan-out would have to find a category's products (an
// index kept in step with details updates that move products between
// categories) and order the rename against product events that carry
// stale names, written concurrently; each view write would also have to
// look the current name up. Any miss leaves a view wrong for good. A join
// at read time is correct whatever the order, by construction: each record
// converges on its own under its version guard, and the answer combines
// the latest of both. A rename costs one write instead of one per product.
// The price is reading two small hashes with each view: in a second round
// trip the first time the Reader reads a product, in the same one after
// (Reader); and no script spans a product and a reference key, which live
// in different Redis Cluster slots. (The search projection must find
// products by the new name, so it cannot join at query time;
// processors/productsearch owns how it applies renames.)
package productview
