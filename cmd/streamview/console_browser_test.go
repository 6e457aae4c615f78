package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/api/auth/authtest"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/topics"
)

// The console's browser test: Debian's chromium, headless, driven by
// chromedp, over `streamview dev` and over `serve` on the real servers.
// Screenshots of each page go to $STREAMVIEW_SCREENSHOTS, or the test's
// temporary folder.

// envChromium names the browser to use instead of chromium on $PATH.
const envChromium = "STREAMVIEW_CHROMIUM"

// chromiumPath finds the browser, or skips (-short) or fails the test
// with what to do.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{os.Getenv(envChromium), "chromium", "chromium-browser"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "the console's browser test needs Debian's chromium: run `make browser` (scripts/browser.sh installs it with apt) or set " + envChromium
	if testing.Short() {
		t.Skip(msg)
	}
	t.Fatal(msg)
	return ""
}

// noRebuildGrace makes rebuilds over HTTP retire the old generation at
// once, so that one finishes within the test.
func noRebuildGrace(t *testing.T) {
	old := rebuildGrace
	rebuildGrace = 0
	t.Cleanup(func() { rebuildGrace = old })
}

func TestConsoleDev(t *testing.T) {
	browser := chromiumPath(t)
	noRebuildGrace(t)
	base, brokers, _ := startDev(t, t.TempDir())
	consoleTour(t, browser, base, brokers, "dev")
}

func TestConsoleServe(t *testing.T) {
	browser := chromiumPath(t)
	noRebuildGrace(t)
	base, brokers := startServeBrokers(t)
	consoleTour(t, browser, base, brokers, "serve")
}

// TestConsoleSignIn: with auth on, the console asks for a token, keeps a
// pasted one for the session, says when a page needs a scope the token
// lacks, and reads /metrics with the token (a plain link to it carries
// none).
func TestConsoleSignIn(t *testing.T) {
	browser := chromiumPath(t)
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, authtest.Secret, 0o600); err != nil {
		t.Fatal(err)
	}
	base, _, _ := startDevWith(t, t.TempDir(), "--jwt-secret-file", secretFile)
	reader := authtest.HS256(t, authtest.Secret, authtest.Valid("reader", "catalog:read"))
	operator := authtest.HS256(t, authtest.Secret, authtest.Valid("operator", "catalog:write catalog:read ops"))

	word := "zq" + strings.ReplaceAll(commandbus.NewID()[:8], "-", "")
	a := call(t, "POST", base+"/v1/products", fmt.Sprintf(`{"name":"Signed Lamp %s","description":"","price":{"amount":"9.99","currency":"EUR"},
		"categoryId":"lamps","categoryName":"Lamps","brandId":"lumen","brandName":"Lumen"}`, word), "Prefer", "wait=20", "Authorization", "Bearer "+operator)
	if a.status != 201 {
		t.Fatalf("create: %d %v", a.status, a.body)
	}
	row := fmt.Sprintf(`#results tr[data-id=%q]`, a.body["productId"])
	banner := func(text string) string {
		return fmt.Sprintf(`!document.querySelector("#banner").hidden && document.querySelector("#banner").textContent.includes(%q)`, text)
	}
	tr := newTour(t, browser, base, "signin")
	tr.step("no token: asked to sign in", func() {
		tr.open(base + "/#/search?q=" + word)
		tr.wait(banner("Sign in"))
		tr.shot("sign-in")
	})
	tr.step("a reader's token: the catalogue, not the operations", func() {
		tr.submit("#token", "Bearer "+reader, `#token-form button[type="submit"]`)
		testenv.Eventually(t, 60*time.Second, func() error {
			tr.open(base + "/#/search?q=" + word)
			return tr.poll(fmt.Sprintf(`document.querySelector(%q) !== null && document.querySelector("#banner").hidden`, row), 10*time.Second)
		})
		tr.open(base + "/#/projections")
		tr.wait(banner("lacks the scope"))
		tr.open(base + "/#/metrics")
		tr.wait(banner("lacks the scope"))
	})
	tr.step("an operator's token: projections and metrics", func() {
		tr.submit("#token", operator, `#token-form button[type="submit"]`)
		tr.open(base + "/#/projections")
		tr.wait(`document.querySelector('#projections tr[data-projection="product-view"][data-state="live"]') !== null && document.querySelector("#banner").hidden`)
		tr.open(base + "/#/metrics?filter=streamview_projection_")
		tr.wait(`document.querySelector("#metrics").textContent.includes("streamview_projection_") && !document.querySelector("#metrics").textContent.includes("go_goroutines") && document.querySelector("#metrics-count").textContent.endsWith(" samples")`)
		tr.shot("metrics")
		// An empty filter shows every sample, the Go runtime's too.
		tr.submit("#metrics-filter", "", "#metrics-go")
		tr.wait(`document.querySelector("#metrics").textContent.includes("go_goroutines")`)
	})
	tr.step("cleared: asked again", func() {
		tr.click("#token-clear")
		tr.open(base + "/#/search?q=" + word)
		tr.wait(banner("Sign in"))
	})
}

