package topics

// The names of streamview's topics, as topics.yaml declares them (a test
// holds the two together). Every package takes its default from here, so
// that a rename is one change.
const (
	// Commands carries product commands, keyed by product ID, from the
	// API to the decider.
	Commands = "catalog.product-commands"
	// Events is the log of product events, keyed by product ID: the
	// source of truth every projection folds.
	Events = "catalog.product-events"
	// CommandResults carries the decider's outcome of each command, keyed
	// by product ID, back to the API.
	CommandResults = "catalog.product-command-results"
	// State is the decider's compacted snapshot topic, keyed by product
	// ID and co-partitioned with Events: the state of each product as of
	// a recorded events offset, so that a restore reads the products and
	// only the events after that offset.
	State = "catalog.product-state"
	// NotifierJournal keeps, keyed by Webhook-Id, every notification the
	// notifier delivered or dead-lettered, so that a notifier whose Redis
	// lost its data sends none of them again.
	NotifierJournal = "catalog.notifier.journal"
)

// DeadLetter is the dead-letter topic of the projection called projection:
// catalog.<projection>.dlq.
func DeadLetter(projection string) string { return "catalog." + projection + ".dlq" }
