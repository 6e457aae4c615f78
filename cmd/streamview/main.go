package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"
	"time"

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

// errUsage marks a misuse already explained to the user (exit status 2).
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
			switch args[1] {
			case "version": // 'streamview help' names it beside the commands
				fmt.Fprintln(e.stdout, "Usage: streamview version (or --version)\n\nPrints the build: the module's version or the commit it was built from, and Go's version.")
				return nil
			case "help", "-h", "--help":
				printHelp(e.stdout)
				return nil
			}
			c, ok := commands[args[1]]
			if !ok {
				fmt.Fprintf(e.stderr, "streamview: no command %q; 'streamview help' lists them\n", args[1])
				return errUsage
			}
			// The same text as '<command> [subcommand] --help', flags included.
			if err := c.run(ctx, e, append(args[2:], "--help")); err != nil && !errors.Is(err, flag.ErrHelp) {
				return err
			}
			return nil
		}
		printHelp(e.stdout)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	if args[0] == "version" || args[0] == "--version" || args[0] == "-version" {
		fmt.Fprintln(e.stdout, versionLine())
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

// versionLine names the build: the module's version (a tagged install) or
// the commit it was built from, with Go's version.
func versionLine() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "streamview (no build information)"
	}
	v := bi.Main.Version
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", with uncommitted changes"
			}
		}
	}
	if rev != "" {
		v += fmt.Sprintf(" (commit %.12s of %s%s)", rev, at, dirty)
	}
	return fmt.Sprintf("streamview %s, %s", v, bi.GoVersion)
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
Run 'streamview help <command>' or 'streamview <command> --help' for details;
'streamview version' (or --version) prints the build.

Configuration: flags, environment variables and an optional YAML file
(--config file.yaml or STREAMVIEW_CONFIG; keys are flag names, see
streamview.example.yaml). Precedence: flags > environment > file > defaults.

Environment (flags win over it):
  KAFKA_BROKERS        seed brokers, comma separated (default 127.0.0.1:9092)
  REDIS_ADDR           Redis address (default 127.0.0.1:6379)
  ELASTICSEARCH_URL    Elasticsearch URL (default http://127.0.0.1:9200)
  SCHEMA_REGISTRY_URL  Confluent-compatible schema registry: serve, dev and
                       publish write Confluent framing and register the
                       schemas; notify, dlq, replay, rebuild and projections
                       look them up by ID. Without it Avro single-object
                       encoding. Both are read.
  STREAMVIEW_JWT_SECRET, STREAMVIEW_JWT_SECRET_FILE, STREAMVIEW_JWKS
                       turn API authentication on (see 'streamview help token')
`)
	fmt.Fprint(w, connectionHelp)
}

func printCommandHelp(w io.Writer, name string, c command) {
	fmt.Fprintf(w, "Usage: streamview %s %s\n\n%s\n", name, c.usage, strings.TrimSpace(c.help))
}

// newFlags returns a flag set for command name ("serve", or a subcommand:
// "dlq list"). Its Usage writes the command's whole help, flags included,
// to the set's output (stderr); parse prints it on stdout for -h and
// --help, and only the error and a pointer to --help for a flag it cannot
// read. A subcommand has its command's help text and config file section.
func newFlags(e env, name string) *flag.FlagSet {
	cmd, _, _ := strings.Cut(name, " ")
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		printCommandHelp(fs.Output(), cmd, commands[cmd])
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	registerConfig(fs, e, cmd)
	return fs
}

// parse parses args, which must be flags only. -h and --help print the
// help on stdout and return flag.ErrHelp; a flag it cannot read, or an
// argument that is not a flag (`serve --roles api decider`, whose decider
// would be dropped unseen), is reported in two lines on stderr (what is
// wrong, where the help is) and returns errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := parseWithArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(fs.Output(), fs.Name(), "unexpected argument %q: it takes flags only (a list is one comma-separated value)", fs.Arg(0))
	}
	return nil
}

// parseWithArgs is parse for a command that takes arguments after its
// flags (fs.Args()).
func parseWithArgs(fs *flag.FlagSet, args []string) error {
	errOut, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard) // the flag package's own report: said below instead
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(errOut)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		showHelp(fs)
		return err
	case err != nil:
		return usageError(errOut, fs.Name(), "%s", flagError(fs, err))
	}
	return applyConfigFile(fs)
}

// usageError reports a misuse of command name (a subcommand: "topics
// apply") on w in two lines, what is wrong and where the help is, and
// returns errUsage.
func usageError(w io.Writer, name, format string, args ...any) error {
	fmt.Fprintf(w, "streamview %s: %s\nRun 'streamview %s --help' for its flags.\n", name, fmt.Sprintf(format, args...), name)
	return errUsage
}

// showHelp writes fs's help on its command's stdout (the env that
// newFlags gave its --config flag).
func showHelp(fs *flag.FlagSet) {
	if f := fs.Lookup("config"); f != nil {
		if cv, ok := f.Value.(*configValue); ok {
			errOut := fs.Output()
			fs.SetOutput(cv.e.stdout)
			defer fs.SetOutput(errOut)
		}
	}
	fs.Usage()
}

// flagError is a flag package error with what the flag wants said: its
// "invalid value "abc" for flag -ttl: parse error" does not.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	_, rest, ok := strings.Cut(msg, " for flag -")
	if !ok {
		_, rest, ok = strings.Cut(msg, " for -") // a bool's: "invalid boolean value "x" for -json: ..."
	}
	if !ok {
		return msg
	}
	name, _, _ := strings.Cut(rest, ":")
	if f := fs.Lookup(name); f != nil {
		if want := flagWants(f.Value); want != "" {
			return msg + " (want " + want + ")"
		}
	}
	return msg
}

// flagWants names what a flag of v's type takes, for an error.
func flagWants(v flag.Value) string {
	g, ok := v.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case time.Duration:
		return "a duration such as 500ms, 30s, 5m or 1h"
	case int, int64:
		return "a whole number"
	case uint, uint64:
		return "a whole number, 0 or more"
	case float64:
		return "a number"
	case bool:
		return "true or false"
	}
	return ""
}

// envOr returns the environment variable key, or def when it is empty.
func (e env) or(key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return def
}
