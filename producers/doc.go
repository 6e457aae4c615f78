// Package producers owns the write side's path onto Kafka: the event
// Publisher (keyed by aggregate ID, idempotent, acks=all, with correlation
// and tracing headers). The pure product aggregate lives in
// producers/product and the command decider service in producers/decider.
package producers
