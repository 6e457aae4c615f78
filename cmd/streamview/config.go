package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The configuration file (--config, or STREAMVIEW_CONFIG): YAML whose keys
// are flag names, so every flag of every command can be set there with
// nothing to add when a flag is added. Precedence, highest first:
//
//	flags on the command line > environment > the file > the defaults.
//
// Top-level keys apply to every command that has a flag of that name (and
// are ignored by one that has not, so that one file serves serve, dev,
// token...); keys under a command's name (`serve:`) apply to that command
// only, and win over the top level; there a key that is not one of its
// flags gets a warning, so put a key there to have a typo shown.
//
// A flag's environment variable is the one its usage names as
// "(env NAME)": the file does not set a flag whose variable is set.

// envConfig names the file when --config is not given.
const envConfig = "STREAMVIEW_CONFIG"

// configValue is the value of --config; it keeps the command's env so that
// parse can apply the file.
type configValue struct {
	path string
	e    env
	cmd  string
}

func (c *configValue) String() string {
	if c == nil {
		return ""
	}
	return c.path
}

func (c *configValue) Set(s string) error { c.path = s; return nil }

const configUsage = "YAML `file` of flag values, keys = flag names, optionally under a section named after the command; precedence: flags > environment > file > defaults (env " + envConfig + "; example: streamview.example.yaml)"

// registerConfig adds --config to fs, the flag set of command name.
func registerConfig(fs *flag.FlagSet, e env, name string) {
	fs.Var(&configValue{e: e, cmd: name}, "config", configUsage)
}

// envOfUsage finds the "(env NAME)" of a flag's usage.
var envOfUsage = regexp.MustCompile(`\benv ([A-Z][A-Z0-9_]*)\b`)

// flagEnv returns the environment variable that f documents, if any.
func flagEnv(f *flag.Flag) string {
	if m := envOfUsage.FindStringSubmatch(f.Usage); m != nil {
		return m[1]
	}
	return ""
}

// applyConfigFile sets, from the file that --config or STREAMVIEW_CONFIG
// names, every flag of fs that neither the command line nor its
// environment variable set.
func applyConfigFile(fs *flag.FlagSet) error {
	cf := fs.Lookup("config")
	if cf == nil {
		return nil
	}
	cv, ok := cf.Value.(*configValue)
	if !ok {
		return nil
	}
	path := cv.path
	if path == "" {
		path = cv.e.getenv(envConfig)
	}
	if path == "" {
		return nil
	}
	values, err := readConfigFile(path, cv.cmd)
	if err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	sort.Strings(names)
	var errs []error
	for _, name := range names {
		v := values[name]
		f := fs.Lookup(name)
		switch {
		case f == nil && v.section:
			// A warning, not an error: subcommands (dlq list, dlq show)
			// share their command's section.
			fmt.Fprintf(cv.e.stderr, "streamview: config file %s: %s.%s is not a flag of this command; ignored (see streamview %s --help)\n", path, cv.cmd, name, cv.cmd)
			continue
		case f == nil, name == "config", given[name]:
			continue
		case !v.section && sectionOnly[cv.cmd][name]:
			continue // another command's meaning of the name
		}
		if ev := flagEnv(f); ev != "" && cv.e.getenv(ev) != "" {
			continue // the environment wins over the file
		}
		if err := fs.Set(name, v.text); err != nil {
			errs = append(errs, fmt.Errorf("config file %s: %s: %w", path, name, err))
		}
	}
	return errors.Join(errs...)
}

// sectionOnly are, by command, the flags a config file sets only under
// the command's own section: their top-level keys mean something else. The
// top-level redis and elasticsearch are the servers of serve and the other
// commands; in dev, --redis, --elasticsearch and --kafka swap an embedded
// part for a real server, which a file shared with serve must not do by
// the way.
var sectionOnly = map[string]map[string]bool{
	"dev": {"kafka": true, "redis": true, "elasticsearch": true},
}

// configEntry is one flag value of the file.
type configEntry struct {
	text    string
	section bool // under the command's own section
}

// readConfigFile returns the flag values of the file for command cmd: the
// top level's, overridden by those of the cmd section.
func readConfigFile(path, cmd string) (map[string]configEntry, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	out := map[string]configEntry{}
	var errs []error
	put := func(key string, v any, section bool) {
		s, err := configText(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("config file %s: %s: %w", path, key, err))
			return
		}
		out[key] = configEntry{text: s, section: section}
	}
	for k, v := range doc {
		if _, isCommand := commands[k]; isCommand {
			continue
		}
		put(k, v, false)
	}
	if sec, ok := doc[cmd]; ok && sec != nil {
		m, ok := sec.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("config file %s: %s: want a mapping of flag names to values", path, cmd)
		}
		for k, v := range m {
			put(k, v, true)
		}
	}
	return out, errors.Join(errs...)
}

// configText is a YAML value as a flag's text: scalars as written, a list
// of scalars comma-separated (brokers, roles, projections).
func configText(v any) (string, error) {
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			s, err := configText(e)
			if err != nil || strings.Contains(s, ",") {
				return "", errors.New("want a list of plain values")
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	case nil:
		return "", errors.New("has no value; leave the key out for the default")
	}
	return "", fmt.Errorf("want a string, number, boolean or list, not %T", v)
}
