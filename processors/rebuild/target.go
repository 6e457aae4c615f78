package rebuild

import (
	"context"
	"errors"
	"fmt"

	"github.com/streamview/streamview/processors"
)

// Generations is one projection's store of generations, as replays and
// rebuilds see it: the port a sink implements (sinks/redisview and
// sinks/esindex do) with plain types, so that it needs import neither this
// package nor the runtime.
type Generations interface {
	// Name is the projection's name: its groups are
	// streamview.<Name>.g<N>.
	Name() string
	// Live is the generation that queries read; 0 when none is.
	Live(ctx context.Context) (int, error)
	// Create makes generation gen ready to be written (an empty index).
	Create(ctx context.Context, gen int) error
	// Count is the number of documents generation gen holds, counted as
	// CountsDiscontinued says, with every acknowledged write visible.
	Count(ctx context.Context, gen int) (int64, error)
	// CountsDiscontinued tells whether Count includes discontinued
	// products.
	CountsDiscontinued() bool
	// Promote makes generation to live in place of from, in one step, and
	// fails when from is not live (another rebuild swapped).
	Promote(ctx context.Context, from, to int) error
	// Drop removes generation gen's documents and reports whether there were
	// any. Rebuilds call it for a generation that is not live.
	Drop(ctx context.Context, gen int) (bool, error)
	// Reset empties generation gen, live or not, for a replay, and returns
	// how many documents it held.
	Reset(ctx context.Context, gen int) (int64, error)
}

// Target is one projection as replays and rebuilds see it: its generations,
// and what the runtime applies generation gen's events to. The wiring
// (cmd/streamview, bench) puts the two together, so that a sink never
// imports the runtime.
type Target struct {
	Generations
	Projection func(gen int) (processors.Projection, error)
}

// ErrLive is returned when an operation would remove the live generation.
var ErrLive = errors.New("rebuild: refusing to remove the live generation")

// drop removes generation gen's documents unless gen is live.
func drop(ctx context.Context, g Generations, gen int) (bool, error) {
	if live, err := g.Live(ctx); err != nil {
		return false, err
	} else if live == gen {
		return false, fmt.Errorf("%w: %s g%d is live", ErrLive, g.Name(), gen)
	}
	return g.Drop(ctx, gen)
}
