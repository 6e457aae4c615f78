package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/streamview/streamview/internal/testenv"
)

// The repository's own topics.yaml applies on the real broker, and a second
// run changes nothing.
func TestTopicsApplyRepositoryFile(t *testing.T) {
	brokers := strings.Join(testenv.Kafka(t), ",")
	var out, errOut bytes.Buffer
	args := []string{"topics", "apply", "--brokers", brokers, "--file", "../../topics.yaml"}
	if err := run(context.Background(), args, nil, &out, &errOut); err != nil {
		t.Fatalf("first apply: %v\n%s%s", err, &out, &errOut)
	}
	out.Reset()
	if err := run(context.Background(), args, nil, &out, &errOut); err != nil {
		t.Fatalf("second apply: %v\n%s%s", err, &out, &errOut)
	}
	if !strings.Contains(out.String(), "no changes") {
		t.Fatalf("second apply changed something:\n%s", &out)
	}
}

func TestHelpExplainsEveryCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"help"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	for name, c := range commands {
		if !strings.Contains(out.String(), name) {
			t.Errorf("help lacks %s", name)
		}
		if strings.TrimSpace(c.help) == "" || c.summary == "" {
			t.Errorf("command %s has no help text", name)
		}
		var h bytes.Buffer
		if err := run(context.Background(), []string{"help", name}, nil, &h, &h); err != nil || !strings.Contains(h.String(), "Usage: streamview "+name) {
			t.Errorf("help %s: %v %q", name, err, h.String())
		}
	}
}
