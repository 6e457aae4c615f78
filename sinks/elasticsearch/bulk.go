package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"

	"github.com/streamview/streamview/processors/productsearch"
)

// bulkOp is one document write of Apply.
type bulkOp struct {
	product     *product
	create      bool // op_type=create: the index had no such document
	seqNo       int64
	primaryTerm int64
	doc         []byte
	folded      productsearch.Doc // what doc encodes
	// applied and duplicates are the fold's counts, recorded on success.
	applied, duplicates int
	firstNew            int // index into product.events of the first applied event
}

// bulkWriter batches document writes into _bulk requests, sent when the
// request holds BulkMaxDocs documents or BulkMaxBytes of body, or when its
// oldest document has waited BulkFlushInterval. Each item's status goes to
// result, in order.
type bulkWriter struct {
	ix     *Index
	result func(op *bulkOp, r bulkItem)
	buf    bytes.Buffer
	ops    []*bulkOp
	oldest time.Time
}

func (ix *Index) newBulkWriter(result func(*bulkOp, bulkItem)) *bulkWriter {
	return &bulkWriter{ix: ix, result: result}
}

func (w *bulkWriter) add(ctx context.Context, op *bulkOp) error {
	cfg := &w.ix.cfg
	// Keep a request under BulkMaxBytes unless one document alone is larger.
	if len(w.ops) > 0 && w.buf.Len()+len(op.doc)+128 > cfg.BulkMaxBytes {
		if err := w.flush(ctx); err != nil {
			return err
		}
	}
	if len(w.ops) == 0 {
		w.oldest = time.Now()
	}
	w.buf.WriteString(`{"`)
	if op.create {
		w.buf.WriteString(`create":{"_id":`)
		writeJSONString(&w.buf, op.product.id)
	} else {
		w.buf.WriteString(`index":{"_id":`)
		writeJSONString(&w.buf, op.product.id)
		w.buf.WriteString(`,"if_seq_no":`)
		w.buf.WriteString(strconv.FormatInt(op.seqNo, 10))
		w.buf.WriteString(`,"if_primary_term":`)
		w.buf.WriteString(strconv.FormatInt(op.primaryTerm, 10))
	}
	w.buf.WriteString("}}\n")
	w.buf.Write(op.doc)
	w.buf.WriteByte('\n')
	w.ops = append(w.ops, op)
	if len(w.ops) >= cfg.BulkMaxDocs || w.buf.Len() >= cfg.BulkMaxBytes ||
		(cfg.BulkFlushInterval > 0 && time.Since(w.oldest) >= cfg.BulkFlushInterval) {
		return w.flush(ctx)
	}
	return nil
}

func writeJSONString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a string always marshals
	b.Write(q)
}

// bulkAnswer is a _bulk answer cut down by filter_path.
type bulkAnswer struct {
	Errors bool                  `json:"errors"`
	Items  []map[string]bulkItem `json:"items"`
}

// bulkItem is one item's outcome; Error is never nil when passed on.
type bulkItem struct {
	Status      int        `json:"status"`
	SeqNo       int64      `json:"_seq_no"`
	PrimaryTerm int64      `json:"_primary_term"`
	Error       *errorBody `json:"error"`
}

var bulkFilter = []string{"errors", "items.*.status", "items.*._seq_no", "items.*._primary_term", "items.*.error.type", "items.*.error.reason"}

// flush sends what is buffered. A failure of the whole request (transport,
// 429, 5xx) is returned; per-item outcomes go to w.result.
func (w *bulkWriter) flush(ctx context.Context) error {
	if len(w.ops) == 0 {
		return nil
	}
	ops := w.ops
	w.ops = nil
	defer w.buf.Reset()
	ix := w.ix
	req := esapi.BulkRequest{Index: ix.write, Body: bytes.NewReader(w.buf.Bytes()), FilterPath: bulkFilter}
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
	for i, item := range res.Items {
		for _, r := range item { // one key: the action
			if r.Error == nil {
				r.Error = &errorBody{}
			}
			w.result(ops[i], r)
		}
	}
	return nil
}
