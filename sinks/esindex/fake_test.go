package esindex_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"
)

// fakeES answers the few requests Apply sends (create index, _mget, _bulk)
// from memory, with if_seq_no and op_type=create semantics, and lets a test
// inject per-item and per-request failures. It stands in for Elasticsearch
// in the fast tier, where the failures a real server rarely shows on demand
// (409 races, 429, mapping rejects, 5xx) must be exercised.
type fakeES struct {
	mu   sync.Mutex
	docs map[string]fakeDoc
	seq  int64
	// item, when set, may override the outcome of one bulk item: a status
	// other than 0 is answered instead of writing. attempt counts the item's
	// bulk writes so far, from 1.
	item     func(id string, attempt int, source []byte) (status int, errType string)
	attempts map[string]int
	// request, when set, may fail a whole request with its status.
	request func(path string) int
	// poisonBulk and poisonMget refuse a whole _bulk or _mget request (400,
	// nothing written) that holds one of their document IDs, as
	// Elasticsearch refuses a malformed request; refusedBulks and
	// refusedMgets count those answers.
	poisonBulk, poisonMget     map[string]bool
	refusedBulks, refusedMgets int
	bulks                      int
}

type fakeDoc struct {
	seq    int64
	source json.RawMessage
}

func newFake(t *testing.T) (*fakeES, *elasticsearch.Client) {
	t.Helper()
	f := &fakeES{docs: map[string]fakeDoc{}, attempts: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{srv.URL}, DisableRetry: true})
	if err != nil {
		t.Fatal(err)
	}
	return f, c
}

func (f *fakeES) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.request != nil {
		if s := f.request(r.URL.Path); s != 0 {
			w.WriteHeader(s)
			io.WriteString(w, `{"error":{"type":"injected","reason":"injected failure"},"status":`+http.StatusText(s)+`}`)
			return
		}
	}
	switch {
	case r.Method == http.MethodPut:
		io.WriteString(w, `{"acknowledged":true}`)
	case strings.HasSuffix(r.URL.Path, "/_mget"):
		var req struct{ IDs []string }
		json.NewDecoder(r.Body).Decode(&req)
		if slices.ContainsFunc(req.IDs, func(id string) bool { return f.poisonMget[id] }) {
			f.refusedMgets++
			refuse(w)
			return
		}
		var docs []map[string]any
		for _, id := range req.IDs {
			d, ok := f.docs[id]
			if !ok {
				docs = append(docs, map[string]any{"_id": id, "found": false})
				continue
			}
			docs = append(docs, map[string]any{"_id": id, "found": true, "_seq_no": d.seq, "_primary_term": 1, "_source": d.source})
		}
		json.NewEncoder(w).Encode(map[string]any{"docs": docs})
	case strings.HasSuffix(r.URL.Path, "/_bulk"):
		f.bulks++
		sc := bufio.NewScanner(r.Body)
		sc.Buffer(nil, 10<<20)
		type bulkAction = map[string]struct {
			ID            string `json:"_id"`
			IfSeqNo       *int64 `json:"if_seq_no"`
			IfPrimaryTerm *int64 `json:"if_primary_term"`
		}
		var actions []bulkAction
		var sources []json.RawMessage
		poisoned := false
		for sc.Scan() {
			var action bulkAction
			json.Unmarshal(sc.Bytes(), &action)
			sc.Scan()
			actions = append(actions, action)
			sources = append(sources, json.RawMessage(bytes.Clone(sc.Bytes())))
			for _, a := range action {
				poisoned = poisoned || f.poisonBulk[a.ID]
			}
		}
		if poisoned {
			f.refusedBulks++
			refuse(w)
			return
		}
		var items []any
		errors := false
		for i, action := range actions {
			source := sources[i]
			for op, a := range action {
				f.attempts[a.ID]++
				status, errType := 0, ""
				if f.item != nil {
					status, errType = f.item(a.ID, f.attempts[a.ID], source)
				}
				cur, exists := f.docs[a.ID]
				if status == 0 {
					switch {
					case op == "create" && exists:
						status, errType = 409, "version_conflict_engine_exception"
					case op == "index" && (!exists || a.IfSeqNo == nil || *a.IfSeqNo != cur.seq):
						status, errType = 409, "version_conflict_engine_exception"
					default:
						f.seq++
						f.docs[a.ID] = fakeDoc{seq: f.seq, source: source}
						status = 201
					}
				}
				item := map[string]any{"status": status}
				if status < 300 {
					item["_seq_no"], item["_primary_term"] = f.seq, 1
				}
				if status >= 300 {
					errors = true
					item["error"] = map[string]any{"type": errType, "reason": "injected " + errType}
				}
				items = append(items, map[string]any{op: item})
			}
		}
		json.NewEncoder(w).Encode(map[string]any{"errors": errors, "items": items})
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"type":"not_implemented","reason":"the fake does not answer `+r.URL.Path+`"}}`)
	}
}

// refuse answers 400 to a whole request, as Elasticsearch answers a
// malformed one.
func refuse(w http.ResponseWriter) {
	w.WriteHeader(http.StatusBadRequest)
	io.WriteString(w, `{"error":{"type":"illegal_argument_exception","reason":"Malformed action/metadata line [1], expected START_OBJECT"},"status":400}`)
}

// stored decodes one stored document's source.
func (f *fakeES) stored(id string) (map[string]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.docs[id]
	if !ok {
		return nil, false
	}
	var m map[string]any
	json.Unmarshal(d.source, &m)
	return m, true
}
