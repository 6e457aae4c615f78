// Package producers owns the write side's path onto Kafka: the event
// Publisher (keyed by aggregate ID, idempotent, acks=all, with correlation
// and tracing headers), and what an event published past the decider must
// be to continue its aggregate's log (Continues, HeadReader, Breaks: the
// publish command's check). Below it: the pure product aggregate
// (producers/product), the command decider service that runs it on the
// commands topic (producers/decider), and the API's end of the command
// channel (producers/commandbus), which writes commands and follows their
// outcomes back from the results topic: a command's round trip is one
// concern of the write side, so its reader lives here too, not among the
// projections in processors/.
package producers
