package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
)

// commandStatus is the answer of the command endpoints and of
// GET /v1/commands/{commandId}.
type commandStatus struct {
	CommandID string `json:"commandId"`
	ProductID string `json:"productId"`
	Status    string `json:"status"` // statusPending, schemas.StatusAccepted or schemas.StatusRejected
	Version   int64  `json:"version,omitempty"`
	Code      string `json:"code,omitempty"`   // schemas.Reject*, when rejected
	Reason    string `json:"reason,omitempty"` // when rejected
}

const statusPending = commandbus.StatePending

// commandBody is the decoded body of a command request.
type commandBody interface {
	// command returns the command's payload; errs collects the invalid
	// values found on the way.
	command(s *Server, errs *fieldErrors) schemas.CommandData
}

// commandHandler serves one command endpoint whose body newBody decodes;
// an optional body may be empty.
func (s *Server) commandHandler(newBody func() commandBody, optional bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { s.command(w, r, newBody(), optional) }
}

// commandHeaders are the headers every command endpoint reads.
type commandHeaders struct {
	wait time.Duration // 0: answer at once
	// received is when the request came: a wait ends wait after it, the
	// write to Kafka included (RFC 7240 bounds the whole answer).
	received time.Time
	// ownWait: wait is the subscription POST's own (defaultSubscribeWait),
	// not asked for with Prefer: wait, so no Preference-Applied says it
	// was applied.
	ownWait         bool
	expectedVersion *int64
	key             string
	// fingerprint binds key to the request (commandbus.Request); "" without
	// a key.
	fingerprint    string
	correlationID  string
	userID         string
	subscriptionID string // of a subscription being created
	// referenceID and referencePath name the category or brand of a
	// reference command (its ID and /v1/categories/{id}).
	referenceID, referencePath string
}

func (s *Server) readCommandHeaders(h http.Header) (ch commandHeaders, err error) {
	if ch.wait, err = preferWait(h, s.cfg.MaxWait); err != nil {
		return ch, err
	}
	if ch.expectedVersion, err = ifMatchVersion(h); err != nil {
		return ch, err
	}
	if ch.key, err = idempotencyKey(h); err != nil {
		return ch, err
	}
	if ch.correlationID, err = metadataHeader(h, headerCorrelationID); err != nil {
		return ch, err
	}
	if ch.userID, err = metadataHeader(h, headerUserID); err != nil {
		return ch, err
	}
	if ch.userID == "" {
		ch.userID = anonymousUser
	}
	return ch, nil
}

