package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/schemas"
)

// getProduct answers GET /v1/products/{id}: the product's view with its
// version as ETag. With ?minVersion=V it first waits, up to ?wait= seconds,
// for the view to reach version V (read-your-writes); if it does not, the
// answer is the current view marked X-Stale, or 404 if there is none.
func (s *Server) getProduct(w http.ResponseWriter, r *http.Request) {
	views := s.deps.Views
	id := r.PathValue("id")
	if !schemas.IsUUID(id) {
		badRequest(w, "id", "must be a UUID")
		return
	}
	id = canonicalID(id)
	q, ok := queryParams(w, r, []string{"minVersion", "wait", "asOfVersion"}, nil)
	if !ok {
		return
	}
	if q.Has("asOfVersion") {
		v := q.Get("asOfVersion")
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case !allDigits(v) || err != nil:
			badRequest(w, "asOfVersion", "must be a version: a whole number")
		case q.Has("minVersion") || q.Has("wait"):
			badRequest(w, "asOfVersion", "reads a past version: do not combine it with minVersion or wait")
		default:
			s.getProductAsOf(w, r, id, n)
		}
		return
	}
	var errs []FieldError
	var minVersion int64
	waitFor := q.Has("minVersion")
	if waitFor {
		v := q.Get("minVersion")
		n, err := strconv.ParseInt(v, 10, 64)
		if !allDigits(v) || err != nil {
			errs = append(errs, FieldError{Field: "minVersion", Message: "must be a version: a whole number"})
		}
		minVersion = n
	}
	wait, bad := waitParam(q, s.cfg.ReadWait, s.cfg.MaxWait)
	if bad != nil {
		errs = append(errs, *bad)
	}
	if len(errs) > 0 {
		badParams(w, errs)
		return
	}

	if views == nil {
		unavailable(w, "This server does not serve product views.")
		return
	}
	changed, stop := s.watchView(waitFor && wait > 0, id) // before the read that may find the view behind
	v, found, err := s.readView(r.Context(), views, id)
	if waitFor && wait > 0 && (err != nil || !found || v.Version < minVersion) {
		v, found, err = s.waitForVersion(r, views, id, minVersion, wait, changed, stop)
	} else {
		stop()
	}
	if err != nil {
		s.internalError(w, r, "read the product view", err, logkey.AggregateID, id)
		return
	}
	if !found {
		writeProblem(w, newProblem(http.StatusNotFound, problemNotFound, "No product "+id+" is known."))
		return
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if v.ImageURLs == nil {
		v.ImageURLs = []string{}
	}
	tag := etag(v.Version)
	w.Header().Set("ETag", tag)
	w.Header().Set("Cache-Control", "no-cache")
	if waitFor && v.Version < minVersion {
		w.Header().Set("X-Stale", "true")
	}
	// The ETag is the product's version (what If-Match takes); a joined
	// category or brand name can change under it, so such a view is
	// always sent whole.
	if !v.Joined && noneMatch(r.Header, tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// polls are the pauses between the looks of a wait: the first is
// firstPoll, each next one twice as long, up to Config.PollInterval.
type polls struct{ next, max time.Duration }

func (s *Server) polls() *polls {
	return &polls{next: min(s.firstPoll, s.cfg.PollInterval), max: s.cfg.PollInterval}
}

// pause returns the next pause.
func (p *polls) pause() time.Duration {
	d := p.next
	p.next = min(2*p.next, p.max)
	return d
}

// waitForVersion reads the view again until it has reached version want or
// the wait is over, and returns the last read. It reads when changed (see
// watchView, registered before the read that found the view behind) tells
// of a write of the product by a projector in this process, and else after
// pauses that start at firstPoll and double up to PollInterval: a client
// that asks right after its command's answer usually waits for a
// projection a few milliseconds behind, and a fixed 50 ms tick made that
// up to 50 ms (bench api: view freshness p99 124-141 ms at 1,000
// commands/s); a long wait still reads only every PollInterval. A read
// that fails is tried again at the next pause's end, so that a store
// starting up or failing over for a moment costs the client nothing.
func (s *Server) waitForVersion(r *http.Request, views ViewReader, id string, want int64, wait time.Duration, changed <-chan struct{}, stop func()) (productview.View, bool, error) {
	defer func() { stop() }()
	ctx, cancel := waitContext(r, wait)
	defer cancel()
	p := s.polls()
	t := time.NewTimer(p.pause())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			// One last read: the view may have moved since the last tick.
			return s.readView(r.Context(), views, id)
		case <-t.C:
			t.Reset(p.pause())
		case <-changed:
		}
		stop()
		changed, stop = s.watchView(true, id)
		v, found, err := s.readView(ctx, views, id)
		if ctx.Err() != nil {
			continue // the wait ended during the read: the last read decides
		}
		if err == nil && found && v.Version >= want {
			return v, found, nil
		}
	}
}

// watchView watches product id's view for writes by this process's
// projector, when wanted and Deps.ViewChanges is set; else changed is nil
// (never ready) and stop does nothing.
func (s *Server) watchView(want bool, id string) (changed <-chan struct{}, stop func()) {
	if !want || s.deps.ViewChanges == nil {
		return nil, func() {}
	}
	return s.deps.ViewChanges.Watch(id)
}

// firstPoll is the first pause of waitForVersion.
const firstPoll = 5 * time.Millisecond

// readView reads product id's view within Config.QueryTimeout.
func (s *Server) readView(ctx context.Context, views ViewReader, id string) (productview.View, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	v, found, err := views.Get(ctx, id)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		err = &queryTimeout{timeout: s.cfg.QueryTimeout, err: err}
	}
	return v, found, err
}
