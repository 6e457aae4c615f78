package testenv

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Admin returns an admin client on brokers that lives as long as the test.
func Admin(t testing.TB, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("kafka client for %v: %v", brokers, err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// Topic creates a topic named prefix-<random> with partitions partitions
// (replication factor 1) on brokers, waits until every partition has a
// leader, so that the first produce or fetch does not race the topic's
// creation, and deletes it when the test ends. configs are topic configs as
// key, value pairs: Topic(t, brokers, "t.events", 3, "retention.ms", "-1").
func Topic(t testing.TB, brokers []string, prefix string, partitions int32, configs ...string) string {
	t.Helper()
	return TopicNamed(t, brokers, Name(prefix), partitions, configs...)
}

// TopicNamed is Topic under the very name given, for a test whose code
// under test reads a fixed topic (on a cluster of the test's own: a shared
// broker needs unique names). Close such a cluster in a t.Cleanup
// registered before, not in a defer, so that it is still up for the
// deletion.
func TopicNamed(t testing.TB, brokers []string, name string, partitions int32, configs ...string) string {
	t.Helper()
	if len(configs)%2 != 0 {
		t.Fatalf("testenv.Topic: configs must be key, value pairs, got %q", configs)
	}
	cfg := map[string]*string{}
	for i := 0; i < len(configs); i += 2 {
		cfg[configs[i]] = &configs[i+1]
	}
	// Its own client, so that the deletion at cleanup does not depend on
	// the order of the test's other cleanups.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatalf("kafka client for %v: %v", brokers, err)
	}
	adm := kadm.NewClient(cl)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		adm.DeleteTopics(ctx, name)
		cl.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := adm.CreateTopic(ctx, partitions, 1, cfg, name)
	if err == nil {
		err = res.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v %s", name, err, res.ErrMessage)
	}
	Eventually(t, 30*time.Second, func() error { return usable(ctx, adm, name, partitions) })
	return name
}

// usable reports whether every partition of topic has a leader.
func usable(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return err
	}
	d, ok := details[topic]
	switch {
	case !ok:
		return fmt.Errorf("topic %s is not listed yet", topic)
	case d.Err != nil:
		return fmt.Errorf("topic %s: %w", topic, d.Err)
	case int32(len(d.Partitions)) != partitions:
		return fmt.Errorf("topic %s has %d of %d partitions", topic, len(d.Partitions), partitions)
	}
	for _, p := range d.Partitions {
		if p.Err != nil || p.Leader < 0 {
			return fmt.Errorf("topic %s partition %d has no leader yet", topic, p.Partition)
		}
	}
	return nil
}