// tour is one browser session on a console.
type tour struct {
	t        *testing.T
	ctx      context.Context
	base     string
	shots    string
	prefix   string
	mu       sync.Mutex
	problems []string
}

// newTour starts a browser for a tour of the console at base, its
// screenshots named after name; the browser stops with the test, and the
// page's errors fail it then.
func newTour(t *testing.T, browser, base, name string) *tour {
	shots := os.Getenv("STREAMVIEW_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.WindowSize(1440, 1000),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-gpu", true))...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelT := context.WithTimeout(ctx, 5*time.Minute)
	tr := &tour{t: t, ctx: ctx, base: base, shots: shots, prefix: name + "-"}
	t.Cleanup(func() {
		cancelT()
		cancel()
		cancelAlloc()
	})
	tr.do(chromedp.Navigate("about:blank"))
	tr.watchConsole()
	t.Cleanup(func() {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, p := range tr.problems {
			t.Errorf("browser console: %s", p)
		}
		t.Logf("screenshots in %s", shots)
	})
	return tr
}

func consoleTour(t *testing.T, browser, base string, brokers []string, name string) {
	tr := newTour(t, browser, base, name)
	ctx := tr.ctx

	// A small catalogue of its own, under a word no other test uses.
	word := "zq" + strings.ReplaceAll(commandbus.NewID()[:8], "-", "")
	var ids []string
	for i, p := range []struct{ name, price, cat, brand string }{
		{"Aurora Desk Lamp", "24.50", "lamps", "lumen"}, {"Borealis Floor Lamp", "89.00", "lamps", "lumen"},
		{"Cirrus Kettle", "39.90", "kitchen", "acme"}, {"Dune Teapot", "19.99", "kitchen", "terra"},
		{"Ember Toaster", "54.00", "kitchen", "acme"}, {"Fjord Reading Light", "31.25", "lamps", "terra"},
	} {
		a := call(t, "POST", base+"/v1/products", fmt.Sprintf(`{"name":%q,"description":"A %s for the console tour","price":{"amount":%q,"currency":"EUR"},
			"categoryId":%q,"categoryName":%q,"brandId":%q,"brandName":%q,"tags":[%q],"stock":%d}`,
			p.name+" "+word, word, p.price, p.cat, strings.ToUpper(p.cat[:1])+p.cat[1:], p.brand, strings.ToUpper(p.brand[:1])+p.brand[1:], word, i*3), "Prefer", "wait=20")
		if a.status != 201 {
			t.Fatalf("create %s: %d %v", p.name, a.status, a.body)
		}
		ids = append(ids, a.body["productId"].(string))
	}
	id := ids[0]
	row := fmt.Sprintf(`#results tr[data-id=%q]`, id)

	// Search: every product of the tour, once the index has them.
	tr.step("search", func() {
		testenv.Eventually(t, 60*time.Second, func() error {
			tr.open(base + "/#/search")
			// Tried again with the rest: the page may still be
			// reloading ("Cannot find context with specified id").
			if err := tr.poll(script("#q", word, "#search-go"), 10*time.Second); err != nil {
				return err
			}
			return tr.poll(`document.querySelectorAll("#results tbody tr").length === 6`, 10*time.Second)
		})
		tr.wait(`document.querySelector("#total").textContent === "6 products"`)
		tr.wait(`document.querySelectorAll("#facet-category input").length === 2`)
		// A facet narrows the search.
		tr.click(`#facet-category input[value="lamps"]`)
		tr.wait(`location.hash.includes("category=lamps") && document.querySelectorAll("#results tbody tr").length === 3`)
		tr.shot("search")
	})

	tr.step("product", func() {
		tr.click(row + " a.product-link")
		tr.wait(`document.querySelector("#view-version")?.textContent === "v1" && document.querySelectorAll("#history tbody tr").length === 1`)
		tr.wait(`document.querySelector("#asof-view")?.dataset.version === "1"`)
		// Change the price through the form: the view, the history and
		// the as-of slider move to version 2.
		tr.submit("#price-amount", "77.70", "#price-go")
		tr.wait(`document.querySelector("#command-result")?.textContent.includes("version 2")`)
		tr.wait(`document.querySelector("#view-version")?.textContent === "v2" && document.querySelector("#view-price").textContent === "77.70 EUR"`)
		tr.wait(`document.querySelector('#history tbody tr[data-version="2"]')?.textContent.includes("24.50 EUR → 77.70 EUR")`)
		tr.wait(`document.querySelector("#asof-view")?.dataset.version === "2"`)
		tr.shot("product")
		// Back in time: the slider at version 1 shows the old price.
		tr.do(chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#asof"); s.value = "1"; s.dispatchEvent(new Event("input")); })()`))
		tr.wait(`document.querySelector("#asof-label").textContent === "v1" && document.querySelector("#asof-view").dataset.version === "1" && document.querySelector("#asof-price").textContent === "24.50 EUR"`)
		tr.wait(`document.querySelector("#asof-price").classList.contains("changed") && document.querySelector('#history tr.current[data-version="1"]') !== null`)
		tr.shot("product-asof")
	})

	tr.step("search sees the new price", func() {
		testenv.Eventually(t, 60*time.Second, func() error {
			tr.open(base + "/#/search?q=" + word)
			return tr.poll(fmt.Sprintf(`document.querySelector(%q)?.textContent === "77.70 EUR"`, row+" td.price"), 5*time.Second)
		})
	})

	tr.step("rename a category and a brand", func() {
		// A product of a category and brand of its own (renaming a shared
		// one would rename it for every other test's products), outside
		// the tour's search word.
		cat, brand := "cat-"+word, "brand-"+word
		a := call(t, "POST", base+"/v1/products", fmt.Sprintf(`{"name":"Gale Fan","description":"d","price":{"amount":"15.00","currency":"EUR"},
			"categoryId":%q,"categoryName":"Fans","brandId":%q,"brandName":"Gale","stock":1}`, cat, brand), "Prefer", "wait=20")
		if a.status != 201 {
			t.Fatalf("create: %d %v", a.status, a.body)
		}
		tr.open(base + "/#/product/" + a.body["productId"].(string))
		tr.wait(`document.querySelector("#view-version")?.textContent === "v1" && document.querySelector("#category-name")?.value === "Fans"`)
		tr.submit("#category-name", "Air movers", "#category-go")
		tr.wait(`document.querySelector("#command-result")?.textContent.includes("Category ` + cat + ` renamed: its version 1")`)
		tr.wait(`document.querySelector("#view-categoryName")?.textContent.startsWith("Air movers") && document.querySelector("#category-name").value === "Air movers"`)
		tr.submit("#brand-name", "Gale Works", "#brand-go")
		testenv.Eventually(t, 30*time.Second, func() error {
			g := call(t, "GET", base+"/v1/brands/"+brand, "")
			v := call(t, "GET", base+"/v1/products/"+a.body["productId"].(string), "")
			if g.status != 200 || g.body["name"] != "Gale Works" || v.body["brandName"] != "Gale Works" {
				return fmt.Errorf("the brand: %d %v; the view's brand name %v", g.status, g.body, v.body["brandName"])
			}
			return nil
		})
		tr.wait(`document.querySelector("#view-brandName")?.textContent.startsWith("Gale Works")`)
		// The view's version did not move: a rename is the category's.
		tr.wait(`document.querySelector("#view-version").textContent === "v1"`)
		tr.shot("product-renamed")
		if g := call(t, "GET", base+"/v1/categories/"+cat, ""); g.status != 200 || g.body["name"] != "Air movers" {
			t.Errorf("GET the category: %d %v", g.status, g.body)
		}
	})

	tr.step("a details change in the history", func() {
		// PATCH name, tags and category: the event leaves imageUrls null
		// (unchanged); the history shows what changed, no null.
		a := call(t, "POST", base+"/v1/products", `{"name":"Haze Humidifier","description":"d","price":{"amount":"42.00","currency":"EUR"},
			"categoryId":"lamps","categoryName":"Lamps","brandId":"lumen","brandName":"Lumen","stock":1}`, "Prefer", "wait=20")
		if a.status != 201 {
			t.Fatalf("create: %d %v", a.status, a.body)
		}
		pid := a.body["productId"].(string)
		cat := "air-" + word
		if u := call(t, "PATCH", base+"/v1/products/"+pid, fmt.Sprintf(`{"name":"Haze Humidifier Pro","tags":["mist","quiet"],"categoryId":%q,"categoryName":"Air care"}`, cat),
			"Prefer", "wait=20"); u.status != 200 {
			t.Fatalf("patch: %d %v", u.status, u.body)
		}
		tr.open(base + "/#/product/" + pid)
		tr.wait(fmt.Sprintf(`document.querySelector('#history tbody tr[data-version="2"] td.data')?.textContent === "name: Haze Humidifier Pro; tags: mist, quiet; categoryId: %s; categoryName: Air care"`, cat))
		tr.shot("product-details")
	})

	tr.step("projections and a rebuild", func() {
		tr.do(chromedp.Navigate(base + "/#/projections"))
		tr.wait(`document.querySelector('#projections tr[data-projection="product-view"][data-state="live"]') !== null`)
		// A rebuild stopped during its grace period (a test that ended)
		// leaves the old generation retiring: running it again finishes
		// that first.
		if tr.poll(`document.querySelector('#projections tr[data-projection="product-view"][data-state="retiring"]') !== null`, time.Second) == nil {
			tr.click(`button.rebuild[data-projection="product-view"]`)
			tr.wait(`document.querySelector("#ops-result").textContent.includes("finishes retiring")`)
			tr.waitFor(`document.querySelector('#projections tr[data-projection="product-view"][data-state="retiring"]') === null && document.querySelector('button.rebuild[data-projection="product-view"]') !== null`, 3*time.Minute)
		}
		gen, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#projections tr[data-projection="product-view"][data-state="live"]').dataset.generation`))
		if err != nil {
			t.Fatal(err)
		}
		var next int
		fmt.Sscan(gen, &next)
		next++
		tr.click(`button.rebuild[data-projection="product-view"]`)
		tr.wait(`document.querySelector("#ops-result").textContent.includes("started")`)
		tr.shot("projections-rebuilding")
		// The page refreshes by itself until the new generation is live.
		tr.waitFor(fmt.Sprintf(`document.querySelector('#projections tr[data-projection="product-view"][data-state="live"][data-generation="%d"]') !== null && !document.querySelector('#projections tr[data-projection="product-view"]:not([data-state="live"])')`, next), 3*time.Minute)
		tr.shot("projections")
	})

	tr.step("dead letters", func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		key := commandbus.NewID()
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topics.Events, Key: []byte(key), Value: []byte("not an event")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		mine := fmt.Sprintf(`#dead-letters tr[data-aggregate=%q]`, key)
		testenv.Eventually(t, 60*time.Second, func() error {
			tr.open(base + "/#/dead-letters/product-view")
			return tr.poll(fmt.Sprintf(`document.querySelectorAll(%q).length === 1`, mine), 5*time.Second)
		})
		// Still undecodable, it is left out, and the page says why.
		tr.click(mine+" input.pick", "#redrive-selected")
		tr.wait(`document.querySelector("#redrive-result").textContent.includes("the record still fails (undecodable)")`)
		// A letter whose record applies now goes back; its product's
		// view appears.
		_, pid := plantDeadLetter(t, cl)
		planted := fmt.Sprintf(`#dead-letters tr[data-aggregate=%q]`, pid)
		testenv.Eventually(t, 60*time.Second, func() error {
			tr.open(base + "/#/dead-letters/product-view")
			return tr.poll(fmt.Sprintf(`document.querySelectorAll(%q).length === 1`, planted), 5*time.Second)
		})
		tr.click(planted+" input.pick", "#redrive-selected")
		tr.wait(`document.querySelector("#redrive-result").textContent.startsWith("Re-drove 1:")`)
		tr.shot("dead-letters")
		if a := call(t, "GET", base+"/v1/products/"+pid+"?minVersion=1&wait=30", ""); a.status != 200 {
			t.Errorf("the re-driven product's view: %d %v", a.status, a.body)
		}
	})
}

