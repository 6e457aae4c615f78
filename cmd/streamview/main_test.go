package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"runtime"
	"strings"
	"testing"
)

// TestHelpAndMisuse: help goes to stdout and ends well; a misuse fails
// with a short report on stderr that says what is wrong and what to do,
// before anything connects to a server (every address here is unused).
func TestHelpAndMisuse(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr error    // errors.Is; nil: any error with a message (exit 1)
		stdout  []string // help, when asked for
		stderr  []string
	}{
		{"command help", []string{"token", "--help"}, flag.ErrHelp, []string{"Usage: streamview token", "-ttl duration"}, nil},
		{"help of a command is its --help", []string{"help", "token"}, nil, []string{"Usage: streamview token", "-ttl duration"}, nil},
		{"help of no command", []string{"help", "bogus"}, errUsage, nil, []string{`no command "bogus"`, "'streamview help'"}},
		{"unknown flag", []string{"token", "--bogus"}, errUsage, nil, []string{"streamview token: flag provided but not defined: -bogus", "'streamview token --help'"}},
		{"bad duration", []string{"token", "--ttl", "abc"}, errUsage, nil, []string{`invalid value "abc" for flag -ttl`, "a duration such as"}},
		{"bad number", []string{"bench", "redis", "--events", "many"}, errUsage, nil, []string{"want a whole number"}},
		{"topics without a subcommand", []string{"topics"}, errUsage, nil, []string{"name the subcommand: apply"}},
		{"topics apply with an argument", []string{"topics", "apply", "--dry-run", "extra"}, errUsage, nil, []string{`streamview topics apply: unexpected argument "extra": it takes flags only`}},
		{"a list written as two arguments", []string{"serve", "--roles", "api", "decider", "--brokers", "127.0.0.1:1"}, errUsage, nil, []string{`streamview serve: unexpected argument "decider"`, "comma-separated"}},
		{"an argument before --help", []string{"dev", "bogus", "--help"}, errUsage, nil, []string{`streamview dev: unexpected argument "bogus"`, "'streamview dev --help'"}},
		{"bench with an argument", []string{"bench", "api", "1000"}, errUsage, nil, []string{`streamview bench api: unexpected argument "1000"`}},
		{"bench without a target", []string{"bench"}, errUsage, nil, []string{"name what to measure: redis, search, api, soak or rename"}},
		{"negative bench events", []string{"bench", "redis", "--events", "-5"}, errUsage, nil, []string{"--events -5: want 0 (the default) or more"}},
		{"publish two files", []string{"publish", "--brokers", "127.0.0.1:1", "a.jsonl", "b.jsonl"}, errUsage, nil, []string{"one file at a time"}},
		{"serve on a malformed address", []string{"serve", "--addr", "notanaddr", "--brokers", "127.0.0.1:1"}, nil, nil, nil},
		{"serve on a port out of range", []string{"serve", "--addr", "127.0.0.1:99999", "--brokers", "127.0.0.1:1"}, nil, nil, nil},
		{"dlq list with a bad flag", []string{"dlq", "list", "--bogus"}, errUsage, nil, []string{"'streamview dlq list --help'"}},
		{"bench soak with a bad number", []string{"bench", "soak", "--rate", "fast"}, errUsage, nil, []string{"'streamview bench soak --help'"}},
		{"bad bool", []string{"projections", "--json=x"}, errUsage, nil, []string{"want true or false"}},
		{"help of a subcommand", []string{"help", "dlq", "list"}, nil, []string{"Usage: streamview dlq", "-reason string"}, nil},
		{"version", []string{"--version"}, nil, []string{"streamview ", runtime.Version()}, nil},
		{"serve notifier with no workers", []string{"serve", "--roles", "notifier", "--workers", "0", "--brokers", "127.0.0.1:1"}, nil, nil, nil},
		{"notify with no workers", []string{"notify", "--workers", "0", "--brokers", "127.0.0.1:1", "--redis", "127.0.0.1:1"}, nil, nil, nil},
		{"projections with a bad log level", []string{"projections", "--log-level", "bogus", "--brokers", "127.0.0.1:1"}, nil, nil, nil},
		{"help of version", []string{"help", "version"}, nil, []string{"Usage: streamview version"}, nil},
		{"help of help", []string{"help", "help"}, nil, []string{"Usage: streamview <command>"}, nil},
		{"dlq without a subcommand names the subcommands' help", []string{"dlq"}, errUsage, nil, []string{"name the subcommand", "'streamview dlq list --help'"}},
		{"replay without a projection names them all", []string{"replay", "--brokers", "127.0.0.1:1"}, errUsage, nil, []string{"--projection product-view, --projection product-search, --projection product-history or --projection notifier"}},
		{"publish with a flag after the file", []string{"publish", "a.jsonl", "--brokers", "127.0.0.1:1"}, errUsage, nil, []string{`flags go before the file: "--brokers" came after "a.jsonl"`}},
		{"serve with a transaction timeout under a second", []string{"serve", "--transaction-timeout", "500ms", "--brokers", "127.0.0.1:1"}, nil, nil, nil},
	}
	wantMsg := map[string]string{
		"serve on a malformed address":                    `--addr "notanaddr": want host:port`,
		"serve on a port out of range":                    `the port "99999" is not a port number`,
		"notify with no workers":                          "--workers 0: want 1 or more",
		"serve notifier with no workers":                  "--workers 0: want 1 or more",
		"projections with a bad log level":                `--log-level "bogus"`,
		"serve with a transaction timeout under a second": "--transaction-timeout 500ms: want at least 1s",
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			err := runEnv(ctx, tt.args, envOf(nil, &out, &errOut))
			switch {
			case tt.wantErr == nil && tt.stdout != nil: // help, exit 0
				if err != nil {
					t.Fatalf("err = %v, want none", err)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			default:
				if err == nil || errors.Is(err, errUsage) || !strings.Contains(err.Error(), wantMsg[tt.name]) {
					t.Fatalf("err = %v, want an error saying %q", err, wantMsg[tt.name])
				}
			}
			for _, w := range tt.stdout {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			if tt.stdout != nil && errOut.Len() > 0 {
				t.Errorf("help wrote to stderr:\n%s", errOut.String())
			}
			for _, w := range tt.stderr {
				if !strings.Contains(errOut.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut.String())
				}
			}
			if tt.stderr != nil && strings.Count(errOut.String(), "\n") > 3 {
				t.Errorf("a misuse printed %d lines; want the error and where the help is:\n%s", strings.Count(errOut.String(), "\n"), errOut.String())
			}
		})
	}
}
