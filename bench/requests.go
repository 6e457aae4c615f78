package bench

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Requests counts the Kafka requests an in-process stack's clients write,
// by client and request kind: APIConfig.Requests collects them and each
// APIStep reports them per command (a broker's CPU goes mostly to
// requests, so this says which client and which kind loads it). Give each
// client of the stack its own Opt. Safe for concurrent use; the zero value
// is ready.
type Requests struct {
	mu      sync.Mutex
	clients []*requestCounter
}

// Opt is the option that makes a client count its requests as client.
func (r *Requests) Opt(client string) kgo.Opt {
	c := &requestCounter{client: client}
	r.mu.Lock()
	r.clients = append(r.clients, c)
	r.mu.Unlock()
	return kgo.WithHooks(c)
}

// requestCounter counts one client's requests by kind (the request key).
type requestCounter struct {
	client string
	n      [kmsg.MaxKey + 1]atomic.Int64
}

var _ kgo.HookBrokerWrite = (*requestCounter)(nil)

// OnBrokerWrite counts a request written in full.
func (c *requestCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil && key >= 0 && int(key) < len(c.n) {
		c.n[key].Add(1)
	}
}

// RequestCount is how many requests of one kind a client wrote.
type RequestCount struct {
	Client  string `json:"client"`
	Request string `json:"request"` // the Kafka API: Fetch, Produce, EndTxn…
	Count   int64  `json:"count"`
}

// snapshot returns every client's counts so far, by client then kind.
func (r *Requests) snapshot() map[[2]string]int64 {
	out := map[[2]string]int64{}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.clients {
		for k := range c.n {
			if n := c.n[k].Load(); n > 0 {
				out[[2]string{c.client, kmsg.NameForKey(int16(k))}] += n
			}
		}
	}
	return out
}

// since returns the counts written after before (a snapshot), most
// first; kinds with none are left out.
func (r *Requests) since(before map[[2]string]int64) []RequestCount {
	var out []RequestCount
	for k, n := range r.snapshot() {
		if d := n - before[k]; d > 0 {
			out = append(out, RequestCount{Client: k[0], Request: k[1], Count: d})
		}
	}
	slices.SortFunc(out, func(a, b RequestCount) int {
		return cmp.Or(mostFirst(a.Count, b.Count), strings.Compare(a.Client, b.Client), strings.Compare(a.Request, b.Request))
	})
	return out
}

// writeRequests writes, per step that counted them, the stack's Kafka
// requests per command answered: all of them, by kind, and by client.
func writeRequests(b *strings.Builder, steps []APIStep) {
	for _, s := range steps {
		if len(s.Requests) == 0 || s.Latency.Requests == 0 {
			continue
		}
		per := func(n int64) string { return fmt.Sprintf("%.2f", float64(n)/float64(s.Latency.Requests)) }
		var total int64
		kinds := map[string]int64{}
		clients := map[string]int64{}
		for _, c := range s.Requests {
			total += c.Count
			kinds[c.Request] += c.Count
			clients[c.Client] += c.Count
		}
		fmt.Fprintf(b, "\nKafka requests the stack wrote at %d/s %s: %s per command (%d in %d commands); by kind: %s; by client: %s\n",
			s.Rate, modeName(s.Wait), per(total), total, s.Latency.Requests, perCommand(kinds, per), perCommand(clients, per))
	}
}

// perCommand lists counts by name, most first, as "name 1.23".
func perCommand(counts map[string]int64, per func(int64) string) string {
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(mostFirst(counts[a], counts[b]), strings.Compare(a, b))
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + per(counts[n])
	}
	return strings.Join(parts, ", ")
}

// mostFirst orders counts from the most to the fewest.
func mostFirst(a, b int64) int { return cmp.Compare(b, a) }