// watchConsole records the page's errors: exceptions, console.error and
// error entries of the browser log (a CSP violation, a missing file). A
// failed fetch of the API is the page's to handle, not an error of it.
func (tr *tour) watchConsole() {
	msgs := chromedp.Console(tr.ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && !m.IsException() {
				continue
			}
			if m.Source == "network" && (strings.Contains(m.URL, "/v1/") || strings.HasSuffix(m.URL, "/metrics")) {
				continue
			}
			tr.mu.Lock()
			tr.problems = append(tr.problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
			tr.mu.Unlock()
		}
	}()
}

func (tr *tour) step(name string, f func()) {
	tr.t.Helper()
	tr.t.Logf("console tour: %s", name)
	f()
}

// open loads url afresh: navigating to the URL the page is at already
// would be a fragment navigation, which reloads nothing.
func (tr *tour) open(url string) {
	tr.t.Helper()
	tr.do(chromedp.Navigate(url), chromedp.Reload())
}

func (tr *tour) do(actions ...chromedp.Action[chromedp.Void]) {
	tr.t.Helper()
	if err := chromedp.Do(tr.ctx, actions...); err != nil {
		tr.fail(err)
	}
}

// click clicks the elements of the CSS selectors, in order, in one
// script run once they all exist. The console re-renders its pages (the
// projections page every 2 s, a search when its answer comes), so a node
// that chromedp's Click found may be gone when it clicks: "Could not find
// node with given id". A script finds and clicks in one go.
func (tr *tour) click(sels ...string) {
	tr.t.Helper()
	tr.wait(script("", "", sels...))
}

