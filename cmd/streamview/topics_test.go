package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

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

// Without --file and without a topics.yaml in the working folder, topics
// apply uses the copy built into the binary; a --file that is missing is
// an error.
// topics apply on a new cluster creates the topics and is done within a
// second or so. (It took 5 s: its client answered the list of the topics
// it had just created from the list before, for kgo's default metadata
// age.)
func TestTopicsApplyOnANewClusterIsQuick(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	var out bytes.Buffer
	start := time.Now()
	if err := run(context.Background(), []string{"topics", "apply", "--brokers", strings.Join(cluster.ListenAddrs(), ",")}, nil, &out, &out); err != nil {
		t.Fatalf("topics apply: %v\n%s", err, &out)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("topics apply on a new cluster took %v, want under 3 s:\n%s", took, &out)
	}
}

func TestTopicsFileDefaultsToTheBuiltInOne(t *testing.T) {
	t.Chdir(t.TempDir())
	fs := flag.NewFlagSet("topics apply", flag.ContinueOnError)
	file := fs.String("file", "topics.yaml", "")
	var note bytes.Buffer
	spec, err := loadTopics(fs, *file, &note)
	if err != nil || len(spec.Topics) == 0 || !strings.Contains(note.String(), "built into streamview") {
		t.Fatalf("loadTopics = %d topics, %v; note %q", len(spec.Topics), err, note.String())
	}
	if !strings.Contains(spec.File, "built into streamview") {
		t.Errorf("spec.File = %q: what apply refuses would name a topics.yaml that is not here", spec.File)
	}
	if err := fs.Parse([]string{"--file", "topics.yaml"}); err != nil {
		t.Fatal(err)
	}
	if _, err := loadTopics(fs, *file, &note); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a given --file that is missing: %v, want not exist", err)
	}
}
