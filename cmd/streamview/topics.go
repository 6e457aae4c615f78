package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"

	streamview "github.com/streamview/streamview"
	"github.com/streamview/streamview/topics"
)

func init() {
	commands["topics"] = command{
		summary: "create and align Kafka topics from topics.yaml (topics apply [--dry-run])",
		usage:   "apply [--dry-run] [--file topics.yaml] [--overlay topics.cluster.yaml] [--brokers host:port]",
		help: `Brings the cluster in line with topics.yaml: creates missing topics with
their partitions, replication and configs, and sets configs that differ.
It refuses, changing nothing, to change the partition count of a keyed topic
(keys would move to other partitions and lose their order) and checks that
co-partitioned topics have equal counts. A second run reports no changes.
Without --file and without a topics.yaml here, it applies the one built
into the binary (the repository's, which dev applies too).

--overlay adapts the file to an environment: topics.cluster.yaml, for a
cluster of three or more brokers, sets replication 3 and
min.insync.replicas 2 on every topic (env STREAMVIEW_TOPICS_OVERLAY).`,
		run: runTopics,
	}
}

func runTopics(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "topics apply") // its only subcommand
	var k kafkaFlags
	k.register(fs, e)
	file := fs.String("file", "topics.yaml", "the topics file")
	dry := fs.Bool("dry-run", false, "print what would change and change nothing")
	overlay := fs.String("overlay", e.or("STREAMVIEW_TOPICS_OVERLAY", ""), "an overlay of the topics file for this environment, e.g. topics.cluster.yaml (env STREAMVIEW_TOPICS_OVERLAY)")
	switch {
	case len(args) == 0:
		return usageError(e.stderr, "topics", "name the subcommand: apply (topics apply [--dry-run])")
	case args[0] == "-h" || args[0] == "--help":
		showHelp(fs)
		return flag.ErrHelp
	case args[0] != "apply":
		return usageError(e.stderr, "topics", "unknown subcommand %q (want apply)", args[0])
	}
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	spec, err := loadTopics(fs, *file, e.stderr)
	if err != nil {
		return err
	}
	if *overlay != "" {
		o, err := topics.LoadOverlay(*overlay)
		if err != nil {
			return err
		}
		if spec, err = spec.With(o); err != nil {
			return fmt.Errorf("topics: %s over %s: %w", *overlay, spec.File, err)
		}
	}
	adm, closeFn, err := k.admin(ctx)
	if err != nil {
		return err
	}
	defer closeFn()
	if _, err := topics.Apply(ctx, adm, spec, *dry, e.stdout); err != nil {
		return fmt.Errorf("%w", err)
	}
	return nil
}

// loadTopics reads the topics file; the default one, when it is not here,
// is the copy built into the binary.
func loadTopics(flags *flag.FlagSet, file string, w io.Writer) (topics.Spec, error) {
	given := false
	flags.Visit(func(f *flag.Flag) { given = given || f.Name == "file" })
	if _, err := os.Stat(file); !given && errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(w, "no %s here: applying the one built into streamview\n", file)
		s, err := topics.Parse(streamview.TopicsYAML)
		s.File = "the topics.yaml built into streamview" // for what apply refuses
		return s, err
	}
	return topics.Load(file)
}
