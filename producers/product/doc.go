// Package product owns the rules of the product aggregate: which commands a
// product accepts and which events they become.
//
// It is pure. State is a fold of a product's events (Evolve); Decide turns a
// command and the current state into event payloads or a Rejection; Check is
// the stateless half of Decide's rules, shared with the HTTP API so that a
// bad request is refused before anything is published. There are no clients,
// clocks or random numbers here: IDs, versions and timestamps come in with
// the command and are put on the events by the caller.
//
// It does not own the event envelope (the decider in producers/decider
// assigns event IDs, versions s.Version+1…, timestamps and metadata), the
// wire format (package schemas) nor any projection of the events
// (processors).
//
// Decisions that are not obvious from the API contract:
//
//   - A command that would change nothing (details equal to the current
//     ones, the same price, the same quantity) is accepted with no events;
//     the decider reports the product's current version. A details update
//     emits only the fields that differ, and category and brand always
//     travel as ID+name pairs. An update with no fields at all is such a
//     no-op too (as an empty JSON merge patch is).
//   - ExpectedVersion (If-Match) is checked even when the command is a
//     no-op, so a stale client learns that it is stale.
//   - A review's ID is the ID of the command that added it, so a redelivered
//     command cannot yield a second review under another ID.
//   - Lengths are counted in Unicode code points (runes), as JSON Schema's
//     maxLength counts them. Text is stored as sent: nothing is trimmed, but
//     a required text must not be blank.
package product
