package commandbus_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

// A retried request with the same Idempotency-Key is the same command.
func ExampleCommandID() {
	a := commandbus.CommandID("order-7", "PUT", "/v1/products/0b7c6c1e-2f47-4a8e-9a3c-5d2f3e1a9b10/price")
	b := commandbus.CommandID("order-7", "PUT", "/v1/products/0b7c6c1e-2f47-4a8e-9a3c-5d2f3e1a9b10/price")
	fmt.Println(a == b, len(a))
	// Output: true 36
}

// How an HTTP handler sends a command and honours Prefer: wait=N.
func ExampleResults_Wait() {
	codec, _ := schemas.NewCodec()
	brokers := []string{"127.0.0.1:9092"}
	results, _ := commandbus.NewResults(commandbus.ResultsConfig{Brokers: brokers}, codec)
	go results.Run(context.Background())
	sender, _ := commandbus.NewSender(commandbus.SenderConfig{Brokers: brokers, Tracker: results}, codec)
	defer sender.Close()

	key := "client-key-1"
	cmd := schemas.Command{
		ID:        commandbus.CommandID(key, "POST", "/v1/products"),
		ProductID: commandbus.ProductID(key),
		Data:      &schemas.CreateProduct{ /* … */ },
	}
	if _, err := sender.Send(context.Background(), cmd); err != nil {
		return // 503
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // Prefer: wait=5
	defer cancel()
	res, err := results.Wait(ctx, cmd.ID)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		// 202 {"status":"pending"}
	case err != nil:
		// 503
	case res.Status == schemas.StatusAccepted:
		// 201 {"status":"accepted","version":res.Version}
	default:
		// res.Code: not_found 404, conflict 409, invalid 422
	}
}
