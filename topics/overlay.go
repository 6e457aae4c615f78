package topics

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"

	"go.yaml.in/yaml/v3"
)

// Overlay adapts a Spec to one environment (a cluster of three brokers, a
// laptop) without copying it: what it sets wins, everything else stays as
// topics.yaml declares it. topics.cluster.yaml is the one for a cluster of
// three or more brokers.
type Overlay struct {
	// ReplicationFactor, when > 0, replaces the replication of every topic
	// (the Spec's default and the topics' own).
	ReplicationFactor int16 `yaml:"replicationFactor"`
	// Configs are set on every topic (min.insync.replicas, for one).
	Configs map[string]string `yaml:"configs"`
	// Topics change single topics, by name; every name must be declared.
	Topics []TopicOverlay `yaml:"topics"`
	// File is the overlay's file (LoadOverlay sets it), named by what
	// Compare refuses about a value it set; "" reads as "the overlay".
	File string `yaml:"-"`
}

// TopicOverlay changes one declared topic.
type TopicOverlay struct {
	Name string `yaml:"name"`
	// Partitions, when > 0, replaces the topic's partition count (a new
	// environment may want more; co-partitioned topics must still agree).
	Partitions int32 `yaml:"partitions"`
	// ReplicationFactor, when > 0, replaces the topic's replication.
	ReplicationFactor int16             `yaml:"replicationFactor"`
	Configs           map[string]string `yaml:"configs"`
}

// LoadOverlay reads an overlay file strictly (unknown keys are errors).
func LoadOverlay(path string) (Overlay, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Overlay{}, fmt.Errorf("topics: %w", err)
	}
	var o Overlay
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&o); err != nil {
		return Overlay{}, fmt.Errorf("topics: %s: %w", path, err)
	}
	o.File = path
	return o, nil
}

// source is what names the overlay as the origin of a value.
func (o Overlay) source() string {
	if o.File == "" {
		return "the overlay"
	}
	return o.File
}

// With returns s with the overlay applied, validated; s is not modified.
func (s Spec) With(o Overlay) (Spec, error) {
	out := s
	out.Topics = make([]Topic, len(s.Topics))
	var errs []error
	if o.ReplicationFactor < 0 {
		errs = append(errs, fmt.Errorf("overlay: replicationFactor must be positive, got %d", o.ReplicationFactor))
	}
	if o.ReplicationFactor > 0 {
		out.ReplicationFactor = o.ReplicationFactor
	}
	index := map[string]int{}
	for i, t := range s.Topics {
		t.Configs = maps.Clone(t.Configs)
		if t.Configs == nil && len(o.Configs) > 0 {
			t.Configs = map[string]string{}
		}
		maps.Copy(t.Configs, o.Configs)
		if o.ReplicationFactor > 0 {
			t.ReplicationFactor = o.ReplicationFactor
			t.replicationFrom = o.source()
		}
		out.Topics[i] = t
		index[t.Name] = i
	}
	for _, to := range o.Topics {
		i, ok := index[to.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("overlay: topic %s is not declared in the topics file", to.Name))
			continue
		}
		t := &out.Topics[i]
		if to.Partitions < 0 || to.ReplicationFactor < 0 {
			errs = append(errs, fmt.Errorf("overlay: topic %s: partitions and replicationFactor must be positive (or left out), got %d and %d", to.Name, to.Partitions, to.ReplicationFactor))
		}
		if to.Partitions > 0 {
			t.Partitions = to.Partitions
			t.partitionsFrom = o.source()
		}
		if to.ReplicationFactor > 0 {
			t.ReplicationFactor = to.ReplicationFactor
			t.replicationFrom = o.source()
		}
		if len(to.Configs) > 0 && t.Configs == nil {
			t.Configs = map[string]string{}
		}
		maps.Copy(t.Configs, to.Configs)
	}
	if err := errors.Join(errs...); err != nil {
		return Spec{}, err
	}
	if err := out.Validate(); err != nil {
		return Spec{}, fmt.Errorf("with the overlay: %w", err)
	}
	return out, nil
}
