package testenv

import (
	"os"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// KafkaOrFake returns the real brokers when the integration tier runs, and
// otherwise the seed of an in-process kfake cluster that lives as long as
// the test, so that the fast tier still exercises the Kafka code paths.
func KafkaOrFake(t testing.TB) []string {
	t.Helper()
	if !FakeKafka() {
		return Kafka(t)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// FakeKafka reports whether KafkaOrFake gives kfake: in -short, or when
// KAFKA_BROKERS names no broker.
func FakeKafka() bool {
	return testing.Short() || os.Getenv("KAFKA_BROKERS") == ""
}
