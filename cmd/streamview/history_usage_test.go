package main

import (
	"bytes"
	"errors"
	"flag"
	"regexp"
	"slices"
	"testing"
)

// TestUsageNamesTheDefaultProjections: a usage line that shows
// --projections shows its default, product-history included (serve's and
// projections' showed product-view,product-search, though both run or
// report product-history too by default).
func TestUsageNamesTheDefaultProjections(t *testing.T) {
	usage := regexp.MustCompile(`(?m)^Usage: streamview \S+ .*\[--projections (\S+)\]`)
	def := regexp.MustCompile(`(?m)^\s+-projections string\n.*\(default "([^"]*)"\)`)
	var names []string
	for name := range commands {
		names = append(names, name)
	}
	slices.Sort(names)
	checked := 0
	for _, name := range names {
		var out, errOut bytes.Buffer
		if err := runEnv(t.Context(), []string{name, "--help"}, envOf(nil, &out, &errOut)); err != nil && !errors.Is(err, flag.ErrHelp) {
			continue // a command with subcommands: its help is theirs
		}
		u := usage.FindStringSubmatch(out.String())
		if u == nil {
			continue
		}
		checked++
		d := def.FindStringSubmatch(out.String())
		if d == nil {
			t.Errorf("streamview %s --help shows --projections in its usage but no default for it:\n%s", name, &out)
			continue
		}
		if u[1] != d[1] {
			t.Errorf("streamview %s --help: usage shows --projections %s, the default is %s", name, u[1], d[1])
		}
	}
	if checked < 2 {
		t.Errorf("%d commands show --projections in their usage, want serve and projections at least", checked)
	}
}
