package api

import (
	"context"
	"net/http"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/producers/reference"
	"github.com/streamview/streamview/schemas"
)

// Reference data (API.md, "Reference data"): PUT /v1/categories/{categoryId}
// and PUT /v1/brands/{brandId} are commands like any other, through
// Server.command (If-Match, Idempotency-Key, Prefer: wait), keyed by the
// category's or brand's reference key ("category:<id>", the command's
// ProductID). Accepted, they answer 201 when the outcome is version 1 (the
// category was created, by this request or an identical earlier one) and
// 200 otherwise, with {"commandId","id","status","version"};
// GET /v1/commands/{commandId} of such a command answers the same shape
// (with "code" and "reason" when rejected): the key stays inside. GET of
// the same paths reads the view store's reference records.

// ReferenceReader reads categories and brands and joins their names into
// views that do not come from the view store, as *productview.Reader does.
// A Deps.Views that implements it serves GET /v1/categories/{id} and
// GET /v1/brands/{id} and joins the current names into ?asOfVersion= views;
// without it those GETs answer 503 and past views show the names their
// events carried.
type ReferenceReader interface {
	Reference(ctx context.Context, aggregateType, id string) (productview.Reference, bool, error)
	Join(ctx context.Context, v productview.View) (productview.View, error)
}

type (
	categoryRequest struct {
		Name opt[string] `json:"name"`
	}
	brandRequest struct {
		Name opt[string] `json:"name"`
	}
)

func (r *categoryRequest) command(_ *Server, errs *fieldErrors) schemas.CommandData {
	required(errs, "name", r.Name)
	return &schemas.RenameCategory{Name: r.Name.Value}
}

func (r *brandRequest) command(_ *Server, errs *fieldErrors) schemas.CommandData {
	required(errs, "name", r.Name)
	return &schemas.RenameBrand{Name: r.Name.Value}
}

// referencePaths are the path parameters that name a category or brand,
// with their aggregate types and collection paths.
var referencePaths = []struct{ param, aggregate, collection string }{
	{"categoryId", schemas.AggregateCategory, "/v1/categories/"},
	{"brandId", schemas.AggregateBrand, "/v1/brands/"},
}

// referenceAnswer is the body of an accepted or pending category or brand
// command, and of GET /v1/commands/{commandId} of one (which may show it
// rejected, as commandStatus does a product's).
type referenceAnswer struct {
	CommandID string `json:"commandId"`
	ID        string `json:"id"`
	Status    string `json:"status"`
	Version   int64  `json:"version,omitempty"`
	Code      string `json:"code,omitempty"`   // schemas.Reject*, when rejected
	Reason    string `json:"reason,omitempty"` // when rejected
}

// checkReference applies the stateless rules of a category or brand
// command (a bad path ID was a 400 already).
func checkReference(cmd schemas.Command) []FieldError {
	var out []FieldError
	for _, e := range reference.Check(cmd) {
		if e.Field != "id" {
			out = append(out, FieldError{Field: e.Field, Message: e.Message})
		}
	}
	return out
}

// writeReferenceOutcome answers an accepted category or brand command.
func (s *Server) writeReferenceOutcome(w http.ResponseWriter, res schemas.CommandResult, h commandHeaders) {
	w.Header().Set("Content-Location", "/v1/commands/"+res.CommandID)
	status := http.StatusOK
	if res.Version == 1 {
		status = http.StatusCreated
		w.Header().Set("Location", h.referencePath)
	}
	w.Header().Set("ETag", etag(res.Version))
	writeJSON(w, status, referenceAnswer{CommandID: res.CommandID, ID: h.referenceID, Status: schemas.StatusAccepted, Version: res.Version})
}

// getReference answers GET /v1/categories/{categoryId} and
// GET /v1/brands/{brandId}: {"id","name","version"}, ETag the version.
func (s *Server) getReference(aggregate, param string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue(param)
		if !schemas.AddressableReferenceID(id) {
			badRequest(w, param, "must be 1..64 characters of [A-Za-z0-9._-], and not . or .. (which a URL path cannot hold)")
			return
		}
		if _, ok := queryParams(w, r, nil, nil); !ok {
			return
		}
		refs, ok := s.deps.Views.(ReferenceReader)
		if !ok {
			unavailable(w, "This server does not serve categories and brands.")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.QueryTimeout)
		ref, found, err := refs.Reference(ctx, aggregate, id)
		cancel()
		if err != nil {
			s.internalError(w, r, "read the "+lower(aggregate), err, logkey.AggregateID, schemas.ReferenceKey(aggregate, id))
			return
		}
		if !found {
			writeProblem(w, newProblem(http.StatusNotFound, problemNotFound, "No "+lower(aggregate)+" "+id+" is known."))
			return
		}
		tag := etag(ref.Version)
		w.Header().Set("ETag", tag)
		w.Header().Set("Cache-Control", "no-cache")
		if noneMatch(r.Header, tag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		writeJSON(w, http.StatusOK, ref)
	}
}

// joinReferences gives a view that did not come from the view store (a
// past version) the current names of its category and brand, when the
// view reader can.
func (s *Server) joinReferences(ctx context.Context, v productview.View) (productview.View, error) {
	refs, ok := s.deps.Views.(ReferenceReader)
	if !ok {
		return v, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.QueryTimeout)
	defer cancel()
	return refs.Join(ctx, v)
}

func lower(aggregate string) string {
	if aggregate == schemas.AggregateCategory {
		return "category"
	}
	return "brand"
}
