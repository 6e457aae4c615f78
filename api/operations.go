package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Operations acts on the projections for the operations endpoints: their
// dead letters and rebuilds. cmd/streamview implements it over
// processors/deadletter and processors/rebuild.
type Operations interface {
	// DeadLetters lists up to limit dead letters of projection name, in
	// the dead-letter topic's order; more is true when others follow.
	DeadLetters(ctx context.Context, name string, limit int) (letters []DeadLetter, more bool, err error)
	// Redrive publishes the dead letters at offsets (or every one, with
	// all) back to their source topic.
	Redrive(ctx context.Context, name string, offsets []DeadLetterOffset, all bool) (RedriveResult, error)
	// StartRebuild starts a zero-downtime rebuild of projection name in
	// the background; ErrRebuildRunning when one runs already.
	StartRebuild(ctx context.Context, name string) (RebuildStarted, error)
	// AbortRebuild stops the rebuild of projection name and removes what
	// it built; ErrNoRebuild when none is under way, ErrRebuildSwapped when
	// it has swapped already (it then finishes retiring the old generation).
	AbortRebuild(ctx context.Context, name string) (AbortedRebuild, error)
}

// Errors of Operations that the API answers with their own status.
var (
	// ErrUnknownProjection: 404.
	ErrUnknownProjection = errors.New("no such projection")
	// ErrRebuildRunning: 409.
	ErrRebuildRunning = errors.New("a rebuild of this projection is under way")
	// ErrNoRebuild: 409 on abort.
	ErrNoRebuild = errors.New("no rebuild of this projection is under way")
	// ErrRebuildSwapped: 409 on abort; the new generation is live already.
	ErrRebuildSwapped = errors.New("the rebuild can no longer be aborted")
	// ErrNoLiveGeneration: 409 on a rebuild, a projection whose projector
	// has not made a generation live yet.
	ErrNoLiveGeneration = errors.New("the projection has no live generation")
	// ErrNotRebuildable: 409, a projection whose store has no generations
	// (the embedded search index).
	ErrNotRebuildable = errors.New("this projection's store cannot build a second generation")
	// ErrBadOffsets wraps the error of offsets that hold no dead letter:
	// 422.
	ErrBadOffsets = errors.New("no dead letter at these offsets")
)

// DeadLetterOffset locates a dead letter in its topic.
type DeadLetterOffset struct {
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
}

// String is the offset alone in partition 0 (a dead-letter topic has one
// partition), "partition/offset" otherwise, as the CLI writes them.
func (o DeadLetterOffset) String() string {
	if o.Partition == 0 {
		return strconv.FormatInt(o.Offset, 10)
	}
	return fmt.Sprintf("%d/%d", o.Partition, o.Offset)
}

// DeadLetter is one record of a projection's dead-letter topic.
type DeadLetter struct {
	DeadLetterOffset
	SourceTopic     string    `json:"sourceTopic"`
	SourcePartition int32     `json:"sourcePartition"`
	SourceOffset    int64     `json:"sourceOffset"`
	Reason          string    `json:"reason"`
	Error           string    `json:"error"`
	EventType       string    `json:"eventType"`
	AggregateID     string    `json:"aggregateId"`
	Time            time.Time `json:"time"`
	// Group is the consumer group that dead-lettered it: the projection's
	// generation (streamview.product-view.g2). The topic keeps the letters
	// of every generation; deadLettered in GET /v1/projections counts each
	// generation's own.
	Group string `json:"group"`
}

// RedriveResult is what a re-drive did: the letters published again, and
// those left out, with why.
type RedriveResult struct {
	Redriven []Redriven
	Skipped  []SkippedLetter
}

// SkippedLetter is a dead letter a re-drive left out: it names no source
// topic, or one that is gone; its record still fails to decode or
// validate; or it is the same record as another letter re-driven with it
// (the dead letters of several generations or projections).
type SkippedLetter struct {
	DeadLetterOffset
	Reason string `json:"reason"`
}

// Redriven says where a re-driven dead letter landed.
type Redriven struct {
	DeadLetterOffset
	Topic       string `json:"topic"`
	ToPartition int32  `json:"toPartition"`
	ToOffset    int64  `json:"toOffset"`
}