// submit sets the value of the input of field and clicks button, in one
// script, as click does.
func (tr *tour) submit(field, value, button string) {
	tr.t.Helper()
	tr.wait(script(field, value, button))
}

// script is the script that waits until field (unless "") and every
// selector of clicks find an element, then sets field's value and clicks,
// in one go: true once done.
func script(field, value string, clicks ...string) string {
	args, err := json.Marshal(struct {
		Field  string   `json:"field"`
		Value  string   `json:"value"`
		Clicks []string `json:"clicks"`
	}{field, value, clicks})
	if err != nil {
		panic(err) // strings always marshal
	}
	return fmt.Sprintf(`(a => {
		const input = a.field && document.querySelector(a.field);
		const buttons = a.clicks.map(s => document.querySelector(s));
		if ((a.field && !input) || buttons.some(e => !e)) return false;
		if (input) input.value = a.value;
		buttons.forEach(e => e.click());
		return true;
	})(%s)`, args)
}

// poll waits up to d for the JavaScript condition; an error when it does
// not hold by then.
// A poll that began while the page was being replaced (a reload just
// after a navigation) loses its execution context; it is begun again.
func (tr *tour) poll(cond string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		_, err := chromedp.Run(tr.ctx, chromedp.Poll[bool](cond, chromedp.WithPollingTimeout(time.Until(deadline)), chromedp.WithPollingInterval(100*time.Millisecond)))
		if err == nil {
			return nil
		}
		if !contextLost(err) || time.Now().After(deadline) {
			return fmt.Errorf("%s: %w", cond, err)
		}
	}
}

