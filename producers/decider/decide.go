package decider

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/logkey"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/producers/reference"
	"github.com/streamview/streamview/producers/subscription"
	"github.com/streamview/streamview/schemas"
)

// decide turns one command record into the records to produce: the
// command's events, if any, and its result. An error means the command
// could not be decoded now but may be later; the batch must be retried.
func (d *Decider) decide(r *kgo.Record, o *overlay, now time.Time, t *tally) ([]*kgo.Record, error) {
	key := string(r.Key)
	cmd, err := d.codec.DecodeCommand(r.Value)
	if err != nil {
		if !permanent(err) {
			return nil, err
		}
		t.undecodable++
		id := producers.Header(r, commandbus.HeaderCommandID)
		d.log.Warn("undecodable command", logkey.Topic, r.Topic, logkey.Partition, r.Partition, logkey.Offset, r.Offset,
			logkey.AggregateID, key, logkey.CommandID, id, "err", err)
		if id == "" {
			return nil, nil // nobody to answer
		}
		t.rejected++
		res := schemas.CommandResult{CommandID: id, ProductID: key, Status: schemas.StatusRejected, Code: schemas.RejectInvalid,
			Reason: "undecodable command: " + err.Error(), DecidedAt: now}
		return d.resultRecord(r, res, "", t), nil
	}
	if cmd.ID == "" {
		cmd.ID = producers.Header(r, commandbus.HeaderCommandID)
	}
	if cmd.ID == "" {
		t.undecodable++
		d.log.Warn("command without an ID; skipped", logkey.Topic, r.Topic, logkey.Partition, r.Partition, logkey.Offset, r.Offset,
			logkey.AggregateID, key, "command_type", cmd.Type())
		return nil, nil
	}
	log := d.log.With(logkey.Topic, r.Topic, logkey.Partition, r.Partition, logkey.Offset, r.Offset, logkey.AggregateID, cmd.ProductID,
		"command_type", cmd.Type(), logkey.CommandID, cmd.ID)

	fp := parseFingerprint(producers.Header(r, commandbus.HeaderFingerprint))
	if prev, ok := o.outcome(cmd.ID); ok {
		// A retried request: answer as the first time, change nothing. The
		// answer carries the first request's fingerprint: when this one's
		// differs, its Idempotency-Key was used for another request, which
		// the API answers 422 (an API that forgot the key's binding sends
		// such a command).
		t.duplicates++
		res := prev.result(cmd.ID, cmd.ProductID)
		if prev.fp != (fingerprint{}) && fp != (fingerprint{}) && prev.fp != fp {
			log.Info("command ID decided before for another request (Idempotency-Key reused); answering with the first outcome",
				"status", res.Status, "version", res.Version)
		} else {
			log.Debug("command decided before; answering again", "status", res.Status, "version", res.Version)
		}
		res.IdempotencyKey = cmd.IdempotencyKey
		return d.resultRecord(r, res, cmd.Metadata.CorrelationID, t), nil
	}

	reject := func(code, reason string, version int64) []*kgo.Record {
		t.rejected++
		log.Debug("command rejected", "code", code, "reason", reason)
		out := outcome{version: version, at: now.UnixMilli(), rejected: &rejection{code: code, reason: reason}, fp: fp}
		o.decide(cmd.ID, out)
		res := out.result(cmd.ID, cmd.ProductID)
		res.IdempotencyKey = cmd.IdempotencyKey
		return d.resultRecord(r, res, cmd.Metadata.CorrelationID, t)
	}

	if cmd.ProductID != "" && cmd.ProductID != key {
		// Its product's events and commands may live on another
		// partition; this owner cannot know the product's state.
		return reject(schemas.RejectInvalid, fmt.Sprintf("command record key %q is not its productId %q", key, cmd.ProductID), 0), nil
	}
	if typ := schemas.ReferenceAggregate(cmd.Data); typ != "" {
		return d.decideReference(r, o, cmd, typ, now, t, log, reject)
	}
	s, broken := o.product(cmd.ProductID)
	if broken != "" {
		return reject(schemas.RejectConflict, "the product's state cannot be read now, retry later: "+broken, s.Version), nil
	}
	if subID := subscription.AggregateID(cmd); subID != "" {
		sub := o.subscription(subID)
		payloads, rej := subscription.Decide(subscription.Product{Exists: s.Exists, Discontinued: s.Discontinued, Version: s.Version}, sub, cmd)
		if rej != nil {
			return reject(rej.Code, rej.Reason, sub.Version), nil
		}
		return d.accept(r, o, cmd, schemas.AggregateSubscription, subID, sub.Version, payloads, now, t, log, reject, func(e schemas.Event) {
			sub = subscription.Evolve(sub, e)
			o.subs[subID] = sub
		})
	}
	payloads, rej := product.Decide(s, cmd, d.cfg.Rules)
	if rej != nil {
		return reject(rej.Code, rej.Reason, s.Version), nil
	}

	return d.accept(r, o, cmd, schemas.AggregateProduct, cmd.ProductID, s.Version, payloads, now, t, log, reject, func(e schemas.Event) {
		s = product.Evolve(s, e)
		o.products[cmd.ProductID] = s
	})
}

