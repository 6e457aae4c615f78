package api

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamview/streamview/processors/productsearch"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

// Deps are the parts a Server talks to. A nil part turns its endpoints into
// 503s, so that a server can run with the query side only, say.
type Deps struct {
	// Commands publishes commands and reports the decider's results.
	Commands CommandBus
	// Views reads product views: a *productview.Reader.
	Views ViewReader
	// ViewChanges, when set, wakes a read waiting for ?minVersion= as soon
	// as a projector in this process has written its product (a
	// *productview.Changes its productview.Writer tells), instead of at
	// its next look at the store; it still looks every PollInterval for
	// the writes of other processes.
	ViewChanges ViewChanges
	// Search answers product searches: any productsearch.Index.
	Search Searcher
	// History reads products' events for GET /v1/products/{id}/events
	// and ?asOfVersion=: an *eventlog.Reader.
	History History
	// Operations acts on projections: dead letters, rebuilds.
	Operations Operations
	// Ready are the checks of GET /readyz (Kafka, Redis, Elasticsearch,
	// the decider).
	Ready []Check
	// Projections returns the state of each projection and generation for
	// GET /v1/projections, marshalled as JSON. Nil answers 503.
	Projections func(ctx context.Context) (any, error)
	// Metrics gathers further metrics for GET /metrics, after the
	// server's own (consumer lag, sink latencies, the Kafka clients...):
	// the process's *prometheus.Registry.
	Metrics prometheus.Gatherer
}

// CommandBus publishes commands and reports their outcomes. A
// *commandbus.Sender has SendBound and a *commandbus.Results the rest, so
// cmd wires both as one:
//
//	struct {
//		*commandbus.Sender
//		*commandbus.Results
//	}{sender, results}
//
// with the Sender's Tracker set to the Results, so that a keyed command is
// claimed while it is being written and known as pending once it is.
type CommandBus interface {
	// SendBound publishes cmd on the commands topic, keyed by its product
	// ID, and returns once the broker has it; commandbus.ErrTimeout when
	// it has not taken it within the delivery timeout. For a keyed cmd,
	// fingerprint binds the key to the request; it fails with
	// commandbus.ErrInFlight while another send of the key is being
	// written and commandbus.ErrKeyReused when the key is bound to another
	// request.
	SendBound(ctx context.Context, cmd schemas.Command, fingerprint string) (commandbus.Sent, error)
	// Bound returns what the Idempotency-Key with keyID
	// (commandbus.KeyID) is bound to, if known.
	Bound(keyID string) (commandbus.KeyBinding, bool)
	// Status returns what is known of commandID: its outcome, or that it
	// is pending (in Kafka); false when neither.
	Status(commandID string) (commandbus.Status, bool)
	// Wait returns commandID's outcome as soon as it is known (at once when
	// it is already), or ctx's error when ctx ends first.
	Wait(ctx context.Context, commandID string) (schemas.CommandResult, error)
}

// ViewReader reads product views, as *productview.Reader does.
type ViewReader interface {
	// Get reads product id's view; found is false for an unknown product.
	Get(ctx context.Context, id string) (v productview.View, found bool, err error)
}

// ViewChanges tells of the products a projector in this process wrote, as
// *productview.Changes does.
type ViewChanges interface {
	// Watch returns a channel closed at the next write of product id, and
	// stop, to call once the caller no longer waits.
	Watch(id string) (changed <-chan struct{}, stop func())
}

// Searcher answers product searches, as every productsearch.Index does.
type Searcher interface {
	// Search answers q; a bad q returns a *productsearch.ValidationError.
	Search(ctx context.Context, q productsearch.Query) (productsearch.Result, error)
}

// Check is one readiness check of GET /readyz.
type Check struct {
	// Name names the part checked in the answer: "kafka", "redis",
	// "elasticsearch", "decider".
	Name string
	// Check returns nil when the part is reachable. It gets a context
	// bounded by Config.ReadyTimeout.
	Check func(ctx context.Context) error
}
