package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/producers/decider"
)

// TestServeHandsOverACrashedInstancesPartitions runs two `streamview
// serve` processes with --session-timeout 6s on the real servers and kills
// one (SIGKILL: it leaves no group). Creates of new products sent to the
// other are decided, and their views readable, once the crashed member's
// sessions end: within the session timeout and a few seconds, not the
// Kafka client's default of 45 s, during which a crashed instance's
// partitions took no command and projected nothing. Both run with
// --transaction-timeout 3s, which the broker must hold for their deciders'
// transactional IDs (a transaction open at the crash holds its partitions
// back for that long).
func TestServeHandsOverACrashedInstancesPartitions(t *testing.T) {
	if testing.Short() {
		t.Skip("real processes on the real servers")
	}
	brokers := strings.Join(testenv.Kafka(t), ",")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"topics", "apply", "--brokers", brokers, "--file", "../../topics.yaml"}, nil, &out, &out); err != nil {
		t.Fatalf("topics apply: %v\n%s", err, &out)
	}
	bin := streamviewBinary(t)
	const session, txnTimeout = 6 * time.Second, 3 * time.Second
	args := []string{"--brokers", brokers, "--redis", testenv.Redis(t), "--elasticsearch", testenv.Elasticsearch(t),
		"--session-timeout", session.String(), "--transaction-timeout", txnTimeout.String(), "--log-level", "info"}
	victimID := "streamview-decider-" + testenv.Name("session")
	victim := startInstance(t, bin, "serve-a", append(slices.Clip(args), "--transactional-id", victimID)...)
	survivor := startInstance(t, bin, "serve-b", args...)

	// Both instances in every group they run (the decider's, the
	// projections' live generations): each then owns some partitions.
	adm := kafkaAdmin(t)
	testenv.Eventually(t, 2*time.Minute, func() error {
		listed, err := adm.ListGroups(context.Background())
		if err != nil {
			return err
		}
		var names []string
		for _, g := range listed {
			if g.State != "Empty" && g.State != "Dead" && (g.Group == decider.DefaultGroup || strings.HasPrefix(g.Group, "streamview.product-")) {
				names = append(names, g.Group)
			}
		}
		if len(names) < 3 {
			return testenv.Errorf("groups with members: %v, want the decider's and the projections'", names)
		}
		described, err := adm.DescribeGroups(context.Background(), names...)
		if err != nil {
			return err
		}
		for _, g := range described {
			if g.State != "Stable" || len(g.Members) != 2 {
				return testenv.Errorf("group %s: %s with %d members, want Stable with 2", g.Group, g.State, len(g.Members))
			}
		}
		return nil
	})

	if id := checkTransactionTimeout(t, adm, victim, txnTimeout); id != victimID {
		t.Errorf("serve-a's decider has transactional ID %s, want --transactional-id's %s", id, victimID)
	}
	checkTransactionTimeout(t, adm, survivor, txnTimeout)

	victim.kill()
	crashed := time.Now()
	p := &pool{httpc: &http.Client{Timeout: 40 * time.Second}}
	p.add(survivor)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tag := fmt.Sprint(time.Now().UnixNano())
	const n = 24 // products, over the 6 partitions: both members' share
	var slowest time.Duration
	for i := range n {
		id := commandbus.NewID()
		c := &scaleCommand{method: "POST", path: "/v1/products", product: id, wait: true, key: fmt.Sprintf("session-%s-%d", tag, i),
			body: fmt.Sprintf(`{"productId":%q,"name":"Session %d","description":"session test","price":%s,"categoryId":"session","categoryName":"Session","brandId":"sv","brandName":"SV"}`, id, i, money(1000+int64(i)))}
		for c.version == 0 { // 202: not decided yet; the same key asks again
			if err := p.send(ctx, 0, c); err != nil {
				t.Fatal(err)
			}
		}
		testenv.Eventually(t, time.Minute, func() error {
			r, err := p.do(ctx, 0, "GET", "/v1/products/"+id+"?minVersion=1&wait=5", "")
			if err != nil || r.status != 200 {
				return testenv.Errorf("view of %s: %d %v %v", id, r.status, r.body, err)
			}
			return nil
		})
		slowest = max(slowest, time.Since(crashed))
	}
	t.Logf("%d products created and projected through the survivor, the last %v after the crash (session timeout %v)", n, slowest.Round(time.Millisecond), session)
	if slowest > 30*time.Second {
		t.Errorf("the crashed instance's partitions took %v to move: the session timeout of %v was not applied", slowest, session)
	}
	if slowest < session/2 {
		t.Errorf("every product was decided %v after the crash, before a session could end: the crashed instance owned no partition of theirs", slowest)
	}
}

// checkTransactionTimeout reads the transactional ID of in's decider from
// its log, asks the broker for the timeout it holds for it, and returns
// the ID.
func checkTransactionTimeout(t *testing.T, adm *kadm.Client, in *instance, want time.Duration) string {
	t.Helper()
	var id string
	testenv.Eventually(t, time.Minute, func() error {
		b, err := os.ReadFile(in.log)
		if err != nil {
			return err
		}
		m := regexp.MustCompile(`decider session started\W.*transactional_id=(\S+)`).FindSubmatch(b)
		if m == nil {
			return testenv.Errorf("%s has not logged its decider's session yet", in.name)
		}
		id = string(m[1])
		return nil
	})
	described, err := adm.DescribeTransactions(context.Background(), id)
	if err != nil {
		t.Fatalf("describe transactional ID %s of %s: %v", id, in.name, err)
	}
	d, ok := described[id]
	if !ok || d.Err != nil {
		t.Fatalf("transactional ID %s of %s: not described (%v)", id, in.name, d.Err)
	}
	if got := time.Duration(d.TimeoutMillis) * time.Millisecond; got != want {
		t.Errorf("the broker holds a transaction timeout of %v for %s's decider (%s), want --transaction-timeout's %v", got, in.name, id, want)
	}
	return id
}
