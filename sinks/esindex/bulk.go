package esindex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/streamview/streamview/processors/productsearch"
)

// bulkOp is one document write of Apply.
type bulkOp struct {
	product     *productsearch.Share
	create      bool // op_type=create: the index had no such document
	seqNo       int64
	primaryTerm int64
	doc         []byte
	folded      productsearch.Doc // what doc encodes
	// applied and duplicates are the fold's counts, recorded on success.
	applied, duplicates int
	firstNew            int       // index into product.Events of the first applied event
	slot                cacheSlot // where the cache held the document folded onto, if it did
}

// bulkWriter batches document writes into _bulk requests, sent when the
// request holds BulkMaxDocs documents or BulkMaxBytes of body, or when its
// oldest document has waited BulkFlushInterval. Each item's status goes to
// result, in order.
//
// A full request is sent in the background while the caller goes on
// folding and encoding the next one; at most one is in flight, so result
// sees the answers of one request at a time, in order, though not on the
// caller's goroutine. flush sends the rest and waits for every answer.
type bulkWriter struct {
	ix       *Index
	result   func(op *bulkOp, r bulkItem)
	buf      bytes.Buffer
	ops      []*bulkOp
	oldest   time.Time
	inflight chan error // the answer of the request in flight, if any
}

func (ix *Index) newBulkWriter(result func(*bulkOp, bulkItem)) *bulkWriter {
	return &bulkWriter{ix: ix, result: result}
}

func (w *bulkWriter) add(ctx context.Context, op *bulkOp) error {
	cfg := &w.ix.cfg
	// Keep a request under BulkMaxBytes unless one document alone is larger.
	if len(w.ops) > 0 && w.buf.Len()+len(op.doc)+128 > cfg.BulkMaxBytes {
		if err := w.send(ctx); err != nil {
			return err
		}
	}
	if len(w.ops) == 0 {
		w.oldest = time.Now()
	}
	encodeOp(&w.buf, op)
	w.ops = append(w.ops, op)
	if len(w.ops) >= cfg.BulkMaxDocs || w.buf.Len() >= cfg.BulkMaxBytes ||
		(cfg.BulkFlushInterval > 0 && time.Since(w.oldest) >= cfg.BulkFlushInterval) {
		return w.send(ctx)
	}
	return nil
}

// encodeOp appends op's action line and document to a bulk body.
func encodeOp(b *bytes.Buffer, op *bulkOp) {
	b.WriteString(`{"`)
	if op.create {
		b.WriteString(`create":{"_id":`)
		writeJSONString(b, op.product.ID)
	} else {
		b.WriteString(`index":{"_id":`)
		writeJSONString(b, op.product.ID)
		b.WriteString(`,"if_seq_no":`)
		b.WriteString(strconv.FormatInt(op.seqNo, 10))
		b.WriteString(`,"if_primary_term":`)
		b.WriteString(strconv.FormatInt(op.primaryTerm, 10))
	}
	b.WriteString("}}\n")
	b.Write(op.doc)
	b.WriteByte('\n')
}

func writeJSONString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a string always marshals
	b.Write(q)
}

// bulkAnswer is a _bulk answer cut down by filter_path.
type bulkAnswer struct {
	Errors bool         `json:"errors"`
	Items  []bulkAction `json:"items"`
}

// bulkAction is one item of a _bulk answer, keyed by its action: the
// actions encodeOp writes. (A struct, not a map per item: a third less time
// to decode an answer of 5,000 items, a fifth of the allocations.)
type bulkAction struct {
	Index  *bulkItem `json:"index"`
	Create *bulkItem `json:"create"`
}

// item is the outcome the answer gives, nil when it names neither action.
func (a bulkAction) item() *bulkItem {
	if a.Index != nil {
		return a.Index
	}
	return a.Create
}

// bulkItem is one item's outcome; Error is never nil when passed on.
type bulkItem struct {
	Status      int        `json:"status"`
	SeqNo       int64      `json:"_seq_no"`
	PrimaryTerm int64      `json:"_primary_term"`
	Error       *errorBody `json:"error"`
}

var bulkFilter = []string{"errors", "items.*.status", "items.*._seq_no", "items.*._primary_term", "items.*.error.type", "items.*.error.reason"}

// flush sends what is buffered and waits for the answers of every request.
// A failure of a whole request (transport, 429, 5xx) is returned; per-item
// outcomes go to w.result.
func (w *bulkWriter) flush(ctx context.Context) error {
	if err := w.send(ctx); err != nil {
		return err
	}
	return w.wait()
}

// send starts sending what is buffered once the request in flight has been
// answered, and returns that request's error.
func (w *bulkWriter) send(ctx context.Context) error {
	if len(w.ops) == 0 {
		return nil
	}
	if err := w.wait(); err != nil {
		return err
	}
	ops, body := w.ops, w.buf.Bytes()
	w.ops, w.buf = nil, bytes.Buffer{}
	done := make(chan error, 1)
	w.inflight = done
	go func() { done <- w.do(ctx, ops, body) }()
	return nil
}

// wait waits for the request in flight, if any, and returns its error.
func (w *bulkWriter) wait() error {
	if w.inflight == nil {
		return nil
	}
	err := <-w.inflight
	w.inflight = nil
	return err
}

// do sends one bulk request of ops, encoded in body, and hands each item's
// outcome to w.result.
//
// A request Elasticsearch refuses whole (refusedRequest: 400, 413) names no
// document: do sends its halves again, each as a request of its own, down
// to requests of one document, whose refusal is that document's outcome
// (w.result gets it as the item's status, for Apply to name it permanent).
// The other documents are written.
func (w *bulkWriter) do(ctx context.Context, ops []*bulkOp, body []byte) error {
	err := w.send1(ctx, ops, body)
	var re *ResponseError
	if !refusedRequest(err) || !errors.As(err, &re) {
		return err
	}
	w.ix.stats.refused.Add(1)
	if len(ops) == 1 {
		w.result(ops[0], bulkItem{Status: re.Status, Error: &errorBody{Type: re.Type, Reason: "bulk request refused: " + re.Reason}})
		return nil
	}
	half := len(ops) / 2
	for _, part := range [][]*bulkOp{ops[:half], ops[half:]} {
		var b bytes.Buffer
		for _, op := range part {
			encodeOp(&b, op)
		}
		if err := w.do(ctx, part, b.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

// send1 sends one bulk request of ops, encoded in body, and hands each
// item's outcome to w.result.
func (w *bulkWriter) send1(ctx context.Context, ops []*bulkOp, body []byte) error {
	ix := w.ix
	req := esapi.BulkRequest{Index: ix.write, Body: bytes.NewReader(body), FilterPath: bulkFilter}
	if ix.cfg.Refresh != "" {
		req.Refresh = ix.cfg.Refresh
	}
	var res bulkAnswer
	ix.stats.bulks.Add(1)
	start := time.Now()
	defer func() { ix.stats.bulkNanos.Add(int64(time.Since(start))) }()
	if err := ix.do(ctx, "bulk "+ix.write, req, &res); err != nil {
		return err
	}
	if len(res.Items) != len(ops) {
		return fmt.Errorf("elasticsearch bulk %s: sent %d documents, %d answered", ix.write, len(ops), len(res.Items))
	}
	for i, a := range res.Items { // all checked before any is passed on
		if a.item() == nil {
			return fmt.Errorf("elasticsearch bulk %s: item %d of the answer names no index or create action", ix.write, i)
		}
	}
	for i, a := range res.Items {
		r := a.item()
		if r.Error == nil {
			r.Error = &errorBody{}
		}
		w.result(ops[i], *r)
	}
	return nil
}