// RebuildStarted is what a rebuild started does.
type RebuildStarted struct {
	// Retiring: a rebuild that had swapped stopped while retiring the
	// old generation, From; the one started only finishes that, and
	// builds no new generation.
	Retiring bool
	From     int
}

// AbortedRebuild is what an abort removed.
type AbortedRebuild struct {
	Generation int  `json:"generation"`
	Group      bool `json:"groupDeleted"`
	Documents  bool `json:"documentsRemoved"`
}

// Bounds of GET /v1/projections/{name}/dead-letters?limit=.
const (
	DefaultDeadLetterLimit = 100
	MaxDeadLetterLimit     = 1000
)

// opsError answers an Operations error.
func (s *Server) opsError(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case errors.Is(err, ErrUnknownProjection):
		writeProblem(w, newProblem(http.StatusNotFound, problemNotFound, "No projection "+r.PathValue("name")+" runs here; GET /v1/projections lists them."))
	case errors.Is(err, ErrRebuildRunning), errors.Is(err, ErrNoRebuild), errors.Is(err, ErrNotRebuildable), errors.Is(err, ErrRebuildSwapped), errors.Is(err, ErrNoLiveGeneration):
		writeProblem(w, newProblem(http.StatusConflict, problemConflict, err.Error()))
	case errors.Is(err, ErrBadOffsets):
		unprocessable(w, []FieldError{{Field: "offsets", Message: err.Error()}})
	default:
		s.internalError(w, r, what, err, "projection", r.PathValue("name"))
	}
}

func (s *Server) operations(w http.ResponseWriter) (Operations, bool) {
	if s.deps.Operations == nil {
		unavailable(w, "This server does not run operations on projections.")
		return nil, false
	}
	return s.deps.Operations, true
}

// deadLetters answers GET /v1/projections/{name}/dead-letters?limit=.
func (s *Server) deadLetters(w http.ResponseWriter, r *http.Request) {
	ops, ok := s.operations(w)
	if !ok {
		return
	}
	q, ok := queryParams(w, r, []string{"limit"}, nil)
	if !ok {
		return
	}
	limit := DefaultDeadLetterLimit
	if q.Has("limit") {
		v := q.Get("limit")
		n, err := strconv.Atoi(v)
		if !allDigits(v) || err != nil || n < 1 || n > MaxDeadLetterLimit {
			badRequest(w, "limit", fmt.Sprintf("must be a whole number from 1 to %d", MaxDeadLetterLimit))
			return
		}
		limit = n
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
	defer cancel()
	letters, more, err := ops.DeadLetters(ctx, r.PathValue("name"), limit)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		err = &queryTimeout{timeout: s.cfg.QueryTimeout, err: err}
	}
	if err != nil {
		s.opsError(w, r, "list the dead letters", err)
		return
	}
	if letters == nil {
		letters = []DeadLetter{}
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, struct {
		Projection  string       `json:"projection"`
		DeadLetters []DeadLetter `json:"deadLetters"`
		More        bool         `json:"more"`
	}{r.PathValue("name"), letters, more})
}

// offsetJSON is a dead letter's offset in a redrive request: a number (in
// partition 0: the dead-letter topics have one) or "PARTITION/OFFSET".
type offsetJSON DeadLetterOffset

func (o *offsetJSON) UnmarshalJSON(b []byte) error {
	var n int64
	if err := json.Unmarshal(b, &n); err == nil {
		*o = offsetJSON{Offset: n}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		if _, nerr := strconv.ParseFloat(string(b), 64); nerr == nil || errors.Is(nerr, strconv.ErrRange) {
			// A number, but not an offset (it said "must be a number").
			return &valueError{field: "offsets", msg: "each must be a whole number from 0 to 9223372036854775807, or a string PARTITION/OFFSET; got " + string(b)}
		}
		return &valueError{field: "offsets", msg: "each must be a number, or a string PARTITION/OFFSET"}
	}
	ps, os, found := strings.Cut(s, "/")
	if !found {
		ps, os = "0", s
	}
	p, perr := strconv.ParseInt(ps, 10, 32)
	n, oerr := strconv.ParseInt(os, 10, 64)
	if perr != nil || oerr != nil {
		return &valueError{field: "offsets", msg: fmt.Sprintf("%q is not a number, nor PARTITION/OFFSET", s)}
	}
	*o = offsetJSON{Partition: int32(p), Offset: n}
	return nil
}

