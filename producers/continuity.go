package producers

import (
	"fmt"

	"github.com/streamview/streamview/schemas"
)

// Aggregate names one aggregate of any type: products, subscriptions and
// reference data share the events topic, and a category and a brand may
// share an ID.
type Aggregate struct{ Type, ID string }

// AggregateOf returns the aggregate e belongs to. An event without an
// aggregate type is a product's, as the decider and the projections read it.
func AggregateOf(e schemas.Event) Aggregate {
	t := e.AggregateType
	if t == "" {
		t = schemas.AggregateProduct
	}
	return Aggregate{Type: t, ID: e.AggregateID}
}

func (a Aggregate) String() string {
	switch a.Type {
	case schemas.AggregateProduct:
		return "product " + a.ID
	case schemas.AggregateSubscription:
		return "subscription " + a.ID
	}
	return schemas.ReferenceKey(a.Type, a.ID)
}

// Head is where one aggregate's log stands.
type Head struct {
	Version int64  // its last event's version; 0: the log has none
	Ended   string // the event that ended its life (ProductDiscontinued, SubscriptionDeleted); "" while it lives
	Broken  string // why the log cannot say where it stands (an event that does not decode); "" when it can
}

// creation is the event type an aggregate's log must start with, "" when
// any event may start it (reference data are named by their first rename).
func creation(aggregateType string) string {
	switch aggregateType {
	case schemas.AggregateProduct:
		return schemas.TypeProductCreated
	case schemas.AggregateSubscription:
		return schemas.TypeSubscriptionCreated
	}
	return ""
}

// ending reports whether an event of type typ ends its aggregate's life: the
// decider accepts no command after it.
func ending(typ string) bool {
	return typ == schemas.TypeProductDiscontinued || typ == schemas.TypeSubscriptionDeleted
}

// Next returns h with e appended; e is assumed to continue h (see Continues).
func (h Head) Next(e schemas.Event) Head {
	h.Version = e.Version
	if ending(e.Type()) {
		h.Ended = e.Type()
	}
	return h
}

// Continues returns nil when e is the next event of an aggregate whose log
// stands at h, and otherwise says why not: its version must be the next one,
// its first event must create it, it may not be created twice, and nothing
// follows the event that ended it. These are what the decider and the views
// assume of a log; an event that breaks them makes a view the contract does
// not describe (a product without a name or a creation time, a history
// with a hole).
func Continues(h Head, e schemas.Event) error {
	a, typ := AggregateOf(e), e.Type()
	switch {
	case h.Broken != "":
		return fmt.Errorf("%s: the log cannot say where it stands: %s", a, h.Broken)
	case h.Ended != "":
		return fmt.Errorf("%s ended at version %d (%s): no event follows, not %s version %d", a, h.Version, h.Ended, typ, e.Version)
	case h.Version == 0 && e.Version != 1:
		if c := creation(a.Type); c != "" {
			return fmt.Errorf("%s has no events in the log: its first must be %s version 1, not %s version %d", a, c, typ, e.Version)
		}
		return fmt.Errorf("%s has no events in the log: its first must be version 1, not %s version %d", a, typ, e.Version)
	case e.Version != h.Version+1:
		return fmt.Errorf("%s stands at version %d: the next event is version %d, not %s version %d", a, h.Version, h.Version+1, typ, e.Version)
	}
	switch c := creation(a.Type); {
	case c == "":
	case h.Version == 0 && typ != c:
		return fmt.Errorf("%s has no events in the log: its first must be %s version 1, not %s", a, c, typ)
	case h.Version > 0 && typ == c:
		return fmt.Errorf("%s exists (version %d): %s again at version %d", a, h.Version, typ, e.Version)
	}
	return nil
}
