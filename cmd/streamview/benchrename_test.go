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
			for _, want := range []string{"streamview bench rename:", "CategoryRenamed", "-products"} {
				if !strings.Contains(errOut.String(), want) {
					t.Errorf("the usage on stderr lacks %q:\n%s", want, errOut.String())
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