// decideReference decides a RenameCategory or RenameBrand command of
// aggregate type typ, keyed by its reference key.
func (d *Decider) decideReference(r *kgo.Record, o *overlay, cmd schemas.Command, typ string, now time.Time, t *tally, log *slog.Logger,
	reject func(code, reason string, version int64) []*kgo.Record) ([]*kgo.Record, error) {
	key := cmd.ProductID
	_, id, ok := schemas.ParseReferenceKey(key)
	if !ok {
		return reject(schemas.RejectInvalid, fmt.Sprintf("command key %q is not the key of a %s", key, strings.ToLower(typ)), 0), nil
	}
	s, broken := o.reference(key)
	if broken != "" {
		return reject(schemas.RejectConflict, "the "+strings.ToLower(typ)+"'s state cannot be read now, retry later: "+broken, s.Version), nil
	}
	payloads, rej := reference.Decide(s, cmd)
	if rej != nil {
		return reject(rej.Code, rej.Reason, s.Version), nil
	}
	return d.accept(r, o, cmd, typ, id, s.Version, payloads, now, t, log, reject, func(e schemas.Event) {
		s = reference.Evolve(s, e)
		o.refs[key] = s
	})
}

// accept turns the payloads of an accepted command on aggregate
// (aggType, aggID) at version into event records and the command's result,
// then evolves the state by each event. Every event is encoded before the
// first is evolved: a command rejected because one does not encode leaves
// the state as it was (helper 90).
func (d *Decider) accept(r *kgo.Record, o *overlay, cmd schemas.Command, aggType, aggID string, version int64, payloads []schemas.EventData,
	now time.Time, t *tally, log *slog.Logger, reject func(code, reason string, version int64) []*kgo.Record, evolve func(schemas.Event)) ([]*kgo.Record, error) {
	correlation := cmd.Metadata.CorrelationID
	if correlation == "" {
		correlation = cmd.ID
	}
	events := make([]schemas.Event, len(payloads))
	records := make([]*kgo.Record, 0, len(payloads)+1)
	for i, p := range payloads {
		e := schemas.Event{
			ID:            EventID(cmd.ID, i),
			AggregateType: aggType,
			AggregateID:   aggID,
			Version:       version + 1 + int64(i),
			Timestamp:     now,
			Metadata:      schemas.Metadata{CorrelationID: correlation, CausationID: cmd.ID, UserID: cmd.Metadata.UserID},
			Data:          p,
		}
		v, err := d.codec.EncodeEvent(e)
		if err != nil {
			log.Error("event does not encode; rejecting the command", logkey.EventType, e.Type(), "err", err)
			return reject(schemas.RejectInvalid, fmt.Sprintf("its %s event cannot be encoded: %v", e.Type(), err), version), nil
		}
		events[i] = e
		records = append(records, &kgo.Record{
			Topic:     d.cfg.EventsTopic,
			Partition: r.Partition,           // co-partitioned: the product's events live where its commands do
			Key:       []byte(cmd.ProductID), // a subscription's too: they follow its product; a category's is its reference key
			Value:     v,
			Headers:   producers.EventHeaders(e),
			Timestamp: now,
		})
	}
	for _, e := range events {
		version = e.Version
		evolve(e)
		log.Debug("event", logkey.EventType, e.Type(), "version", e.Version)
	}
	t.accepted++
	t.events += int64(len(records))
	out := outcome{version: version, at: now.UnixMilli(), fp: parseFingerprint(producers.Header(r, commandbus.HeaderFingerprint))}
	o.decide(cmd.ID, out)
	res := out.result(cmd.ID, cmd.ProductID)
	res.IdempotencyKey = cmd.IdempotencyKey
	return append(records, d.resultRecord(r, res, correlation, t)...), nil
}

// resultRecord is the results-topic record of res, which it notes in t
// for Config.Outcomes.
func (d *Decider) resultRecord(cmdRec *kgo.Record, res schemas.CommandResult, correlationID string, t *tally) []*kgo.Record {
	v, err := d.codec.EncodeResult(res)
	if err != nil {
		// Cannot happen with a sane codec; answer without the reason
		// rather than not at all.
		d.log.Error("result does not encode", logkey.Topic, d.cfg.ResultsTopic, logkey.AggregateID, res.ProductID, logkey.CommandID, res.CommandID, "err", err)
		res.Reason = ""
		if v, err = d.codec.EncodeResult(res); err != nil {
			return nil
		}
	}
	if d.cfg.Outcomes != nil {
		t.results = append(t.results, res)
	}
	return []*kgo.Record{{
		Topic:     d.cfg.ResultsTopic,
		Partition: cmdRec.Partition, // co-partitioned: a rebuild of this partition reads it back
		Key:       []byte(res.ProductID),
		Value:     v,
		Headers:   commandbus.ResultHeaders(res, correlationID),
		Timestamp: res.DecidedAt,
	}}
}

// permanent reports whether a decode error will happen again with the same
// bytes.
func permanent(err error) bool {
	return errors.Is(err, schemas.ErrMalformed) || errors.Is(err, schemas.ErrUnknownSchema) ||
		errors.Is(err, schemas.ErrUnknownType) || errors.Is(err, schemas.ErrNoRegistry)
}
