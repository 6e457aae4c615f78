package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/topics"
)

// demoProducts is the demo catalogue's size (a variable for the tests'
// smaller one); demoWorkers send its commands at once.
var demoProducts = 1200

const demoWorkers = 8

var (
	demoCategories = []struct{ id, name, noun string }{
		{"running-shoes", "Running Shoes", "Runner"}, {"lamps", "Lamps", "Lamp"}, {"coffee", "Coffee", "Roast"},
		{"kettles", "Kettles", "Kettle"}, {"backpacks", "Backpacks", "Backpack"}, {"headphones", "Headphones", "Headphones"},
		{"chairs", "Chairs", "Chair"}, {"books", "Books", "Handbook"}, {"tents", "Tents", "Tent"},
		{"bikes", "Bikes", "Bike"}, {"watches", "Watches", "Watch"}, {"jackets", "Jackets", "Jacket"},
	}
	demoBrands = []string{"Acme", "Northwind", "Lumen", "Bergfalke", "Kestrel", "Oakridge", "Nordlys", "Tidewater",
		"Fjell", "Cobalt", "Juniper", "Sierra", "Halcyon", "Marlow", "Vireo", "Quill", "Ember", "Solace", "Drift", "Atlas"}
	demoAdjectives = []string{"Classic", "Trail", "Urban", "Compact", "Pro", "Light", "Everyday", "Alpine", "Studio", "Travel", "Quiet", "Bright"}
	demoTags       = []string{"bestseller", "new", "eco", "gift", "outdoor", "premium", "budget", "limited"}
)

// Marker files in dev's --data folder: a seeding under way (or stopped
// before its end), and one finished.
const (
	demoSeeding = "demo-seeding"
	demoSeeded  = "demo-seeded"
)

// seedDemo creates the demo catalogue through the command API, its prices
// in currency, unless the event log already has events. A seeding stopped
// before its end (dir keeps the mark) is run again: every command carries
// an Idempotency-Key, so what was sent is not sent twice.
func seedDemo(ctx context.Context, base string, kafkaOpts []kgo.Opt, currency, dir string, w io.Writer) error {
	if _, err := os.Stat(filepath.Join(dir, demoSeeded)); err == nil {
		fmt.Fprintln(w, "demo catalogue: seeded before; not seeding again")
		return nil
	}
	_, err := os.Stat(filepath.Join(dir, demoSeeding))
	resume := err == nil
	if n, err := eventCount(ctx, kafkaOpts); err != nil {
		return err
	} else if n > 0 && !resume {
		fmt.Fprintf(w, "demo catalogue: the event log already holds %d records; not seeding (rm -rf %s starts over)\n", n, dir)
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, demoSeeding), nil, 0o644); err != nil {
		return err
	}
	if resume {
		fmt.Fprintf(w, "resuming the demo catalogue, stopped before its end: %d products in %d categories and %d brands (commands sent before are not sent twice)…\n", demoProducts, len(demoCategories), len(demoBrands))
	} else {
		fmt.Fprintf(w, "seeding the demo catalogue: %d products in %d categories and %d brands…\n", demoProducts, len(demoCategories), len(demoBrands))
	}
	start := time.Now()
	var (
		sent atomic.Int64
		mu   sync.Mutex
		last = map[int]string{} // worker → its last command's status URL
	)
	jobs := make(chan int)
	errc := make(chan error, demoWorkers)
	var wg sync.WaitGroup
	for wk := 0; wk < demoWorkers; wk++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				loc, err := seedProduct(ctx, base, i, currency, &sent)
				if err != nil {
					errc <- err
					return
				}
				mu.Lock()
				last[wk] = loc
				mu.Unlock()
			}
		}()
	}
	go func() {
		defer close(jobs)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; i < demoProducts; i++ {
			select {
			case jobs <- i:
			case <-ctx.Done():
				return
			case <-tick.C:
				fmt.Fprintf(w, "  %d/%d products, %d commands\n", i, demoProducts, sent.Load())
				i--
			}
		}
	}()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	if err := ctx.Err(); err != nil {
		return err // stopped: the next start with --seed-demo goes on
	}
	// Commands of one product are decided in order, so each worker's last
	// command being decided means its products are done.
	for _, loc := range last {
		if err := waitDecided(ctx, base+loc); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, demoSeeded), nil, 0o644); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, demoSeeding)); err != nil {
		return err
	}
	fmt.Fprintf(w, "demo catalogue: %d commands sent and decided in %s\n", sent.Load(), time.Since(start).Round(time.Millisecond))
	return nil
}

