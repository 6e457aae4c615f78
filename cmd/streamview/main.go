package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/streamview/streamview/internal/memory"
)

func main() {
	memory.Tune(os.Getenv, os.DirFS("/")) // GOGC=400 and a soft limit under the container's, unless GOGC/GOMEMLIMIT are set
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "streamview:", err)
		os.Exit(1)
	}
}

// errUsage marks an error already explained to the user with usage text.
var errUsage = errors.New("usage")

// command is one subcommand.
type command struct {
	summary string
	usage   string // the arguments after the command's name
	help    string // what it does, in a few lines
	run     func(ctx context.Context, e env, args []string) error
}

// env is what a command reads and writes besides its arguments.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

var commands = map[string]command{}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runEnv(ctx, args, env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv})
}

// runEnv is run with the environment e (tests give their own).
func runEnv(ctx context.Context, args []string, e env) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				printCommandHelp(e.stdout, args[1], c)
				return nil
			}
		}
		printHelp(e.stdout)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "streamview: unknown command %q\n\n", args[0])
		printHelp(e.stderr)
		return errUsage
	}
	return c.run(ctx, e, args[1:])
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `streamview: an event-driven CQRS pipeline on Kafka. Commands become Avro
domain events on partitioned topics; consumer-group projections turn them
into Redis product views and an Elasticsearch search index.

Usage: streamview <command> [flags] [arguments]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
Run 'streamview help <command>' or 'streamview <command> --help' for details.

Configuration: flags, environment variables and an optional YAML file
(--config file.yaml or STREAMVIEW_CONFIG; keys are flag names, see
streamview.example.yaml). Precedence: flags > environment > file > defaults.

Environment (flags win over it):
  KAFKA_BROKERS        seed brokers, comma separated (default 127.0.0.1:9092)
  REDIS_ADDR           Redis address (default 127.0.0.1:6379)
  ELASTICSEARCH_URL    Elasticsearch URL (default http://127.0.0.1:9200)
  SCHEMA_REGISTRY_URL  Confluent-compatible schema registry (serve, dev, publish,
                       dlq): events get Confluent framing, schemas registered;
                       without it Avro single-object encoding. Both are read.
  STREAMVIEW_JWT_SECRET, STREAMVIEW_JWT_SECRET_FILE, STREAMVIEW_JWKS
                       turn API authentication on (see 'streamview help token')
`)
	fmt.Fprint(w, connectionHelp)
}

func printCommandHelp(w io.Writer, name string, c command) {
	fmt.Fprintf(w, "Usage: streamview %s %s\n\n%s\n", name, c.usage, strings.TrimSpace(c.help))
}

// newFlags returns a flag set for command name whose -h prints its help.
func newFlags(e env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		c := commands[name]
		printCommandHelp(e.stderr, name, c)
		fmt.Fprintln(e.stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	registerConfig(fs, e, name)
	return fs
}

// parse parses args, turning a parse failure into errUsage (already
// reported by the flag package).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return applyConfigFile(fs)
}

// envOr returns the environment variable key, or def when it is empty.
func (e env) or(key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return def
}