// command runs the steps every command endpoint shares: path ID and
// headers (400), body (400, 413, 415), stateless rules (422), then publish
// and answer 202, or wait for the outcome with Prefer: wait.
func (s *Server) command(w http.ResponseWriter, r *http.Request, body commandBody, optional bool) {
	received := time.Now()
	bus := s.deps.Commands
	if bus == nil {
		unavailable(w, "This server does not take commands.")
		return
	}
	// The request's path in canonical form, for the command ID.
	_, path, _ := strings.Cut(r.Pattern, " ")
	var productID string
	if strings.Contains(path, "{id}") { // every command but a create names its product in the path
		id := r.PathValue("id")
		if !schemas.IsUUID(id) {
			badRequest(w, "id", "must be a UUID")
			return
		}
		productID = canonicalID(id)
		path = strings.Replace(path, "{id}", productID, 1)
	}
	subID := r.PathValue("subscriptionId")
	if strings.Contains(path, "{subscriptionId}") { // DELETE /v1/subscriptions/{subscriptionId}: its product is inside
		pid, ok := schemas.SubscriptionProduct(subID)
		if !ok {
			badRequest(w, "subscriptionId", "is not a subscription ID")
			return
		}
		productID = pid
		path = strings.Replace(path, "{subscriptionId}", subID, 1)
	}
	var refID, refPath string
	for _, rp := range referencePaths { // PUT /v1/categories/{categoryId}, /v1/brands/{brandId}
		if !strings.Contains(path, "{"+rp.param+"}") {
			continue
		}
		refID = r.PathValue(rp.param)
		if !schemas.AddressableReferenceID(refID) {
			badRequest(w, rp.param, "must be 1..64 characters of [A-Za-z0-9._-], and not . or .. (which a URL path cannot hold)")
			return
		}
		productID = schemas.ReferenceKey(rp.aggregate, refID) // the aggregate's key
		path = strings.Replace(path, "{"+rp.param+"}", refID, 1)
		refPath = rp.collection + refID
	}
	h, err := s.readCommandHeaders(r.Header)
	if err != nil {
		asHeaderError(w, err)
		return
	}
	h.received = received
	h.referenceID, h.referencePath = refID, refPath
	raw, ok := decodeBody(w, r, s.cfg.MaxBodyBytes, body, optional)
	if !ok {
		return // answered
	}
	var errs fieldErrors
	if sub, ok := subjectOf(r); ok {
		s.asSubject(sub, &h, body, &errs)
	}
	data := body.command(s, &errs)
	create, _ := body.(*createRequest)

	cmd := schemas.Command{
		// The same on every retry with the key; random without one.
		ID:              commandbus.CommandID(h.key, r.Method, path),
		ProductID:       productID,
		IssuedAt:        time.Now().UTC().Truncate(time.Millisecond),
		ExpectedVersion: h.expectedVersion,
		IdempotencyKey:  h.key,
		Data:            data,
	}
	if create != nil {
		if create.ProductID.given() {
			cmd.ProductID = canonicalID(create.ProductID.Value)
		} else {
			cmd.ProductID = commandbus.ProductID(h.key) // a retry creates the same product
		}
	}
	switch d := data.(type) {
	case *schemas.CreateSubscription:
		d.SubscriptionID = schemas.SubscriptionID(cmd.ProductID, cmd.ID)
		h.subscriptionID = d.SubscriptionID
		if h.wait == 0 {
			h.wait = min(defaultSubscribeWait, s.cfg.MaxWait) // to answer 201 as API.md shows
			h.ownWait = true
		}
	case *schemas.DeleteSubscription:
		d.SubscriptionID = subID
	}
	cmd.Metadata = schemas.Metadata{CorrelationID: h.correlationID, CausationID: cmd.ID, UserID: h.userID}
	if cmd.Metadata.CorrelationID == "" {
		cmd.Metadata.CorrelationID = cmd.ID
	}

	var fingerprint string
	if h.key != "" {
		// A key's binding and first outcome may be in what the bus reads
		// at its start; a command without one waits for nothing.
		if !s.commandsRead(r.Context()) {
			s.metrics.command(cmd.Type(), "unavailable")
			commandsUnread(w)
			return
		}
		// The key is bound to this request; see commandbus.Request.
		fingerprint = commandbus.Request{Caller: callerOf(r), Method: r.Method, Path: path, Body: raw}.Fingerprint()
		h.fingerprint = fingerprint
		if b, bound := bus.Bound(commandbus.KeyID(h.key)); bound {
			switch {
			case !b.Matches(fingerprint) || b.CommandID != cmd.ID:
				s.metrics.command(cmd.Type(), "key_reused")
				keyReused(w)
				return
			case b.Writing:
				s.metrics.command(cmd.Type(), "in_flight")
				keyInFlight(w)
				return
			}
		}
		// A retry: answer the first outcome, and publish nothing while the
		// first attempt is pending (publishing again would be safe, as the
		// decider carries out a command ID once, but it is not needed).
		if st, known := bus.Status(cmd.ID); known {
			if st.State != commandbus.StatePending && decidedForAnother(st.Result, fingerprint) {
				s.metrics.command(cmd.Type(), "key_reused")
				keyReused(w)
				return
			}
			s.metrics.command(cmd.Type(), "replayed")
			if st.State != commandbus.StatePending {
				if h.wait > 0 && !h.ownWait {
					// The outcome it would have waited for, as the first
					// answer says when it waited for it (awaitOutcome).
					w.Header().Set("Preference-Applied", preferenceApplied(h.wait))
				}
				s.writeOutcomeOf(w, st.Result, create != nil, h)
				return
			}
			cmd.ProductID = st.ProductID
			s.awaitOutcome(w, r, cmd, create != nil, h)
			return
		}
	}

	// A new command is checked; a retry above is answered with its first
	// outcome, whatever the rules are now.
	check := func() []FieldError { return fromProduct(product.Check(cmd, s.rules)) }
	if _, ok := data.(*schemas.CreateSubscription); ok {
		check = func() []FieldError { return s.checkSubscription(cmd) }
	} else if _, ok := data.(*schemas.DeleteSubscription); ok {
		check = func() []FieldError { return nil }
	} else if schemas.ReferenceAggregate(data) != "" {
		check = func() []FieldError { return checkReference(cmd) }
	}
	if bad := merge(errs, check()); len(bad) > 0 {
		s.metrics.command(cmd.Type(), "invalid")
		unprocessable(w, bad)
		return
	}
	if _, err := bus.SendBound(r.Context(), cmd, fingerprint); err != nil {
		switch {
		case errors.Is(err, commandbus.ErrKeyReused): // raced a request with the same key
			s.metrics.command(cmd.Type(), "key_reused")
			keyReused(w)
		case errors.Is(err, commandbus.ErrInFlight):
			s.metrics.command(cmd.Type(), "in_flight")
			keyInFlight(w)
		case errors.Is(err, commandbus.ErrTimeout) && r.Context().Err() == nil:
			s.metrics.command(cmd.Type(), "failed")
			s.log.Warn("api: publish the command", "method", r.Method, "path", r.URL.Path, logkey.AggregateID, cmd.ProductID, logkey.CommandID, cmd.ID, "err", err)
			// A write already on the wire when the time ran out may still
			// land (the client gives up on it; Kafka may not): say so, and
			// where to see it.
			retry := "Try again with the same Idempotency-Key: a command with a key is carried out once."
			if h.key == "" {
				retry = "Sent again without an Idempotency-Key, it may be carried out twice: look there first, and send a key with the next."
			}
			unavailable(w, "Kafka did not confirm the command within the delivery timeout: most likely it was not written, but a write already on its way may still land; GET /v1/commands/"+cmd.ID+" shows it if it does. "+retry)
		default:
			s.metrics.command(cmd.Type(), "failed")
			s.internalError(w, r, "publish the command", err, logkey.AggregateID, cmd.ProductID, logkey.CommandID, cmd.ID)
		}
		return
	}
	s.metrics.command(cmd.Type(), "sent")
	s.awaitOutcome(w, r, cmd, create != nil, h)
}

