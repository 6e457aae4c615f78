package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestConfigPrecedence: flags > environment > file (command section >
// top level) > defaults, over a flag set like a command's.
func TestConfigPrecedence(t *testing.T) {
	file := func(t *testing.T, text string) string {
		p := filepath.Join(t.TempDir(), "streamview.yaml")
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const doc = `
brokers: [file-1:9092, file-2:9092]
addr: 127.0.0.1:7000
rate-limit: 5
public-reads: true
serve:
  addr: 127.0.0.1:7100
dev:
  addr: 127.0.0.1:7200
`
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		file    string // "" for no file
		brokers string
		addr    string
		rate    float64
		public  bool
	}{
		{"defaults", nil, nil, "", "127.0.0.1:9092", "127.0.0.1:8080", 0, false},
		{"file: top level, and the command's section over it", nil, nil, doc, "file-1:9092,file-2:9092", "127.0.0.1:7100", 5, true},
		{"environment over the file", nil, map[string]string{"KAFKA_BROKERS": "env:9092", envRateLimit: "7"}, doc, "env:9092", "127.0.0.1:7100", 7, true},
		{"flags over the environment and the file", []string{"--brokers", "flag:9092", "--addr", "127.0.0.1:7300", "--rate-limit", "9"},
			map[string]string{"KAFKA_BROKERS": "env:9092", "STREAMVIEW_ADDR": "127.0.0.1:7400"}, doc, "flag:9092", "127.0.0.1:7300", 9, true},
		{"environment without a file", nil, map[string]string{"STREAMVIEW_ADDR": "127.0.0.1:7400"}, "", "127.0.0.1:9092", "127.0.0.1:7400", 0, false},
		{"STREAMVIEW_CONFIG names the file", nil, map[string]string{envConfig: "<file>"}, doc, "file-1:9092,file-2:9092", "127.0.0.1:7100", 5, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{}
			for k, v := range tt.env {
				vars[k] = v
			}
			args := tt.args
			if tt.file != "" {
				p := file(t, tt.file)
				if vars[envConfig] == "<file>" {
					vars[envConfig] = p
				} else {
					args = append([]string{"--config", p}, args...)
				}
			}
			var errOut bytes.Buffer
			var f serveFlags
			fs := f.register(envOf(vars, &errOut, &errOut), "serve")
			if err := parse(fs, args); err != nil {
				t.Fatalf("parse: %v\n%s", err, &errOut)
			}
			if f.kafka.brokers != tt.brokers || f.addr != tt.addr || f.access.rateLimit != tt.rate || f.access.publicReads != tt.public {
				t.Errorf("brokers %q, addr %q, rate %v, public %v; want %q, %q, %v, %v",
					f.kafka.brokers, f.addr, f.access.rateLimit, f.access.publicReads, tt.brokers, tt.addr, tt.rate, tt.public)
			}
		})
	}
}

func TestConfigFileErrors(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"not YAML", "brokers: [", "config file"},
		{"bad value", "rate-limit: fast", "rate-limit"},
		{"a mapping for a flag", "addr: {host: x}", "addr"},
		{"duplicated key", "addr: a\naddr: b", "already defined"},
		{"section not a mapping", "serve: 3", "want a mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			os.WriteFile(p, []byte(tt.doc), 0o600)
			var out bytes.Buffer
			var f serveFlags
			fs := f.register(envOf(nil, &out, &out), "serve")
			err := parse(fs, []string{"--config", p})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parse: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		var f serveFlags
		fs := f.register(envOf(nil, &bytes.Buffer{}, &bytes.Buffer{}), "serve")
		if err := parse(fs, []string{"--config", "/nonexistent.yaml"}); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("parse: %v, want not exist", err)
		}
	})
	t.Run("unknown key in the command's section warns", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "c.yaml")
		os.WriteFile(p, []byte("serve:\n  adr: x\nnot-a-flag-of-serve: 1\n"), 0o600)
		var out bytes.Buffer
		var f serveFlags
		fs := f.register(envOf(nil, &out, &out), "serve")
		if err := parse(fs, []string{"--config", p}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "serve.adr") || strings.Contains(out.String(), "not-a-flag-of-serve") {
			t.Errorf("warnings %q: want one for serve.adr only (top-level keys serve every command)", out.String())
		}
	})
}

// TestConfigCoversEveryFlag: the file reaches any flag a command defines,
// including one added later, with no list to keep.
func TestConfigCoversEveryFlag(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("some-new-flag: 42s\nserve:\n  delivery-timeout: 3s\n"), 0o600)
	e := envOf(nil, &bytes.Buffer{}, &bytes.Buffer{})
	var f serveFlags
	fs := f.register(e, "serve")
	d := fs.Duration("some-new-flag", time.Second, "a flag another change adds (env STREAMVIEW_SOME_NEW_FLAG)")
	if err := parse(fs, []string{"--config", p}); err != nil {
		t.Fatal(err)
	}
	if *d != 42*time.Second {
		t.Errorf("some-new-flag = %v, want 42s from the file", *d)
	}
	got, err := deliveryTimeout(fs, e, f.delivery)
	if err != nil || got != 3*time.Second {
		t.Errorf("delivery timeout %v, %v; want 3s from the file", got, err)
	}
	// Its environment variable, named in its usage, still wins.
	e = envOf(map[string]string{"STREAMVIEW_SOME_NEW_FLAG": "1m"}, &bytes.Buffer{}, &bytes.Buffer{})
	var f2 serveFlags
	fs = f2.register(e, "serve")
	d = fs.Duration("some-new-flag", time.Second, "a flag another change adds (env STREAMVIEW_SOME_NEW_FLAG)")
	if err := parse(fs, []string{"--config", p}); err != nil {
		t.Fatal(err)
	}
	if *d == 42*time.Second {
		t.Error("the file won over the flag's environment variable")
	}
}

