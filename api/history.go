package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
)

// History reads a product's events from the events topic, as
// *eventlog.Reader does.
type History interface {
	// Events returns up to limit events of product id from version from
	// on, in version order; next is the version after them when more
	// follow (0 otherwise); found is false for an unknown product.
	Events(ctx context.Context, id string, from int64, limit int) (events []schemas.Event, next int64, found bool, err error)
}

// Bounds of GET /v1/products/{id}/events?limit=.
const (
	DefaultHistoryLimit = 100
	MaxHistoryLimit     = 1000
)

// historyEvent is one event of GET /v1/products/{id}/events.
type historyEvent struct {
	EventID   string           `json:"eventId"`
	EventType string           `json:"eventType"`
	Version   int64            `json:"version"`
	Timestamp string           `json:"timestamp"`
	Data      json.RawMessage  `json:"data"`
	Metadata  schemas.Metadata `json:"metadata"`
}

type historyPage struct {
	Events          []historyEvent `json:"events"`
	NextFromVersion int64          `json:"nextFromVersion,omitempty"`
}

// productEvents answers GET /v1/products/{id}/events?fromVersion=&limit=.
func (s *Server) productEvents(w http.ResponseWriter, r *http.Request) {
	if s.deps.History == nil {
		unavailable(w, "This server does not serve product histories.")
		return
	}
	id := r.PathValue("id")
	if !schemas.IsUUID(id) {
		badRequest(w, "id", "must be a UUID")
		return
	}
	id = canonicalID(id)
	q, ok := queryParams(w, r, []string{"fromVersion", "limit"}, nil)
	if !ok {
		return
	}
	var errs []FieldError
	from, limit := int64(1), DefaultHistoryLimit
	if q.Has("fromVersion") {
		v := q.Get("fromVersion")
		n, err := strconv.ParseInt(v, 10, 64)
		if !allDigits(v) || err != nil || n < 1 {
			errs = append(errs, FieldError{Field: "fromVersion", Message: "must be a version: a whole number, 1 or more"})
		}
		from = n
	}
	if q.Has("limit") {
		v := q.Get("limit")
		n, err := strconv.Atoi(v)
		if !allDigits(v) || err != nil || n < 1 || n > MaxHistoryLimit {
			errs = append(errs, FieldError{Field: "limit", Message: fmt.Sprintf("must be a whole number from 1 to %d", MaxHistoryLimit)})
		}
		limit = n
	}
	if len(errs) > 0 {
		badParams(w, errs)
		return
	}
	events, next, found, ok := s.historyUpTo(w, r, id, from, limit)
	if !ok {
		return
	}
	if !found {
		writeProblem(w, newProblem(http.StatusNotFound, problemNotFound, "No product "+id+" is known."))
		return
	}
	page := historyPage{Events: make([]historyEvent, 0, len(events)), NextFromVersion: next}
	for _, e := range events {
		data, err := json.Marshal(e.Data)
		if err != nil {
			s.internalError(w, r, "write the product's history", fmt.Errorf("event %s version %d: %w", e.ID, e.Version, err), logkey.AggregateID, id)
			return
		}
		page.Events = append(page.Events, historyEvent{EventID: e.ID, EventType: e.Type(), Version: e.Version,
			Timestamp: productview.FormatTime(e.Timestamp), Data: data, Metadata: e.Metadata})
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, page)
}

// historyUpTo reads a page of product id's history that does not end
// short of what the view has. Where the index ends the history (no next
// page) or does not know the product, the view, which follows the same
// events, says whether it ends there: if the view has a version the page
// should hold and the index lacks it, the read waits for the index (see
// historyWait), then answers 503 with Retry-After. A page of nothing
// known yet (a product neither knows, a fromVersion past the end) waits
// the same for its first version, which a command may have just
// written, then is answered as it is. After Redis lost its data both are
// read again from the log: a view without a live generation is a 503. A
// full page where the index ends and the view has more gets next. ok is
// false when it has answered.
func (s *Server) historyUpTo(w http.ResponseWriter, r *http.Request, id string, from int64, limit int) (events []schemas.Event, next int64, found, ok bool) {
	var wait context.Context
	expired := false // the wait is over: what is read next is answered
	for {
		var err error
		events, next, found, err = s.readHistory(r.Context(), id, from, limit)
		if err != nil {
			s.internalError(w, r, "read the product's history", err, logkey.AggregateID, id)
			return nil, 0, false, false
		}
		if next != 0 || s.deps.Views == nil {
			return events, next, found, true
		}
		cur, err := s.viewVersion(r.Context(), id)
		if err != nil {
			s.internalError(w, r, "read the product's history", err, logkey.AggregateID, id)
			return nil, 0, false, false
		}
		have := from + int64(len(events)) - 1
		need := cur // the version the index must hold: the view's, within the page
		if cur >= from {
			need = min(cur, from+int64(limit)-1)
		}
		var awaited int64 // the first version the index lacks
		behind := cur > 0 && (!found || need >= from && have < need)
		switch {
		case behind && cur < from:
			awaited = cur // the index does not know the product: not even at the view's version
		case behind:
			awaited = have + 1
		case len(events) == 0:
			awaited = from
		case cur > have && len(events) == limit:
			next = have + 1 // the view has more: the index will
		}
		if awaited == 0 {
			return events, next, found, true
		}
		if !expired {
			if wait == nil {
				var cancel context.CancelFunc
				wait, cancel = waitContext(r, s.historyWait())
				defer cancel()
			}
			// Then read again, the view too: it may have moved on.
			expired = !s.awaitHistory(wait, id, awaited)
			continue
		}
		if behind {
			historyBehind(w, id, need)
			return nil, 0, false, false
		}
		return events, next, found, true
	}
}

