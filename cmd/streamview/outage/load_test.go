package outage

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamview/streamview/schemas"
)

// Request kinds of the load.
const (
	kindCreate = "create"
	kindPrice  = "price"
	kindStock  = "stock"
	kindReview = "review"
	kindView   = "view"
	kindSearch = "search"
)

func isCommand(kind string) bool { return kind != kindView && kind != kindSearch }

// The load's rates: ~200 commands/s through the API (a tenth creates, the
// rest price, stock and review changes of the seeded products), plus view
// reads and searches.
const (
	commandRate = 200
	viewRate    = 20
	searchRate  = 10
	maxInFlight = 2000
	clientBound = 60 * time.Second // the client gives up: a hang shows as an error
	preferWait  = 2                // seconds, on a third of the commands
	// answerMargin is a loaded machine's slack over a configured bound:
	// with eight agents' builds and tests on 2 cores (load average 30), a
	// 503 of the 5s delivery timeout was seen to take 21s end to end. A
	// hang, what the issue saw, is an answer that never comes (the client
	// gives up after clientBound).
	answerMargin = 30 * time.Second
)

// Configured bounds of the serve under test.
const (
	queryTimeout    = 2 * time.Second
	deliveryTimeout = 5 * time.Second
)

// bound is how long an answer to kind may take: its configured bound plus
// answerMargin. Past it the answer counts as a hang.
func bound(kind string, wait bool) time.Duration {
	if !isCommand(kind) {
		return queryTimeout + answerMargin
	}
	d := deliveryTimeout + answerMargin
	if wait {
		d += preferWait * time.Second
	}
	return d
}

// outcome is one request's answer.
type outcome struct {
	kind, method, path, body, key string
	wait                          bool
	start                         time.Time
	took                          time.Duration
	// outage is the part that was out when the request started or ended
	// ("" for none; both when they differ, joined by "+").
	outage     string
	status     int
	err        error
	retryAfter string
	problem    bool
	commandID  string
	productID  string
	version    int64
	raw        string            // the body, cut to 300 bytes for messages
	checks     map[string]string // /readyz's "checks", read from the whole body
	retryOf    *outcome          // a retry of a 503'd command: the first attempt
}

func (o *outcome) String() string {
	return fmt.Sprintf("%s %s %s (key %q, started %s, took %v, outage %q): %d %v %s",
		o.kind, o.method, o.path, o.key, o.start.Format("15:04:05.000"), o.took.Round(time.Millisecond), o.outage, o.status, o.err, o.raw)
}

// newUUID is a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return schemas.FormatUUID(b)
}

var words = []string{"trail", "runner", "road", "light", "classic", "winter", "jacket", "shoe", "boot", "bag"}

func createBody(id string, rnd *mrand.Rand) string {
	return fmt.Sprintf(`{"productId":%q,"name":"%s %s %d","description":"outage test","price":{"amount":"%d.%02d","currency":"EUR"},`+
		`"categoryId":"c%d","categoryName":"Category %d","brandId":"b%d","brandName":"Brand %d","tags":[%q],"stock":%d}`,
		id, words[rnd.IntN(len(words))], words[rnd.IntN(len(words))], rnd.IntN(1000), 1+rnd.IntN(500), rnd.IntN(100),
		rnd.IntN(5), rnd.IntN(5), rnd.IntN(5), rnd.IntN(5), words[rnd.IntN(len(words))], rnd.IntN(50))
}

var client = &http.Client{Timeout: clientBound, Transport: func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 256
	return t
}()}

