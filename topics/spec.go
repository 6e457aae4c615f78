package topics

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"

	"go.yaml.in/yaml/v3"
)

// Spec is the content of topics.yaml.
type Spec struct {
	// ReplicationFactor of every topic that does not name its own; 1 when 0.
	ReplicationFactor int16 `yaml:"replicationFactor"`
	// Copartition lists groups of topics that must share a partition count.
	Copartition [][]string `yaml:"copartition"`
	Topics      []Topic    `yaml:"topics"`
	// File is the file the spec was read from (Load sets it), named by
	// what Compare refuses about a value from it; "" reads as topics.yaml.
	File string `yaml:"-"`
}

// Topic is one declared topic.
type Topic struct {
	Name       string `yaml:"name"`
	Partitions int32  `yaml:"partitions"`
	// ReplicationFactor overrides Spec.ReplicationFactor when > 0.
	ReplicationFactor int16 `yaml:"replicationFactor"`
	// Keyed topics never change their partition count in place.
	Keyed   bool              `yaml:"keyed"`
	Configs map[string]string `yaml:"configs"`
	// The overlay files that set the partitions and the replication
	// (Spec.With); "" for the spec's own file.
	partitionsFrom, replicationFrom string
}

// Load reads and validates a topics file.
func Load(path string) (Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("topics: %w", err)
	}
	s, err := Parse(b)
	if err != nil {
		return Spec{}, fmt.Errorf("topics: %s: %w", path, err)
	}
	s.File = path
	return s, nil
}

// Parse decodes a topics file strictly (unknown keys are errors) and
// validates it.
func Parse(b []byte) (Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Spec{}, err
	}
	return s, s.Validate()
}

// Validate reports every problem of s at once.
func (s Spec) Validate() error {
	var errs []error
	seen := map[string]Topic{}
	for i, t := range s.Topics {
		switch {
		case t.Name == "":
			errs = append(errs, fmt.Errorf("topics[%d]: name is required", i))
		case seen[t.Name].Name != "":
			errs = append(errs, fmt.Errorf("topics[%d]: %s is declared twice", i, t.Name))
		}
		if t.Partitions < 1 {
			errs = append(errs, fmt.Errorf("topics[%d] %s: partitions must be at least 1", i, t.Name))
		}
		if t.ReplicationFactor < 0 {
			errs = append(errs, fmt.Errorf("topics[%d] %s: replicationFactor must be positive", i, t.Name))
		}
		seen[t.Name] = t
	}
	for i, group := range s.Copartition {
		if len(group) < 2 {
			errs = append(errs, fmt.Errorf("copartition[%d]: needs at least two topics", i))
			continue
		}
		first, ok := seen[group[0]]
		for _, name := range group {
			t, found := seen[name]
			if !found {
				errs = append(errs, fmt.Errorf("copartition[%d]: %s is not declared", i, name))
				ok = false
				continue
			}
			if ok && t.Partitions != first.Partitions {
				errs = append(errs, fmt.Errorf("copartition[%d]: %s has %d partitions but %s has %d; co-partitioned topics need the same count",
					i, name, t.Partitions, first.Name, first.Partitions))
			}
		}
	}
	return errors.Join(errs...)
}

// Topic returns the declared topic called name.
func (s Spec) Topic(name string) (Topic, bool) {
	for _, t := range s.Topics {
		if t.Name == name {
			return t, true
		}
	}
	return Topic{}, false
}

// source names the file a value came from: from, the overlay that set it,
// or else the spec's file.
func (s Spec) source(from string) string {
	switch {
	case from != "":
		return from
	case s.File != "":
		return s.File
	}
	return "topics.yaml"
}

func (s Spec) replication(t Topic) int16 {
	switch {
	case t.ReplicationFactor > 0:
		return t.ReplicationFactor
	case s.ReplicationFactor > 0:
		return s.ReplicationFactor
	}
	return 1
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
