package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafkaFlags are the connection flags every Kafka-facing command shares.
type kafkaFlags struct {
	brokers string
}

func (k *kafkaFlags) register(fs *flag.FlagSet, e env) {
	fs.StringVar(&k.brokers, "brokers", e.or("KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka seed brokers, comma separated (env KAFKA_BROKERS)")
}

// client connects and checks that a broker answers, so that a wrong address
// fails fast with advice instead of hanging in retries.
func (k *kafkaFlags) client(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, error) {
	seeds := strings.Split(k.brokers, ",")
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(seeds...)}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %s: %w", k.brokers, err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("kafka at %s does not answer: %w (start one with `make services-up`, or pass --brokers)", k.brokers, err)
	}
	return cl, nil
}

func (k *kafkaFlags) admin(ctx context.Context) (*kadm.Client, func(), error) {
	cl, err := k.client(ctx)
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}
