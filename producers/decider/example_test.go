package decider_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"

	"github.com/streamview/streamview/producers/decider"
	"github.com/streamview/streamview/producers/product"
	"github.com/streamview/streamview/schemas"
)

// A decider runs until its context ends; run one per process (each with
// its own TransactionalID), as many processes as the commands topic has
// partitions at most.
func Example() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	codec, err := schemas.NewCodec()
	if err != nil {
		panic(err)
	}
	d, err := decider.New(decider.Config{
		Brokers: []string{"127.0.0.1:9092"},
		Rules:   product.Rules{Currency: "EUR"},
		Logger:  slog.Default(),
	}, codec)
	if err != nil {
		panic(err)
	}
	if err := d.Run(ctx); err != nil {
		slog.Error("decider", "err", err)
	}
}
