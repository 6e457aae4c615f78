package main

import (
	"flag"
	"fmt"
	"strconv"

	"github.com/streamview/streamview/sinks/esindex"
)

// esIndexFlags are the settings of the search indices a command creates
// (each generation's index, when it is first written): primary shards and
// replicas. An existing index keeps its own; a rebuild is how a live
// index gets new ones (generation N+1 is created with them, then the alias
// swaps).
type esIndexFlags struct {
	shards, replicas int
}

func (f *esIndexFlags) register(fs *flag.FlagSet, e env) {
	f.shards, f.replicas = 1, 0
	fs.Var(intEnv{&f.shards}, "es-shards", "product-search: primary shards of a new index (env STREAMVIEW_ES_SHARDS; default 1)")
	fs.Var(intEnv{&f.replicas}, "es-replicas", "product-search: replicas of a new index (env STREAMVIEW_ES_REPLICAS; default 0, a single node)")
	// The environment is read when no flag is given; a bad value is
	// reported by validate.
	if v := e.getenv("STREAMVIEW_ES_SHARDS"); v != "" {
		_ = fs.Set("es-shards", v)
	}
	if v := e.getenv("STREAMVIEW_ES_REPLICAS"); v != "" {
		_ = fs.Set("es-replicas", v)
	}
}

func (f esIndexFlags) validate() error {
	if f.shards < 1 || f.replicas < 0 {
		return fmt.Errorf("--es-shards %d, --es-replicas %d: need at least 1 shard and no negative replicas (or STREAMVIEW_ES_SHARDS, STREAMVIEW_ES_REPLICAS)",
			f.shards, f.replicas)
	}
	return nil
}

// apply sets the flags' values in c.
func (f esIndexFlags) apply(c esindex.Config) esindex.Config {
	c.Shards, c.Replicas = f.shards, f.replicas
	return c
}

// intEnv is an int flag that may also be set from the environment.
type intEnv struct{ p *int }

func (v intEnv) String() string {
	if v.p == nil {
		return ""
	}
	return strconv.Itoa(*v.p)
}

func (v intEnv) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		*v.p = -1 // reported by validate, naming both sources
		return fmt.Errorf("not a whole number: %q", s)
	}
	*v.p = n
	return nil
}
