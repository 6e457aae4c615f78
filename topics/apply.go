package topics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrRefused is returned (wrapped) when the cluster cannot be brought in line
// with the spec without breaking a guarantee; nothing is changed then.
var ErrRefused = errors.New("refused")

// Action is one change Apply makes to the cluster.
type Action struct {
	Topic string
	Kind  string // "create", "config", "partitions"
	// For "config": the key and the values before and after.
	Key, From, To string
	topic         Topic
}

func (a Action) String() string {
	switch a.Kind {
	case "create":
		return fmt.Sprintf("create topic %s (%d partitions, replication %d, %d configs)", a.Topic, a.topic.Partitions, a.topic.ReplicationFactor, len(a.topic.Configs))
	case "config":
		from := a.From
		if from == "" {
			from = "(default)"
		}
		return fmt.Sprintf("set %s %s: %s -> %s", a.Topic, a.Key, from, a.To)
	case "partitions":
		return fmt.Sprintf("grow %s partitions: %s -> %s", a.Topic, a.From, a.To)
	}
	return a.Kind + " " + a.Topic
}

// Plan is what Apply would do.
type Plan struct {
	Actions  []Action
	Refusals []string // each says what and why
}

// Empty reports whether the cluster already matches the spec.
func (p Plan) Empty() bool { return len(p.Actions) == 0 && len(p.Refusals) == 0 }

// Compare reads the cluster's topics and configs and works out the plan.
func Compare(ctx context.Context, adm *kadm.Client, s Spec) (Plan, error) {
	details, err := listSettled(ctx, adm, names(s))
	if err != nil {
		return Plan{}, err
	}
	var existing []string
	for _, t := range s.Topics {
		if d, ok := details[t.Name]; ok && d.Err == nil {
			existing = append(existing, t.Name)
		}
	}
	current := map[string]map[string]kadm.Config{}
	if len(existing) > 0 {
		rcs, err := adm.DescribeTopicConfigs(ctx, existing...)
		if err != nil {
			return Plan{}, fmt.Errorf("topics: describe configs: %w", err)
		}
		for _, rc := range rcs {
			if rc.Err != nil {
				return Plan{}, fmt.Errorf("topics: describe configs of %s: %w", rc.Name, rc.Err)
			}
			m := map[string]kadm.Config{}
			for _, c := range rc.Configs {
				m[c.Key] = c
			}
			current[rc.Name] = m
		}
	}

	var p Plan
	partitions := map[string]int32{}
	for _, t := range s.Topics {
		t.ReplicationFactor = s.replication(t)
		d, ok := details[t.Name]
		if !ok || d.Err != nil {
			partitions[t.Name] = t.Partitions
			p.Actions = append(p.Actions, Action{Topic: t.Name, Kind: "create", topic: t})
			continue
		}
		have := int32(len(d.Partitions))
		partitions[t.Name] = have
		switch {
		case have == t.Partitions:
		case t.Keyed:
			p.Refusals = append(p.Refusals, fmt.Sprintf(
				"%s has %d partitions, %s says %d: refusing to change the partition count of a keyed topic in place, "+
					"because it moves aggregate IDs to other partitions and breaks their order; create a new topic and migrate to it",
				t.Name, have, s.source(t.partitionsFrom), t.Partitions))
		case have > t.Partitions:
			p.Refusals = append(p.Refusals, fmt.Sprintf(
				"%s has %d partitions, %s says %d: Kafka cannot remove partitions; delete and recreate the topic or raise the count in %[3]s",
				t.Name, have, s.source(t.partitionsFrom), t.Partitions))
		default:
			p.Actions = append(p.Actions, Action{Topic: t.Name, Kind: "partitions", From: fmt.Sprint(have), To: fmt.Sprint(t.Partitions), topic: t})
		}
		if rf := int16(len(d.Partitions[0].Replicas)); len(d.Partitions) > 0 && rf != t.ReplicationFactor {
			p.Refusals = append(p.Refusals, fmt.Sprintf(
				"%s has replication factor %d, %s says %d: changing it needs a partition reassignment, which topics apply does not do",
				t.Name, rf, s.source(t.replicationFrom), t.ReplicationFactor))
		}
		for _, key := range sortedKeys(t.Configs) {
			want := t.Configs[key]
			c, found := current[t.Name][key]
			if found && c.MaybeValue() == want {
				continue
			}
			from := ""
			if found && c.Source == kmsg.ConfigSourceDynamicTopicConfig {
				from = c.MaybeValue()
			}
			p.Actions = append(p.Actions, Action{Topic: t.Name, Kind: "config", Key: key, From: from, To: want})
		}
	}
	for _, group := range s.Copartition {
		var counts []string
		same := true
		for _, name := range group {
			counts = append(counts, fmt.Sprintf("%s=%d", name, partitions[name]))
			same = same && partitions[name] == partitions[group[0]]
		}
		if !same {
			p.Refusals = append(p.Refusals, fmt.Sprintf(
				"topics %s must be co-partitioned (the decider reads partition P of one beside partition P of the other) but have %s",
				strings.Join(group, ", "), strings.Join(counts, ", ")))
		}
	}
	return p, nil
}

