package topics

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
)

func TestRepositoryTopicsFileIsValid(t *testing.T) {
	s, err := Load("../topics.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"catalog.product-commands", "catalog.product-events", "catalog.product-command-results", "catalog.product-state", "catalog.product-view.dlq", "catalog.product-search.dlq", "catalog.product-history.dlq"} {
		if _, ok := s.Topic(name); !ok {
			t.Errorf("topics.yaml lacks %s", name)
		}
	}
	if ev, _ := s.Topic("catalog.product-events"); !ev.Keyed || ev.Configs["retention.ms"] != "-1" {
		t.Errorf("events topic must be keyed and kept forever: %+v", ev)
	}
	if st, _ := s.Topic("catalog.product-state"); !st.Keyed || st.Configs["cleanup.policy"] != "compact" {
		t.Errorf("state topic must be keyed and compacted: %+v", st)
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown key", "topics:\n  - name: a\n    partitions: 1\n    partitons: 2\n", "partitons"},
		{"no partitions", "topics:\n  - name: a\n", "partitions must be at least 1"},
		{"twice", "topics:\n  - {name: a, partitions: 1}\n  - {name: a, partitions: 1}\n", "declared twice"},
		{"copartition count", "copartition: [[a, b]]\ntopics:\n  - {name: a, partitions: 1}\n  - {name: b, partitions: 2}\n", "need the same count"},
		{"copartition unknown", "copartition: [[a, c]]\ntopics:\n  - {name: a, partitions: 1}\n", "c is not declared"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestApplyOnRealBroker(t *testing.T) {
	brokers := testenv.Kafka(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cmds, events, dlq := testenv.Name("t.commands"), testenv.Name("t.events"), testenv.Name("t.dlq")
	spec := Spec{
		ReplicationFactor: 1,
		Copartition:       [][]string{{cmds, events}},
		Topics: []Topic{
			{Name: cmds, Partitions: 3, Keyed: true, Configs: map[string]string{"retention.ms": "3600000"}},
			{Name: events, Partitions: 3, Keyed: true, Configs: map[string]string{"retention.ms": "-1"}},
			{Name: dlq, Partitions: 1},
		},
	}
	t.Cleanup(func() { adm.DeleteTopics(context.Background(), cmds, events, dlq) })

	var out bytes.Buffer
	p, err := Apply(ctx, adm, spec, false, &out)
	if err != nil {
		t.Fatalf("first apply: %v\n%s", err, &out)
	}
	if n := countKind(p, "create"); n != 3 {
		t.Fatalf("first apply created %d topics, want 3:\n%s", n, &out)
	}
	details, err := adm.ListTopics(ctx, cmds, events, dlq)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range spec.Topics {
		if got := len(details[tp.Name].Partitions); got != int(tp.Partitions) {
			t.Errorf("%s has %d partitions, want %d", tp.Name, got, tp.Partitions)
		}
	}

	out.Reset()
	p, err = Apply(ctx, adm, spec, false, &out)
	if err != nil || !p.Empty() || !strings.Contains(out.String(), "no changes") {
		t.Fatalf("second apply should change nothing: plan %+v, err %v\n%s", p, err, &out)
	}

	// A config drift is brought back in line, and a dry run shows it first.
	spec.Topics[0].Configs["retention.ms"] = "7200000"
	out.Reset()
	if p, err = Apply(ctx, adm, spec, true, &out); err != nil || countKind(p, "config") != 1 || !strings.Contains(out.String(), "would set") {
		t.Fatalf("dry run: %+v %v\n%s", p, err, &out)
	}
	if p, _ = Compare(ctx, adm, spec); countKind(p, "config") != 1 {
		t.Fatalf("dry run changed the cluster: %+v", p)
	}
	if _, err = Apply(ctx, adm, spec, false, &out); err != nil {
		t.Fatal(err)
	}
	if p, _ = Compare(ctx, adm, spec); !p.Empty() {
		t.Fatalf("config not applied: %+v", p)
	}

	// An unkeyed topic may grow.
	spec.Topics[2].Partitions = 2
	out.Reset()
	if p, err = Apply(ctx, adm, spec, false, &out); err != nil || countKind(p, "partitions") != 1 {
		t.Fatalf("grow unkeyed: %+v %v\n%s", p, err, &out)
	}

	// A keyed topic may not: refused, with the reason, and nothing changes.
	spec.Topics[0].Partitions = 6
	spec.Topics[1].Partitions = 6
	out.Reset()
	_, err = Apply(ctx, adm, spec, false, &out)
	if !errors.Is(err, ErrRefused) || !strings.Contains(out.String(), "breaks their order") {
		t.Fatalf("keyed partition change: err %v\n%s", err, &out)
	}
	details, _ = adm.ListTopics(ctx, cmds)
	if got := len(details[cmds].Partitions); got != 3 {
		t.Fatalf("refused apply changed %s to %d partitions", cmds, got)
	}
}

func countKind(p Plan, kind string) int {
	n := 0
	for _, a := range p.Actions {
		if a.Kind == kind {
			n++
		}
	}
	return n
}

// The names the code uses are the ones topics.yaml declares, so that a
// topic renamed in one place fails here rather than in production.
func TestNamesAreDeclared(t *testing.T) {
	s, err := Load("../topics.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, topic string
		keyed       bool
	}{
		{"commands", Commands, true},
		{"events", Events, true},
		{"command results", CommandResults, true},
		{"decider state", State, true},
		{"product-view dead letters", DeadLetter("product-view"), false},
		{"product-search dead letters", DeadLetter("product-search"), false},
		{"notifier dead letters", DeadLetter("notifier"), false},
		{"notifier journal", NotifierJournal, false},
		{"product-history dead letters", DeadLetter("product-history"), false},
	}
	declared := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, ok := s.Topic(tt.topic)
			if !ok {
				t.Fatalf("topics.yaml does not declare %s", tt.topic)
			}
			if tp.Keyed != tt.keyed {
				t.Errorf("%s: keyed = %v in topics.yaml, want %v", tt.topic, tp.Keyed, tt.keyed)
			}
		})
		declared[tt.topic] = true
	}
	for _, tp := range s.Topics {
		if !declared[tp.Name] {
			t.Errorf("topics.yaml declares %s, which has no name in package topics", tp.Name)
		}
	}
}