// callerKey is the request context key of the authenticated caller.
type callerKey struct{}

// callerOf returns who sent r, for the binding of an Idempotency-Key: the
// token's subject when auth is on (guard puts it under callerKey), "" for
// everyone when it is off. The X-User-ID header is not the caller: it is
// metadata the client asserts.
func callerOf(r *http.Request) string {
	c, _ := r.Context().Value(callerKey{}).(string)
	return c
}

// asSubject makes the token's subject the command's user (API.md: with
// auth on, a review's userId is the token's sub): a review without a
// userId gets sub, one with another userId is a 422, and so is an
// X-User-ID header naming someone else; the metadata's userId is sub.
func (s *Server) asSubject(sub string, h *commandHeaders, body commandBody, errs *fieldErrors) {
	if h.userID != anonymousUser && h.userID != sub {
		errs.add(headerUserID, fmt.Sprintf("must be the token's subject %q, or left out", sub))
	}
	h.userID = sub
	if rv, ok := body.(*reviewRequest); ok {
		switch {
		case !rv.UserID.given():
			rv.UserID = opt[string]{Set: true, Value: sub}
		case rv.UserID.Value != sub:
			errs.add("userId", fmt.Sprintf("must be the token's subject %q, or left out", sub))
		}
	}
}

// decidedForAnother reports whether res, the outcome of a keyed request's
// command, was decided for another request with the same key, method and
// path (and so the same command ID): the decider answers every request of
// a command ID with its first outcome, and names the request it was for.
func decidedForAnother(res schemas.CommandResult, fingerprint string) bool {
	return fingerprint != "" && res.Fingerprint != "" && res.Fingerprint != fingerprint
}

// keyReused is the 422 of an Idempotency-Key used again for another
// request: nothing is published, or (sent by an instance that no longer
// knew the key) nothing is done.
func keyReused(w http.ResponseWriter) {
	writeProblem(w, newProblem(http.StatusUnprocessableEntity, problemKeyReused,
		"The Idempotency-Key was used for another request (method, path, body or caller); use a new key for a new request.",
		FieldError{Field: headerIdempotencyKey, Message: "is bound to another request"}))
}

// keyInFlight is the 409 of a retry that arrives while the first request
// with its key is still being written to Kafka.
func keyInFlight(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	writeProblem(w, newProblem(http.StatusConflict, problemInFlight,
		"A request with this Idempotency-Key is still being written; retry in a moment for its outcome."))
}