// historyWait bounds how long a history read waits for the index to hold
// a version that is, or may be, in the log: one the view has, one asked
// for. The index follows the events a few milliseconds behind, so a read
// right after a command's answer finds its version in far less. At most
// Config.ReadWait.
const historyWait = time.Second

func (s *Server) historyWait() time.Duration { return min(historyWait, s.cfg.ReadWait) }

// awaitHistory waits until the history index holds version v of product
// id, or ctx ends; it reports whether it does. It looks after the pauses
// of a ?minVersion= wait (polls), each look a read of that one version.
func (s *Server) awaitHistory(ctx context.Context, id string, v int64) bool {
	p := s.polls()
	t := time.NewTimer(p.pause())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		if events, _, _, err := s.readHistory(ctx, id, v, 1); err == nil && len(events) == 1 {
			return true
		}
		t.Reset(p.pause())
	}
}

// readHistory reads a page of history within Config.QueryTimeout.
func (s *Server) readHistory(ctx context.Context, id string, from int64, limit int) ([]schemas.Event, int64, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	events, next, found, err := s.deps.History.Events(ctx, id, from, limit)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		err = &queryTimeout{timeout: s.cfg.QueryTimeout, err: err}
	}
	return events, next, found, err
}

// viewVersion is product id's version in the view, 0 when the view does
// not know it; productview.ErrNoLive while the view has no live
// generation (its store lost its data and the log is read again).
func (s *Server) viewVersion(ctx context.Context, id string) (int64, error) {
	v, found, err := s.readView(ctx, s.deps.Views, id)
	if err != nil || !found {
		return 0, err
	}
	return v.Version, nil
}

// historyBehind answers 503 for version v of product id, which the view
// has and the history index not yet.
func historyBehind(w http.ResponseWriter, id string, v int64) {
	unavailable(w, fmt.Sprintf("The history index has not reached version %d of product %s, which the product view has: it follows the events a few milliseconds behind, or reads them again after its store lost its data. Try again.", v, id))
}

// viewAsOf folds product id's events up to version v with the view's own
// fold (productview.Fold). found is false when the index does not hold
// version v and every one before it: the view returned is then the fold
// up to the first version it lacks.
func (s *Server) viewAsOf(ctx context.Context, id string, v int64) (productview.View, bool, error) {
	var view productview.View
	from := int64(1)
	for from <= v {
		n := int(min(v-from+1, MaxHistoryLimit))
		events, next, found, err := s.readHistory(ctx, id, from, n)
		if err != nil || !found {
			return view, false, err
		}
		for _, e := range events {
			if e.Version <= v {
				view = productview.Fold(view, e)
			}
		}
		if len(events) < n || next == 0 {
			break
		}
		from = next
	}
	return view, view.Version == v, nil
}

// getProductAsOf answers GET /v1/products/{id}?asOfVersion=V.
func (s *Server) getProductAsOf(w http.ResponseWriter, r *http.Request, id string, v int64) {
	if s.deps.History == nil {
		unavailable(w, "This server does not serve product histories.")
		return
	}
	if v == 0 { // well-formed, but no product has a version 0 (API.md: 404)
		writeProblem(w, newProblem(http.StatusNotFound, problemNotFound, fmt.Sprintf("Product %s never had version %d.", id, v)))
		return
	}
	var wait context.Context
	expired := false
	view, found, err := s.viewAsOf(r.Context(), id, v)
	for !found && err == nil && s.deps.Views != nil {
		// The index follows the events like the view does: a version the
		// view has is one the index will have in a moment, and one it has
		// not may have just been written (a command's answer). A view
		// without a live generation is being read again, the index too.
		cur, verr := s.viewVersion(r.Context(), id)
		if verr != nil {
			err = verr
			break
		}
		if expired {
			if cur >= v {
				historyBehind(w, id, v)
				return
			}
			break
		}
		if wait == nil {
			var cancel context.CancelFunc
			wait, cancel = waitContext(r, s.historyWait())
			defer cancel()
		}
		// The fold stopped at the first version the index lacks.
		expired = !s.awaitHistory(wait, id, view.Version+1)
		view, found, err = s.viewAsOf(r.Context(), id, v)
	}
	if err != nil {
		s.internalError(w, r, "read the product's history", err, logkey.AggregateID, id)
		return
	}
	if !found {
		writeProblem(w, newProblem(http.StatusNotFound, problemNotFound, fmt.Sprintf("Product %s never had version %d.", id, v)))
		return
	}
	// A past version with today's names: the reference name wins, whatever
	// name the product's own events carried (API.md, "Reference data").
	if view, err = s.joinReferences(r.Context(), view); err != nil {
		s.internalError(w, r, "read the product's category and brand", err, logkey.AggregateID, id)
		return
	}
	if view.Tags == nil {
		view.Tags = []string{}
	}
	if view.ImageURLs == nil {
		view.ImageURLs = []string{}
	}
	w.Header().Set("ETag", etag(view.Version))
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, view)
}