// Apply brings the cluster in line with s and writes what it does to w. With
// dryRun it only writes the plan. When any change is refused it changes
// nothing and returns an error wrapping ErrRefused that says why.
func Apply(ctx context.Context, adm *kadm.Client, s Spec, dryRun bool, w io.Writer) (Plan, error) {
	p, err := Compare(ctx, adm, s)
	if err != nil {
		return p, err
	}
	if len(p.Refusals) > 0 {
		for _, r := range p.Refusals {
			fmt.Fprintln(w, "refused:", r)
		}
		return p, fmt.Errorf("topics: %w: %s", ErrRefused, strings.Join(p.Refusals, "; "))
	}
	if p.Empty() {
		fmt.Fprintf(w, "no changes: %d topics match topics.yaml\n", len(s.Topics))
		return p, nil
	}
	for _, a := range p.Actions {
		if dryRun {
			fmt.Fprintln(w, "would", a)
			continue
		}
		if err := execute(ctx, adm, a); err != nil {
			return p, err
		}
		fmt.Fprintln(w, "done:", a)
	}
	if dryRun {
		fmt.Fprintf(w, "dry run: %d changes not applied\n", len(p.Actions))
		return p, nil
	}
	if err := awaitApplied(ctx, adm, s); err != nil {
		return p, err
	}
	fmt.Fprintf(w, "applied %d changes\n", len(p.Actions))
	return p, nil
}

// settleTimeout is how long topics waits for the cluster to show a change
// (a variable for the tests).
var settleTimeout = 30 * time.Second

// errNotSettled is poll's error when its time is up.
var errNotSettled = errors.New("not settled")

// poll calls try until it is done or fails, the pause between calls 10ms at
// first and doubling up to 250ms, and gives up after timeout with
// errNotSettled and the last reason try gave for not being done. With a
// timeout of 0 it calls try once.
func poll(ctx context.Context, timeout time.Duration, try func() (done bool, notYet, err error)) error {
	deadline := time.Now().Add(timeout)
	delay := 10 * time.Millisecond
	for {
		done, notYet, err := try()
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %v: %w", errNotSettled, timeout, notYet)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 250*time.Millisecond)
	}
}

// awaitApplied waits until the cluster reports what Apply did. New topics
// and partitions reach the brokers' metadata asynchronously, and so does a
// config change: the controller accepts it before the broker that answers
// DescribeConfigs has caught up, and a broker that has not heard of a new
// topic yet answers that it does not exist. Waiting here means callers,
// and a second run, see the cluster as applied.
func awaitApplied(ctx context.Context, adm *kadm.Client, s Spec) error {
	err := poll(ctx, settleTimeout, func() (bool, error, error) {
		p, err := Compare(ctx, adm, s)
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return false, err, nil
		}
		if err != nil || p.Empty() {
			return p.Empty(), nil, err
		}
		pending := make([]string, 0, len(p.Actions)+len(p.Refusals))
		for _, a := range p.Actions {
			pending = append(pending, a.String())
		}
		return false, errors.New(strings.Join(append(pending, p.Refusals...), "; ")), nil
	})
	if err != nil {
		return fmt.Errorf("topics: applied, but the cluster does not show it: %w; "+
			"a broker may report a config value in its own form (1.0 for 1): write it so in the spec; else run topics apply again or check the brokers' logs", err)
	}
	return nil
}

func names(s Spec) []string {
	out := make([]string, len(s.Topics))
	for i, t := range s.Topics {
		out[i] = t.Name
	}
	return out
}

// listSettled lists topics, waiting while a topic or partition is still
// being set up: a topic that exists but has no leader yet is neither
// missing nor ready.
func listSettled(ctx context.Context, adm *kadm.Client, topics []string) (details kadm.TopicDetails, err error) {
	err = poll(ctx, settleTimeout, func() (bool, error, error) {
		details, err = adm.ListTopics(ctx, topics...)
		if err != nil {
			return false, nil, fmt.Errorf("list: %w", err)
		}
		var unsettled error
		for _, d := range details {
			if d.Err != nil && !errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
				unsettled = fmt.Errorf("topic %s: %w", d.Topic, d.Err)
			}
			if d.Err == nil && len(d.Partitions) == 0 {
				unsettled = fmt.Errorf("topic %s has no partitions yet", d.Topic)
			}
			for _, pd := range d.Partitions {
				if pd.Err != nil || pd.Leader < 0 {
					unsettled = fmt.Errorf("topic %s partition %d has no leader yet", d.Topic, pd.Partition)
				}
			}
		}
		return unsettled == nil, unsettled, nil
	})
	if err != nil {
		return nil, fmt.Errorf("topics: %w", err)
	}
	return details, nil
}

func execute(ctx context.Context, adm *kadm.Client, a Action) error {
	switch a.Kind {
	case "create":
		configs := map[string]*string{}
		for k, v := range a.topic.Configs {
			configs[k] = &v
		}
		resp, err := adm.CreateTopic(ctx, a.topic.Partitions, a.topic.ReplicationFactor, configs, a.Topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			return fmt.Errorf("topics: create %s: %w %s", a.Topic, err, resp.ErrMessage)
		}
	case "config":
		v := a.To
		resps, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: a.Key, Value: &v}}, a.Topic)
		if err == nil {
			for _, r := range resps {
				if r.Err != nil {
					err = fmt.Errorf("%w %s", r.Err, r.ErrMessage)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("topics: set %s %s=%s: %w", a.Topic, a.Key, a.To, err)
		}
	case "partitions":
		resps, err := adm.UpdatePartitions(ctx, int(a.topic.Partitions), a.Topic)
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			return fmt.Errorf("topics: grow %s to %d partitions: %w", a.Topic, a.topic.Partitions, err)
		}
	}
	return nil
}
