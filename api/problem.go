package api

import (
	"encoding/json"
	"net/http"
)

// Problem types of this API (RFC 9457). They are tag URIs: names, not pages
// to fetch. A problem whose status code says it all has type about:blank.
const (
	problemMalformed = "tag:streamview,2025:problem/malformed-request"         // 400
	problemInvalid   = "tag:streamview,2025:problem/invalid-fields"            // 422
	problemNotFound  = "tag:streamview,2025:problem/not-found"                 // 404 of a product or command
	problemConflict  = "tag:streamview,2025:problem/conflict"                  // 409
	problemRejected  = "tag:streamview,2025:problem/command-rejected"          // a rejection without a known code
	problemKeyReused = "tag:streamview,2025:problem/idempotency-key-reused"    // 422: the key is bound to another request
	problemInFlight  = "tag:streamview,2025:problem/idempotency-key-in-flight" // 409: the key's first request is being written
	problemBlank     = "about:blank"
)

// FieldError names one bad field, parameter or header of a request.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// problem is an RFC 9457 problem details object. Errors is never null, so
// that clients can always range over it.
type problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail"`
	Errors []FieldError `json:"errors"`

	// Extension members of a command's rejection.
	CommandID string `json:"commandId,omitempty"`
	ProductID string `json:"productId,omitempty"`
	// ID is a category's or brand's ID, in the rejection of a reference
	// command (in place of productId, which holds its internal key).
	ID      string `json:"id,omitempty"`
	Version int64  `json:"version,omitempty"`
	// Checks names each readiness check and its state (GET /readyz).
	Checks map[string]string `json:"checks,omitempty"`
}

func newProblem(status int, typ, detail string, errs ...FieldError) *problem {
	if errs == nil {
		errs = []FieldError{}
	}
	return &problem{Type: typ, Title: http.StatusText(status), Status: status, Detail: detail, Errors: errs}
}

// writeProblem answers with p as application/problem+json.
func writeProblem(w http.ResponseWriter, p *problem) {
	writeJSONAs(w, "application/problem+json", p.Status, p)
}

// badRequest is a 400 naming one field, parameter or header.
func badRequest(w http.ResponseWriter, field, msg string) {
	writeProblem(w, newProblem(http.StatusBadRequest, problemMalformed,
		"The request is malformed: "+fieldMessage(field, msg)+".", FieldError{Field: field, Message: msg}))
}

// badParams is a 400 naming every bad query parameter.
func badParams(w http.ResponseWriter, errs []FieldError) {
	detail := "The query has bad parameters."
	if len(errs) == 1 {
		detail = "The query has a bad parameter: " + fieldMessage(errs[0].Field, errs[0].Message) + "."
	}
	writeProblem(w, newProblem(http.StatusBadRequest, problemMalformed, detail, errs...))
}

// unprocessable is a 422 naming every invalid field.
func unprocessable(w http.ResponseWriter, errs []FieldError) {
	detail := "The request has invalid fields."
	if len(errs) == 1 {
		detail = "The request has an invalid field: " + fieldMessage(errs[0].Field, errs[0].Message) + "."
	}
	writeProblem(w, newProblem(http.StatusUnprocessableEntity, problemInvalid, detail, errs...))
}

func fieldMessage(field, msg string) string {
	if field == "" {
		return msg
	}
	return field + " " + msg
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONAs(w, "application/json", status, v)
}

func writeJSONAs(w http.ResponseWriter, contentType string, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the values of this package are written, and they marshal.
		http.Error(w, "internal error: encoding the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
