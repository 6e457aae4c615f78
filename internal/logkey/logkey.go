// Package logkey holds the keys of the log attributes that every part of
// streamview uses for the same things, so that one query (aggregateId=…)
// finds a product's lines in the API, the decider and the projectors alike.
// It owns names only; the loggers are log/slog's, passed in.
package logkey

const (
	Topic       = "topic"       // a Kafka topic
	Partition   = "partition"   // a partition number
	Offset      = "offset"      // a record's offset
	AggregateID = "aggregateId" // a product ID (the record key)
	CommandID   = "commandId"   // a command's ID
	Projection  = "projection"  // a projection's name, e.g. product-view
	Generation  = "generation"  // a projection's generation number
	EventType   = "eventType"   // an event's type, e.g. ProductPriceChanged
	Client      = "client"      // which Kafka client of the process logged (kslog)
	Err         = "err"         // an error
)