// TestFlagsNameTheirEnvironment: every flag whose usage mentions an
// environment variable names it as "(env NAME", which the file loader reads.
func TestFlagsNameTheirEnvironment(t *testing.T) {
	for name := range commands {
		var out bytes.Buffer
		_ = runEnv(t.Context(), []string{name, "--help"}, envOf(nil, &out, &out))
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, "(env") && !envOfUsage.MatchString(line) {
				t.Errorf("%s: %q mentions env but not as \"env NAME\"", name, line)
			}
		}
	}
	var f flag.Flag
	f.Usage = "x (env FOO_BAR; or ...)"
	if flagEnv(&f) != "FOO_BAR" {
		t.Errorf("flagEnv = %q", flagEnv(&f))
	}
}

// TestExampleConfigFile: every key of streamview.example.yaml is a flag of
// the command whose section holds it (or, at the top level, of serve, dev
// or token), and the file applies without an error.
func TestExampleConfigFile(t *testing.T) {
	const path = "../../streamview.example.yaml"
	dir := t.TempDir()
	for _, name := range []string{"jwt-secret", "cursor-secret"} {
		os.WriteFile(filepath.Join(dir, name), []byte(strings.Repeat("s", 40)), 0o600)
	}
	known := map[string]bool{}
	for _, cmd := range []string{"serve", "dev", "token"} {
		var out bytes.Buffer
		_ = runEnv(t.Context(), []string{cmd, "--config", path, "--help"}, envOf(nil, &out, &out))
		for _, line := range strings.Split(out.String(), "\n") {
			if name, ok := strings.CutPrefix(strings.TrimSpace(line), "-"); ok {
				name, _, _ = strings.Cut(name, " ")
				known[name] = true
			}
		}
		values, err := readConfigFile(path, cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		if strings.Contains(out.String(), "not a flag") {
			t.Errorf("%s: warnings: %s", cmd, &out)
		}
		for k, v := range values {
			if v.section && !known[k] {
				t.Errorf("%s.%s is not a flag of %s", cmd, k, cmd)
			}
		}
	}
	values, _ := readConfigFile(path, "none")
	for k := range values {
		if !known[k] {
			t.Errorf("top-level key %s is not a flag of serve, dev or token", k)
		}
	}
	// It parses into serve's flags (with the secrets' files present).
	text, _ := os.ReadFile(path)
	p := filepath.Join(dir, "c.yaml")
	os.WriteFile(p, []byte(strings.ReplaceAll(string(text), "/etc/streamview", dir)), 0o600)
	var f serveFlags
	var out bytes.Buffer
	fs := f.register(envOf(nil, &out, &out), "serve")
	if err := parse(fs, []string{"--config", p}); err != nil {
		t.Fatal(err)
	}
	if f.addr != "0.0.0.0:8080" || f.access.rateLimit != 50 || f.roles != "api,decider,projector" {
		t.Errorf("serve flags from the example: addr %q rate %v roles %q", f.addr, f.access.rateLimit, f.roles)
	}
	ac, err := f.access.resolve()
	if err != nil || !ac.auth.Enabled() || len(ac.cursor) == 0 {
		t.Errorf("access from the example: %+v, %v", ac, err)
	}
}

// TestConfigDevServersFromItsSectionOnly: the top-level redis and
// elasticsearch of a file shared with serve are serve's servers; in dev
// those flags swap an embedded part for a real server, so dev takes them
// only from its own section.
func TestConfigDevServersFromItsSectionOnly(t *testing.T) {
	for _, tt := range []struct {
		name, doc              string
		kafka, redis, es, addr string
	}{
		{"top level only", "redis: 10.0.0.1:6379\nelasticsearch: http://10.0.0.2:9200\nkafka: 10.0.0.3:9092\naddr: 127.0.0.1:7000\n", "", "", "", "127.0.0.1:7000"},
		{"dev's section", "redis: 10.0.0.1:6379\ndev:\n  redis: 127.0.0.1:6379\n  elasticsearch: http://127.0.0.1:9200\n  kafka: 127.0.0.1:9092\n",
			"127.0.0.1:9092", "127.0.0.1:6379", "http://127.0.0.1:9200", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "streamview.yaml")
			if err := os.WriteFile(p, []byte(tt.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			var errOut bytes.Buffer
			fs := newFlags(envOf(nil, &errOut, &errOut), "dev")
			kafka, redis, es, addr := fs.String("kafka", "", ""), fs.String("redis", "", ""), fs.String("elasticsearch", "", ""), fs.String("addr", "", "")
			if err := parse(fs, []string{"--config", p}); err != nil {
				t.Fatalf("parse: %v\n%s", err, &errOut)
			}
			if *kafka != tt.kafka || *redis != tt.redis || *es != tt.es || *addr != tt.addr {
				t.Errorf("kafka %q, redis %q, elasticsearch %q, addr %q; want %q, %q, %q, %q", *kafka, *redis, *es, *addr, tt.kafka, tt.redis, tt.es, tt.addr)
			}
		})
	}
}