// contextLost reports the errors of a script whose page went away under it.
func contextLost(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Cannot find context with specified id") || strings.Contains(msg, "Execution context was destroyed")
}

func (tr *tour) wait(cond string) { tr.t.Helper(); tr.waitFor(cond, 60*time.Second) }

func (tr *tour) waitFor(cond string, d time.Duration) {
	tr.t.Helper()
	if err := tr.poll(cond, d); err != nil {
		tr.fail(err)
	}
}

// fail ends the test with the error and a screenshot of the page.
func (tr *tour) fail(err error) {
	tr.t.Helper()
	tr.shot("failure")
	text, _ := chromedp.Run(tr.ctx, chromedp.Evaluate[string](`document.querySelector("main")?.innerText.slice(0, 2000) || ""`))
	tr.t.Fatalf("%v\npage (%s):\n%s", err, filepath.Join(tr.shots, tr.prefix+"failure.png"), text)
}

// shot saves a screenshot of the whole page as <prefix><name>.png.
func (tr *tour) shot(name string) {
	tr.t.Helper()
	// What a page shows never has the marks of a rendering slip.
	if bad, err := chromedp.Run(tr.ctx, chromedp.Evaluate[string](`(document.querySelector("main")?.innerText.match(/\bnull\b|\bundefined\b|\bNaN\b|\[object \w+\]/) || [""])[0]`)); err == nil && bad != "" && name != "failure" {
		tr.t.Errorf("page %s shows %q", name, bad)
	}
	png, err := chromedp.Run(tr.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tr.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(tr.shots, tr.prefix+name+".png"), png, 0o644); err != nil {
		tr.t.Errorf("screenshot %s: %v", name, err)
	}
}
