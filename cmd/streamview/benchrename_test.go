package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestBenchRenameUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want error
	}{
		{"help", []string{"bench", "rename", "--help"}, flag.ErrHelp},
		{"bad flag", []string{"bench", "rename", "--products", "many"}, errUsage},
		{"stray argument", []string{"bench", "rename", "now"}, errUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tc.args, strings.NewReader(""), &out, &errOut)
			if !errors.Is(err, tc.want) {
				t.Fatalf("run(%q) = %v, want %v", tc.args, err, tc.want)
			}
			// The whole help for --help (stdout); for a misuse, the error
			// and where the help is (stderr).
			got, wants := out.String(), []string{"streamview bench rename", "CategoryRenamed", "-products"}
			switch tc.name {
			case "bad flag":
				got, wants = errOut.String(), []string{"streamview bench rename:", "-products", "'streamview bench rename --help'"}
			case "stray argument":
				got, wants = errOut.String(), []string{`streamview bench rename: unexpected argument "now"`, "'streamview bench rename --help'"}
			}
			for _, want := range wants {
				if !strings.Contains(got, want) {
					t.Errorf("the output lacks %q:\n%s", want, got)
				}
			}
		})
	}
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "rename", "--products", "0"}, strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--products 0: must be positive") {
		t.Errorf("--products 0 = %v, want a flag error", err)
	}
}
