package main

import (
	"context"
	"fmt"

	"github.com/streamview/streamview/bench"
)

const benchRenameHelp = `streamview bench rename: how long a category rename takes to reach every
view and every search document.

On the real servers, on a topic, consumer groups, Redis keys and an index
of its own (bench-<random>.*, removed at the end, also when interrupted):

  1. produces --products ProductCreated events in one category, their
     commands naming it Oldcategoryname (20 brands, 6 partitions), and a
     CategoryRenamed v1 (Firstcategoryname), keyed category:<id> as the
     decider writes it;
  2. runs the product-view projection (Redis) and the product-search
     projection (Elasticsearch) in processors runtimes as streamview serve
     wires them (their batch sizes, category and brand events included)
     until both have committed every record, and checks, untimed, that
     every view and document shows Firstcategoryname;
  3. produces CategoryRenamed v2 (Renamedcategoryname) and times, from just
     before producing it:
       views:  each runtime's commit of the rename; the first view read
               through productview.Reader (what GET /v1/products/{id}
               calls; the view joins the name when read) showing the new
               name; every view read showing it (16 reads at once, the
               views not yet seen with it read again until none is left);
       search: the commit of the rename (the fan-out done); a search for
               the new name (polled every 10 ms) finding all --products
               with the category facet labelled so; then every document
               read (_mget) showing the new name;
     both read models are measured at once, as clients would read them:
     on a small machine the view reads and the fan-out share its cores;
  4. raw sides: one read of every view through the Reader (a view's side
     of a rename is one write, the reference record, so its cost beyond
     that is reading), and a bare esutil.BulkIndexer writing the same
     documents renamed once more plus a refresh (no reads, no version
     checks: the floor of any fan-out on this server).

It prints progress lines, then the table: each time and, where it covers
every product, its rate. With --json the table goes to stderr and the
report, as JSON, to stdout (durations in nanoseconds).

Examples:
  streamview bench rename
  streamview bench rename --products 1000 --json
`

func runBenchRename(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "bench rename")
	fs.Usage = func() { fmt.Fprint(fs.Output(), benchRenameHelp+"\nFlags:\n"); fs.PrintDefaults() }
	var servers benchFlags
	servers.register(fs, e)
	products := fs.Int("products", bench.DefaultRenameProducts, "products in the renamed category")
	asJSON := fs.Bool("json", false, "print the report as JSON on stdout (progress and table go to stderr)")
	logLevel := fs.String("log-level", "warn", "the projection runtimes' log level on stderr: debug, info, warn or error")
	logFormat := logFormatFlag(fs, e)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *products <= 0 {
		return fmt.Errorf("streamview bench rename: --products %d: must be positive", *products)
	}
	logger, err := newLogger(e.stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	srv, err := servers.oneRedis("bench rename", "the benchmark reads views from one Redis server")
	if err != nil {
		return err
	}
	cfg := bench.RenameConfig{Servers: srv, Products: *products, Out: e.stdout, Logger: logger}
	if *asJSON {
		cfg.Out = e.stderr
	}
	rep, err := bench.Rename(ctx, cfg)
	if err != nil {
		return err
	}
	if !*asJSON {
		return nil
	}
	return writeJSON(e.stdout, rep)
}
