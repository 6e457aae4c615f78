package main

import (
	"flag"
	"fmt"
	"strconv"
)

// envSnapshotEvery is the environment variable of --snapshot-every.
const envSnapshotEvery = "STREAMVIEW_SNAPSHOT_EVERY"

// snapshotEveryFlag registers --snapshot-every of serve.
func snapshotEveryFlag(fs *flag.FlagSet, n *int) {
	fs.IntVar(n, "snapshot-every", 0,
		"decider: a snapshot of a partition's changed products every this many decided commands (0: 10,000; -1: no snapshots, "+
			"and no catalog.product-state topic needed) (env "+envSnapshotEvery+")")
}

// snapshotEvery returns --snapshot-every, or STREAMVIEW_SNAPSHOT_EVERY when
// the flag is not given.
func snapshotEvery(fs *flag.FlagSet, e env, flagValue int) (int, error) {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "snapshot-every" })
	v := e.getenv(envSnapshotEvery)
	if given || v == "" {
		return flagValue, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: not a whole number (0: the default, -1: no snapshots)", envSnapshotEvery, v)
	}
	return n, nil
}
