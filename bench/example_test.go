package bench_test

import (
	"context"
	"fmt"
	"os"

	"github.com/streamview/streamview/bench"
)

// Measure the product view on the servers of `make services-up` with 200k
// events; the table goes to stdout. (Not run by go test: it needs Kafka and
// Redis.)
func ExampleRedisProjection() {
	rep, err := bench.RedisProjection(context.Background(), bench.Config{Events: 200_000, Out: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Printf("%.0f events/s, %.2f of the smaller raw limit\n", rep.Projection.Rate(), rep.Ratio())
}
