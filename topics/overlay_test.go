package topics

import (
	"strings"
	"testing"
)

func TestOverlay(t *testing.T) {
	base, err := Load("../topics.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := LoadOverlay("../topics.cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := base.With(cluster)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range s.Topics {
		if s.replication(tp) != 3 || tp.Configs["min.insync.replicas"] != "2" {
			t.Errorf("%s with the cluster overlay: replication %d, min.insync.replicas %q; want 3 and 2",
				tp.Name, s.replication(tp), tp.Configs["min.insync.replicas"])
		}
		orig, _ := base.Topic(tp.Name)
		for k, v := range orig.Configs {
			if tp.Configs[k] != v {
				t.Errorf("%s: config %s = %q with the overlay, %q without: an overlay keeps what it does not set", tp.Name, k, tp.Configs[k], v)
			}
		}
	}
	if ev, _ := base.Topic(Events); ev.Configs["min.insync.replicas"] != "" || base.replication(ev) != 1 {
		t.Error("With modified the spec it was called on")
	}

	tests := []struct {
		name string
		o    Overlay
		want string
	}{
		{"unknown topic", Overlay{Topics: []TopicOverlay{{Name: "nope", Partitions: 2}}}, "nope is not declared"},
		{"breaks co-partitioning", Overlay{Topics: []TopicOverlay{{Name: Events, Partitions: 12}}}, "need the same count"},
		{"negative replication", Overlay{ReplicationFactor: -1}, "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := base.With(tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("With: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	var all []TopicOverlay
	for _, c := range base.Copartition[0] {
		all = append(all, TopicOverlay{Name: c, Partitions: 12})
	}
	s, err = base.With(Overlay{Topics: all})
	if err != nil {
		t.Fatalf("growing every co-partitioned topic together: %v", err)
	}
	if ev, _ := s.Topic(Events); ev.Partitions != 12 {
		t.Errorf("events partitions %d, want 12", ev.Partitions)
	}
}