// awaitOutcome answers a published command: 202, or with Prefer: wait its
// outcome if the decider reaches one in time.
func (s *Server) awaitOutcome(w http.ResponseWriter, r *http.Request, cmd schemas.Command, create bool, h commandHeaders) {
	if h.wait > 0 {
		// What is left of the wait once the command is written (at most
		// the delivery timeout): an outcome known already is still
		// answered when nothing is left.
		left := h.wait
		if !h.received.IsZero() {
			left = max(h.wait-time.Since(h.received), 0)
		}
		ctx, cancel := waitContext(r, left)
		res, err := s.deps.Commands.Wait(ctx, cmd.ID)
		cancel()
		if r.Context().Err() != nil {
			return // the client has gone
		}
		if err == nil && decidedForAnother(res, h.fingerprint) {
			// Sent by an instance that no longer knew the key's binding,
			// or beside another instance's request with the key.
			s.metrics.command(cmd.Type(), "key_reused")
			keyReused(w)
			return
		}
		if !h.ownWait {
			w.Header().Set("Preference-Applied", preferenceApplied(h.wait))
		}
		if err == nil {
			s.writeOutcomeOf(w, res, create, h)
			return
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			// Published all the same: the client can follow it at the Location.
			s.log.Warn("api: waiting for a command's result", logkey.CommandID, cmd.ID, logkey.AggregateID, cmd.ProductID, "err", err)
		}
	}
	w.Header().Set("Location", "/v1/commands/"+cmd.ID)
	pending := commandStatus{CommandID: cmd.ID, ProductID: cmd.ProductID, Status: statusPending}
	if h.referenceID != "" {
		writeJSON(w, http.StatusAccepted, referenceAnswer{CommandID: cmd.ID, ID: h.referenceID, Status: statusPending})
		return
	}
	if h.subscriptionID != "" {
		writeJSON(w, http.StatusAccepted, subscriptionAnswer{SubscriptionID: h.subscriptionID, commandStatus: pending})
		return
	}
	writeJSON(w, http.StatusAccepted, pending)
}

// defaultSubscribeWait is how long a subscription's POST waits for the
// decider without Prefer: wait, so that it can answer 201 with the ID.
const defaultSubscribeWait = 10 * time.Second

// writeOutcomeOf is writeOutcome, with a subscription's ID and a 201 for
// an accepted subscription.
func (s *Server) writeOutcomeOf(w http.ResponseWriter, res schemas.CommandResult, create bool, h commandHeaders) {
	if h.referenceID != "" && res.Status == schemas.StatusAccepted {
		s.writeReferenceOutcome(w, res, h)
		return
	}
	if h.referenceID != "" {
		// Its productId is the key "category:<id>": named by its ID.
		res.ProductID = ""
		w.Header().Set("Content-Location", "/v1/commands/"+res.CommandID)
		p := rejection(res)
		p.ID = h.referenceID
		writeProblem(w, p)
		return
	}
	if h.subscriptionID == "" || res.Status != schemas.StatusAccepted {
		s.writeOutcome(w, res, create)
		return
	}
	w.Header().Set("Content-Location", "/v1/commands/"+res.CommandID)
	w.Header().Set("Location", "/v1/subscriptions/"+h.subscriptionID)
	writeJSON(w, http.StatusCreated, subscriptionAnswer{SubscriptionID: h.subscriptionID,
		commandStatus: commandStatus{CommandID: res.CommandID, ProductID: res.ProductID, Status: schemas.StatusAccepted, Version: res.Version}})
}

// writeOutcome answers with a decided command: 201 or 200 when accepted,
// the rejection's 404, 409 or 422 otherwise.
func (s *Server) writeOutcome(w http.ResponseWriter, res schemas.CommandResult, create bool) {
	w.Header().Set("Content-Location", "/v1/commands/"+res.CommandID)
	if res.Status == schemas.StatusAccepted {
		status := http.StatusOK
		if create {
			status = http.StatusCreated
			w.Header().Set("Location", "/v1/products/"+res.ProductID)
		}
		writeJSON(w, status, commandStatus{CommandID: res.CommandID, ProductID: res.ProductID, Status: schemas.StatusAccepted, Version: res.Version})
		return
	}
	writeProblem(w, rejection(res))
}

