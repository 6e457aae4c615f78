// Package redishistory keeps the product-history index (implements
// producthistory.Store) in Redis: one hash per product and generation,
// sv:<projection>:g<N>:{<productId>}, whose field is the version and whose
// value is "<partition>:<offset>". The braces hash-tag the key, so the
// package works on Redis Cluster as well; `streamview dev` runs it on its
// embedded Redis (miniredis).
//
// A version's first position stays (HSETNX): redelivery, replay and
// re-driven records are duplicates. It does not own what an entry means
// (processors/producthistory) nor reading events back (processors/eventlog).
package redishistory
