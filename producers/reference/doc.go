// Package reference owns the rules of the reference-data aggregates:
// categories and brands (API.md, "Reference data"). Both have the same
// shape, a name and a version, so one package serves both, told apart by
// their aggregate type (schemas.AggregateCategory, AggregateBrand).
//
// It is pure: State is a fold of one category's or brand's events
// (Evolve); Decide turns a RenameCategory or RenameBrand command and the
// state into the event payload or a Rejection; Check is the stateless half,
// shared with the HTTP API so that a bad name is a 422 before anything is
// published.
//
// It does not own the envelope (the decider in producers/decider sets
// event IDs, versions, timestamps and keys the events by
// schemas.ReferenceKey), the wire format (schemas), nor the join of names
// into the read models (processors/productview, processors/productsearch).
//
// Decisions:
//
//   - The first accepted command creates the aggregate at version 1; each
//     later one that changes the name adds a version.
//   - A name equal to the current one is accepted with no event, as a
//     product command that changes nothing is: the result carries the
//     current version. ExpectedVersion (If-Match) is checked first, even
//     for such a no-op, so a stale client learns that it is stale. One
//     that does not exist yet is at version 0, which no If-Match can name
//     (they start at 1): any If-Match on it is a conflict.
//   - Names are 1..200 Unicode code points, not blank, stored as sent.
package reference