// demoAmount writes units and cents (hundredths) in currency's minor
// digits: 24.50 in EUR, 2450 in JPY, 24.500 in KWD.
func demoAmount(currency string, units, cents int) string {
	switch d := schemas.MinorDigits(currency); d {
	case 0:
		return strconv.Itoa(units*100 + cents)
	case 1:
		return fmt.Sprintf("%d.%d", units, cents/10)
	default:
		return fmt.Sprintf("%d.%02d", units, cents) + strings.Repeat("0", d-2)
	}
}

// seedProduct sends product i's commands: a create, sometimes price and
// stock changes, and a few reviews. It returns the last command's URL.
func seedProduct(ctx context.Context, base string, i int, currency string, sent *atomic.Int64) (string, error) {
	r := rand.New(rand.NewPCG(uint64(i), 2026))
	id := eventgen.UUID(r)
	c := demoCategories[i%len(demoCategories)]
	brand := demoBrands[(i/len(demoCategories)+i)%len(demoBrands)]
	adj := demoAdjectives[r.IntN(len(demoAdjectives))]
	price := 5 + r.IntN(400)
	cents := []int{0, 50, 90, 95, 99}[r.IntN(5)]
	tags := fmt.Sprintf(`["%s","%s"]`, demoTags[r.IntN(len(demoTags))], strings.ToLower(adj))
	body := fmt.Sprintf(`{"productId":%q,"name":"%s %s %s %d","description":"The %s %s by %s: %s and made to last.",`+
		`"price":{"amount":%q,"currency":%q},"categoryId":%q,"categoryName":%q,"brandId":%q,"brandName":%q,`+
		`"tags":%s,"imageUrls":["https://img.example.com/%s.jpg"],"stock":%d}`,
		id, brand, adj, c.noun, 100+i, strings.ToLower(adj), strings.ToLower(c.noun), brand, demoTags[r.IntN(len(demoTags))],
		demoAmount(currency, price, cents), currency, c.id, c.name, strings.ToLower(brand), brand, tags, id, r.IntN(60))
	cmds := []struct{ method, path, body string }{{"POST", "/v1/products", body}}
	if r.IntN(3) == 0 {
		cmds = append(cmds, struct{ method, path, body string }{"PUT", "/v1/products/" + id + "/price",
			fmt.Sprintf(`{"price":{"amount":%q,"currency":%q}}`, demoAmount(currency, max(1, price-r.IntN(5)), cents), currency)})
	}
	for k := r.IntN(4); k > 0; k-- {
		body := fmt.Sprintf(`{"rating":%d,"userId":"user-%d","comment":"%s"}`, 1+r.IntN(5), r.IntN(500), []string{"Great", "Does the job", "Not for me", "Love it"}[r.IntN(4)])
		if _, authed := ctx.Value(bearerKey{}).(string); authed {
			body = withoutUserID(body) // with auth on, a review's userId is the token's subject
		}
		cmds = append(cmds, struct{ method, path, body string }{"POST", "/v1/products/" + id + "/reviews", body})
	}
	var loc string
	for k, c := range cmds {
		req, err := http.NewRequestWithContext(ctx, c.method, base+c.path, bytes.NewBufferString(c.body))
		if err != nil {
			return "", err
		}
		authorize(req)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("demo-%d-%d", i, k)) // a resumed seeding sends it again
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// 202 the first time; again, the first outcome (201/200 decided).
		if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
			return "", fmt.Errorf("%s %s: %s: %s", c.method, c.path, resp.Status, b)
		}
		sent.Add(1)
		loc = resp.Header.Get("Location")
	}
	return loc, nil
}

func waitDecided(ctx context.Context, url string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		authorize(req)
		req.Header.Set("Prefer", "wait=10")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK && !bytes.Contains(b, []byte(`"pending"`)) {
			return nil
		}
	}
	return errors.New("demo commands were not decided within 2 minutes")
}

func eventCount(ctx context.Context, kafkaOpts []kgo.Opt) (int64, error) {
	cl, err := kgo.NewClient(kafkaOpts...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topics.Events)
	if err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, nil
}
