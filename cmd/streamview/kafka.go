package main

import (
	"context"
	"flag"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/connect"
)

// adminMetadataMinAge is how long the short commands' and dev's admin
// clients keep the cluster's metadata before they may ask again (kgo's
// default is 5 s).
const adminMetadataMinAge = 100 * time.Millisecond

// kafkaFlags are the connection flags every Kafka-facing command shares:
// the seed brokers, TLS and SASL.
type kafkaFlags struct {
	brokers string
	sec     *connect.KafkaFlags
}

func (k *kafkaFlags) register(fs *flag.FlagSet, e env) {
	fs.StringVar(&k.brokers, "brokers", e.or("KAFKA_BROKERS", "127.0.0.1:9092"), "Kafka seed brokers, comma separated (env KAFKA_BROKERS)")
	k.sec = connect.RegisterKafka(fs, e.getenv)
}

// settings are the flags' connection settings.
func (k *kafkaFlags) settings() (connect.Kafka, error) { return k.sec.Load(splitList(k.brokers)) }

// client connects and checks that a broker answers, so that a wrong address
// fails fast with advice instead of hanging in retries.
func (k *kafkaFlags) client(ctx context.Context, opts ...kgo.Opt) (*kgo.Client, error) {
	conn, err := k.settings()
	if err != nil {
		return nil, err
	}
	return newKafkaClient(ctx, conn, opts...)
}

func (k *kafkaFlags) admin(ctx context.Context) (*kadm.Client, func(), error) {
	// Its metadata young: topics apply lists the topics it has just
	// created, which kgo's default (5 s) answered from the list before.
	cl, err := k.client(ctx, kgo.MetadataMinAge(adminMetadataMinAge))
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}
