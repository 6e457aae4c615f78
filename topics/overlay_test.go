package topics

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamview/streamview/internal/testenv"
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
		{"a topic's negative partitions", Overlay{Topics: []TopicOverlay{{Name: Events, Partitions: -6}}}, "topic " + Events + ": partitions and replicationFactor must be positive"},
		{"a topic's negative replication", Overlay{Topics: []TopicOverlay{{Name: Events, ReplicationFactor: -3}}}, "must be positive"},
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

// TestRefusalNamesItsFile: what Compare refuses names the file the
// refused value came from, the overlay's when the overlay set it; it said
// topics.yaml whatever the file.
func TestRefusalNamesItsFile(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	keyed := testenv.Topic(t, brokers, "t.keyed", 3)
	plain := testenv.Topic(t, brokers, "t.plain", 3)
	adm := testenv.Admin(t, brokers)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	base := func(partitions int) string {
		return write("base.yaml", "topics:\n"+
			"  - {name: "+keyed+", partitions: "+strconv.Itoa(partitions)+", keyed: true}\n"+
			"  - {name: "+plain+", partitions: 3}\n")
	}
	tests := []struct {
		name       string
		partitions int    // of the keyed topic in the base file
		overlay    string // "" for none
		want       string // in a refusal
		source     string // "base" or "overlay": the file it must name
	}{
		{"partitions from the base", 6, "", keyed + " has 3 partitions, %s says 6", "base"},
		{"partitions from the overlay", 3, "topics:\n  - {name: " + keyed + ", partitions: 6}\n", keyed + " has 3 partitions, %s says 6", "overlay"},
		{"fewer partitions from the overlay", 3, "topics:\n  - {name: " + plain + ", partitions: 1}\n", plain + " has 3 partitions, %s says 1: Kafka cannot remove partitions; delete and recreate the topic or raise the count in %s", "overlay"},
		{"replication from the overlay", 3, "replicationFactor: 3\n", keyed + " has replication factor 1, %s says 3", "overlay"},
		{"replication of one topic from the overlay", 3, "topics:\n  - {name: " + plain + ", replicationFactor: 2}\n", plain + " has replication factor 1, %s says 2", "overlay"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			basePath := base(tt.partitions)
			s, err := Load(basePath)
			if err != nil {
				t.Fatal(err)
			}
			file := basePath
			if tt.overlay != "" {
				ovPath := write("overlay.yaml", tt.overlay)
				o, err := LoadOverlay(ovPath)
				if err != nil {
					t.Fatal(err)
				}
				if s, err = s.With(o); err != nil {
					t.Fatal(err)
				}
				if tt.source == "overlay" {
					file = ovPath
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			p, err := Compare(ctx, adm, s)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.ReplaceAll(tt.want, "%s", file)
			got := strings.Join(p.Refusals, "\n")
			if !strings.Contains(got, want) {
				t.Errorf("refusals:\n%s\nwant one containing %q", got, want)
			}
			if strings.Contains(got, "topics.yaml") {
				t.Errorf("refusals name topics.yaml, which has no part in them:\n%s", got)
			}
		})
	}
}
