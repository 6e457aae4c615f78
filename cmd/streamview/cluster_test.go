package main

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/topics"
)

// clusterScript is scripts/services/kafka-cluster.sh, run with the
// test's environment (KAFKA_PORT, KAFKA_CONTROLLER_PORT, KAFKA_NODES,
// STREAMVIEW_SERVICES_DIR name the cluster).
func clusterScript(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("bash", append([]string{"../../scripts/services/kafka-cluster.sh"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kafka-cluster.sh %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestKafkaClusterLeaderFailover is TestManyInstances' load on a Kafka
// cluster of three brokers (topics with replication 3 and
// min.insync.replicas 2, from topics.cluster.yaml): halfway the broker
// that leads the most partitions of streamview's topics is killed
// (SIGKILL), at three quarters it is started again. Nothing is lost or
// doubled, and everything converges.
//
// make test runs it through scripts/services/test_kafka_failover.sh, which
// starts a cluster of its own, sets the environment below, and stops the
// cluster after. By hand, on a cluster started by
// scripts/services/kafka-cluster.sh:
//
//	KAFKA_PORT=39092 KAFKA_CONTROLLER_PORT=39093 bash scripts/services/kafka-cluster.sh up
//	STREAMVIEW_KAFKA_CLUSTER=1 KAFKA_PORT=39092 KAFKA_CONTROLLER_PORT=39093 \
//	  REDIS_ADDR=127.0.0.1:6379 ELASTICSEARCH_URL=http://127.0.0.1:9200 \
//	  go test -count=1 -run TestKafkaClusterLeaderFailover -timeout 30m ./cmd/streamview
func TestKafkaClusterLeaderFailover(t *testing.T) {
	if testing.Short() || os.Getenv("STREAMVIEW_KAFKA_CLUSTER") == "" {
		t.Skip("set STREAMVIEW_KAFKA_CLUSTER=1 with a cluster of scripts/services/kafka-cluster.sh up")
	}
	brokers := clusterScript(t, "brokers")
	seeds := strings.Split(brokers, ",")
	var leader int32 = -1
	t.Cleanup(func() {
		if leader >= 0 {
			clusterScript(t, "start", itoa(leader)) // whatever happened, leave the cluster whole
		}
	})
	runScale(t, scaleRun{
		brokers:    brokers,
		topicsArgs: []string{"--overlay", "../../topics.cluster.yaml"},
		atHalf: func(t *testing.T, _ *pool, _ []*instance, _ func(string) *instance) {
			leader = busiestLeader(t, seeds)
			t.Logf("killing broker %d, the leader of the most partitions: %s", leader, clusterScript(t, "kill", itoa(leader)))
		},
		atThreeQuarters: func(t *testing.T, _ *pool, _ []*instance, _ func(string) *instance) {
			t.Logf("starting broker %d again: %s", leader, clusterScript(t, "start", itoa(leader)))
			leader = -1
		},
	})
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// busiestLeader returns the broker that leads the most partitions of the
// commands, events, results and state topics.
func busiestLeader(t *testing.T, seeds []string) int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tds, err := testenv.Admin(t, seeds).ListTopics(ctx, topics.Commands, topics.Events, topics.CommandResults, topics.State)
	if err != nil {
		t.Fatal(err)
	}
	count := map[int32]int{}
	for _, td := range tds {
		for _, p := range td.Partitions {
			count[p.Leader]++
		}
	}
	best := int32(-1)
	for b, n := range count {
		if best < 0 || n > count[best] || n == count[best] && b < best {
			best = b
		}
	}
	t.Logf("partition leaders per broker: %v", count)
	return best
}
