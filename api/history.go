package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

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
	events, next, found, err := s.readHistory(r.Context(), id, from, limit)
	if err != nil {
		s.internalError(w, r, "read the product's history", err, "aggregate_id", id)
		return
	}
	if next == 0 && s.deps.Views != nil {
		// The index ends the history here, or does not know the product:
		// the view, which follows the same events, tells whether it ends
		// here. After Redis lost its data both are read again from the
		// log, and the index may end anywhere meanwhile.
		cur, err := s.viewVersion(r.Context(), id)
		if err != nil {
			s.internalError(w, r, "read the product's history", err, "aggregate_id", id)
			return
		}
		have := from + int64(len(events)) - 1
		switch want := min(cur, from+int64(limit)-1); {
		case have < want:
			historyBehind(w, id, want)
			return
		case cur > have && len(events) == limit:
			next = have + 1 // the view has more: the index will
		}
	}
	if !found {
		writeProblem(w, newProblem(http.StatusNotFound, problemNotFound, "No product "+id+" is known."))
		return
	}
	page := historyPage{Events: make([]historyEvent, 0, len(events)), NextFromVersion: next}
	for _, e := range events {
		data, err := json.Marshal(e.Data)
		if err != nil {
			s.internalError(w, r, "write the product's history", fmt.Errorf("event %s version %d: %w", e.ID, e.Version, err), "aggregate_id", id)
			return
		}
		page.Events = append(page.Events, historyEvent{EventID: e.ID, EventType: e.Type(), Version: e.Version,
			Timestamp: productview.FormatTime(e.Timestamp), Data: data, Metadata: e.Metadata})
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, page)
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
// fold (productview.Fold). found is false when the product never had
// version v.
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
	view, found, err := s.viewAsOf(r.Context(), id, v)
	if err != nil {
		s.internalError(w, r, "read the product's history", err, "aggregate_id", id)
		return
	}
	if !found && s.deps.Views != nil {
		// The index follows the events like the view does: a version the
		// view has is one the index will have in a moment. A view without
		// a live generation is being read again, the index too.
		cur, err := s.viewVersion(r.Context(), id)
		if err != nil {
			s.internalError(w, r, "read the product's history", err, "aggregate_id", id)
			return
		}
		if cur >= v {
			historyBehind(w, id, v)
			return
		}
	}
	if !found {
		writeProblem(w, newProblem(http.StatusNotFound, problemNotFound, fmt.Sprintf("Product %s never had version %d.", id, v)))
		return
	}
	// A past version with today's names: the reference name wins, whatever
	// name the product's own events carried (API.md, "Reference data").
	if view, err = s.joinReferences(r.Context(), view); err != nil {
		s.internalError(w, r, "read the product's category and brand", err, "aggregate_id", id)
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