// do sends one request and reads its answer into o.
func do(o *outcome, base string) {
	var rd io.Reader
	if o.body != "" {
		rd = strings.NewReader(o.body)
	}
	req, err := http.NewRequest(o.method, base+o.path, rd)
	if err != nil {
		o.err = err
		return
	}
	if o.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if o.key != "" {
		req.Header.Set("Idempotency-Key", o.key)
	}
	if o.wait {
		req.Header.Set("Prefer", fmt.Sprintf("wait=%d", preferWait))
	}
	o.start = time.Now()
	resp, err := client.Do(req)
	if err != nil {
		o.took, o.err = time.Since(o.start), err
		return
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	o.took = time.Since(o.start)
	o.status, o.err, o.raw = resp.StatusCode, err, string(bytes.TrimSpace(b))
	if bytes.Contains(b, []byte(`"checks"`)) {
		var body struct {
			Checks map[string]string `json:"checks"`
		}
		if json.Unmarshal(b, &body) == nil {
			o.checks = body.Checks
		}
	}
	if len(o.raw) > 300 {
		o.raw = o.raw[:300] + "…"
	}
	o.retryAfter = resp.Header.Get("Retry-After")
	o.problem = strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json")
	if isCommand(o.kind) && o.status < 300 {
		var a struct {
			CommandID string `json:"commandId"`
			ProductID string `json:"productId"`
			Version   int64  `json:"version"`
		}
		if err := json.Unmarshal(b, &a); err != nil {
			o.err = fmt.Errorf("answer is not JSON: %w", err)
		}
		o.commandID, o.productID, o.version = a.CommandID, a.ProductID, a.Version
	}
}

// get is a plain GET.
func get(url string) outcome {
	o := outcome{kind: kindView, method: http.MethodGet}
	do(&o, url)
	return o
}

// load drives the steady mix against the API until stopped.
type load struct {
	base    string
	seeds   []string // products in the view: targets of updates and reads
	run     string   // prefix of the Idempotency-Keys
	outage  atomic.Value
	n       atomic.Int64
	skipped atomic.Int64

	mu   sync.Mutex
	done []*outcome

	stop chan struct{}
	wg   sync.WaitGroup // the ticker and every request
}

// setOutage names the part that is out ("" when none).
func (l *load) setOutage(part string) { l.outage.Store(part) }

func (l *load) currentOutage() string {
	s, _ := l.outage.Load().(string)
	return s
}

// start runs the load until stop is called.
func (l *load) start() {
	l.stop = make(chan struct{})
	l.setOutage("")
	sem := make(chan struct{}, maxInFlight)
	rate := commandRate + viewRate + searchRate
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		rnd := mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7))
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		began, issued := time.Now(), int64(0)
		for {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			// Every request due by now: a late tick does not lower the rate.
			for due := int64(time.Since(began).Seconds()*float64(rate)) - issued; due > 0; due-- {
				issued++
				select {
				case sem <- struct{}{}:
				default:
					l.skipped.Add(1)
					continue
				}
				o := l.next(rnd, rate)
				l.wg.Add(1)
				go func() {
					defer func() { <-sem; l.wg.Done() }()
					l.send(o)
				}()
			}
		}
	}()
}

// send does o and records it with the outage in effect around it.
func (l *load) send(o *outcome) {
	before := l.currentOutage()
	do(o, l.base)
	after := l.currentOutage()
	o.outage = before
	if after != before {
		o.outage = strings.Trim(before+"+"+after, "+")
	}
	l.mu.Lock()
	l.done = append(l.done, o)
	l.mu.Unlock()
}

// halt stops the load and waits for every request in flight.
func (l *load) halt() {
	close(l.stop)
	l.wg.Wait()
}

// since returns the answers of requests started at or after t.
func (l *load) since(t time.Time) []*outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*outcome
	for _, o := range l.done {
		if !o.start.Before(t) {
			out = append(out, o)
		}
	}
	return out
}

func (l *load) all() []*outcome {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*outcome(nil), l.done...)
}

// next makes the next request of the mix.
func (l *load) next(rnd *mrand.Rand, rate int) *outcome {
	n := l.n.Add(1)
	key := fmt.Sprintf("%s-%d", l.run, n)
	target := l.seeds[rnd.IntN(len(l.seeds))]
	wait := rnd.IntN(3) == 0
	switch r := rnd.IntN(rate); {
	case r < viewRate:
		return &outcome{kind: kindView, method: http.MethodGet, path: "/v1/products/" + target}
	case r < viewRate+searchRate:
		return &outcome{kind: kindSearch, method: http.MethodGet, path: "/v1/products/search?q=" + words[rnd.IntN(len(words))]}
	}
	switch r := rnd.IntN(10); {
	case r == 0:
		id := newUUID()
		return &outcome{kind: kindCreate, method: http.MethodPost, path: "/v1/products", body: createBody(id, rnd), key: key, wait: wait, productID: id}
	case r < 4:
		return &outcome{kind: kindPrice, method: http.MethodPut, path: "/v1/products/" + target + "/price", key: key, wait: wait,
			body: fmt.Sprintf(`{"price":{"amount":"%d.%02d","currency":"EUR"}}`, 1+rnd.IntN(500), rnd.IntN(100))}
	case r < 7:
		return &outcome{kind: kindStock, method: http.MethodPut, path: "/v1/products/" + target + "/stock", key: key, wait: wait,
			body: fmt.Sprintf(`{"quantity":%d}`, rnd.IntN(100))}
	default:
		return &outcome{kind: kindReview, method: http.MethodPost, path: "/v1/products/" + target + "/reviews", key: key, wait: wait,
			body: fmt.Sprintf(`{"rating":%d,"userId":"u%d","comment":"outage review"}`, 1+rnd.IntN(5), rnd.IntN(1000))}
	}
}

// summary counts answers by kind and status, for the log.
func summary(os []*outcome) string {
	counts := map[string]map[string]int{}
	for _, o := range os {
		if counts[o.kind] == nil {
			counts[o.kind] = map[string]int{}
		}
		st := fmt.Sprint(o.status)
		if o.err != nil {
			st = "error"
		}
		counts[o.kind][st]++
	}
	var b strings.Builder
	for _, k := range []string{kindCreate, kindPrice, kindStock, kindReview, kindView, kindSearch} {
		if c := counts[k]; c != nil {
			fmt.Fprintf(&b, " %s%v", k, c)
		}
	}
	return strings.TrimSpace(b.String())
}