// redrive answers POST /v1/projections/{name}/dead-letters/redrive with
// {"offsets":[…]} or {"all":true}.
func (s *Server) redrive(w http.ResponseWriter, r *http.Request) {
	ops, ok := s.operations(w)
	if !ok {
		return
	}
	var body struct {
		Offsets []offsetJSON `json:"offsets"`
		All     bool         `json:"all"`
	}
	if _, ok := decodeBody(w, r, s.cfg.MaxBodyBytes, &body, false); !ok {
		return
	}
	switch {
	case body.All && len(body.Offsets) > 0:
		unprocessable(w, []FieldError{{Field: "all", Message: "give offsets or all, not both"}})
		return
	case !body.All && len(body.Offsets) == 0:
		unprocessable(w, []FieldError{{Field: "offsets", Message: "name the dead letters to re-drive, or give \"all\": true"}})
		return
	}
	var errs []FieldError
	offsets := make([]DeadLetterOffset, len(body.Offsets))
	for i, o := range body.Offsets {
		if o.Offset < 0 || o.Partition < 0 {
			errs = append(errs, FieldError{Field: fmt.Sprintf("offsets[%d]", i), Message: "must not be negative"})
		}
		offsets[i] = DeadLetterOffset(o)
	}
	if len(errs) > 0 {
		unprocessable(w, errs)
		return
	}
	res, err := ops.Redrive(r.Context(), r.PathValue("name"), offsets, body.All)
	if err != nil && len(res.Redriven) == 0 {
		s.opsError(w, r, "re-drive the dead letters", err)
		return
	}
	if err == nil && len(res.Redriven) == 0 && len(res.Skipped) > 0 && !body.All {
		// Every letter named is left out: nothing changed, and the
		// request can only succeed once what it names does.
		for _, sk := range res.Skipped {
			errs = append(errs, FieldError{Field: "offsets", Message: fmt.Sprintf("dead letter %s: not re-driven: %s", sk.DeadLetterOffset, sk.Reason)})
		}
		unprocessable(w, errs)
		return
	}
	if res.Redriven == nil {
		res.Redriven = []Redriven{}
	}
	if res.Skipped == nil {
		res.Skipped = []SkippedLetter{}
	}
	status, msg := http.StatusOK, ""
	if err != nil {
		// Some landed: say which, and what failed.
		status, msg = http.StatusMultiStatus, err.Error()
	}
	writeJSON(w, status, struct {
		Redriven []Redriven      `json:"redriven"`
		Skipped  []SkippedLetter `json:"skipped"`
		Error    string          `json:"error,omitempty"`
	}{res.Redriven, res.Skipped, msg})
}

// startRebuild answers POST /v1/projections/{name}/rebuild: 202, progress
// in GET /v1/projections.
func (s *Server) startRebuild(w http.ResponseWriter, r *http.Request) {
	ops, ok := s.operations(w)
	if !ok {
		return
	}
	name := r.PathValue("name")
	started, err := ops.StartRebuild(r.Context(), name)
	if err != nil {
		s.opsError(w, r, "start the rebuild", err)
		return
	}
	w.Header().Set("Location", "/v1/projections")
	if started.Retiring {
		writeJSON(w, http.StatusAccepted, map[string]string{"projection": name, "status": "retiring",
			"detail": fmt.Sprintf("an earlier rebuild swapped and stopped while retiring g%d: this finishes retiring it and builds no new generation; start a rebuild again after it for one", started.From)})
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"projection": name, "status": "building"})
}

// abortRebuild answers DELETE /v1/projections/{name}/rebuild.
func (s *Server) abortRebuild(w http.ResponseWriter, r *http.Request) {
	ops, ok := s.operations(w)
	if !ok {
		return
	}
	name := r.PathValue("name")
	res, err := ops.AbortRebuild(r.Context(), name)
	if err != nil {
		s.opsError(w, r, "abort the rebuild", err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Projection string `json:"projection"`
		Status     string `json:"status"`
		AbortedRebuild
	}{name, "aborted", res})
}