// rejection is the problem of a rejected command.
func rejection(res schemas.CommandResult) *problem {
	status, typ := rejectionStatus(res.Code)
	p := newProblem(status, typ, res.Reason)
	if p.Detail == "" {
		p.Detail = "The command was rejected (" + res.Code + ")."
	}
	p.CommandID, p.ProductID, p.Version = res.CommandID, res.ProductID, res.Version
	return p
}

// rejectionStatus maps a rejection code to its HTTP status and problem type.
func rejectionStatus(code string) (int, string) {
	switch code {
	case schemas.RejectNotFound:
		return http.StatusNotFound, problemNotFound
	case schemas.RejectConflict:
		return http.StatusConflict, problemConflict
	case schemas.RejectInvalid:
		return http.StatusUnprocessableEntity, problemInvalid
	}
	// A code this server does not know yet: the product's state refused it.
	return http.StatusConflict, problemRejected
}

func fromProduct(errs []product.FieldError) []FieldError {
	out := make([]FieldError, len(errs))
	for i, e := range errs {
		out[i] = FieldError{Field: e.Field, Message: e.Message}
	}
	return out
}

// getCommand answers GET /v1/commands/{commandId}: the decided outcome,
// "pending" for a command this server published, or 404. With Prefer: wait
// it waits for a pending command's outcome.
func (s *Server) getCommand(w http.ResponseWriter, r *http.Request) {
	bus := s.deps.Commands
	if bus == nil {
		unavailable(w, "This server does not take commands.")
		return
	}
	id := r.PathValue("commandId")
	if !schemas.IsUUID(id) {
		badRequest(w, "commandId", "must be a UUID")
		return
	}
	id = canonicalID(id)
	wait, err := preferWait(r.Header, s.cfg.MaxWait)
	if err != nil {
		asHeaderError(w, err)
		return
	}
	if !s.commandsRead(r.Context()) {
		commandsUnread(w)
		return
	}
	st, known := bus.Status(id)
	if !known {
		writeProblem(w, newProblem(http.StatusNotFound, problemNotFound, "No command "+id+" is known."))
		return
	}
	res := st.Result
	if st.State == commandbus.StatePending {
		decided := false
		if wait > 0 {
			ctx, cancel := waitContext(r, wait)
			res, err = bus.Wait(ctx, id)
			cancel()
			if r.Context().Err() != nil {
				return // the client has gone
			}
			w.Header().Set("Preference-Applied", preferenceApplied(wait))
			decided = err == nil
		}
		if !decided {
			res = schemas.CommandResult{CommandID: id, ProductID: st.ProductID, Status: statusPending}
		}
	}
	answer := commandStatus{CommandID: res.CommandID, ProductID: res.ProductID, Status: res.Status, Version: res.Version}
	if res.Status == schemas.StatusRejected {
		answer.Code, answer.Reason = res.Code, res.Reason
	}
	if _, refID, ok := schemas.ParseReferenceKey(answer.ProductID); ok {
		// A category's or brand's command: named by its ID, as its own
		// answers name it, not by its internal key "category:<id>".
		writeJSON(w, http.StatusOK, referenceAnswer{CommandID: answer.CommandID, ID: refID, Status: answer.Status,
			Version: answer.Version, Code: answer.Code, Reason: answer.Reason})
		return
	}
	writeJSON(w, http.StatusOK, answer)
}

// readier is a CommandBus that tells when it has read what the results
// and commands topics held at its start (*commandbus.Results.Ready):
// before, it knows neither the keys nor the outcomes of earlier commands.
type readier interface{ Ready() <-chan struct{} }

// commandsRead waits, up to Config.QueryTimeout, until the command bus has
// read the commands and outcomes written before this server started. A
// command answered before would act on a key bound to another request, and
// GET /v1/commands/{id} say 404 or pending for a command decided long ago
// (helper 91: a reuse of a key sent as the server came up was carried
// out).
func (s *Server) commandsRead(ctx context.Context) bool {
	rd, ok := s.deps.Commands.(readier)
	if !ok {
		return true
	}
	select {
	case <-rd.Ready():
		return true
	default:
	}
	t := time.NewTimer(s.cfg.QueryTimeout)
	defer t.Stop()
	select {
	case <-rd.Ready():
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// commandsUnread answers a command request that came before the bus had
// read the earlier commands (commandsRead).
func commandsUnread(w http.ResponseWriter) {
	unavailable(w, "This server is still reading the commands and outcomes written before it started; nothing was published. Retry in a moment.")
}
