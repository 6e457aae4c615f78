package rebuild

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// partitionOffsets is one offset per partition of one topic.
type partitionOffsets map[int32]int64

func (o partitionOffsets) String() string {
	parts := make([]int32, 0, len(o))
	for p := range o {
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d@%d", p, o[p])
	}
	return b.String()
}

func listed(topic string, lo kadm.ListedOffsets, err error, what string) (partitionOffsets, error) {
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("rebuild: list %s offsets of %s: %w", what, topic, err)
	}
	out := partitionOffsets{}
	lo.Each(func(o kadm.ListedOffset) {
		if o.Topic == topic {
			out[o.Partition] = o.Offset
		}
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("rebuild: topic %s has no partitions: %w", topic, kerr.UnknownTopicOrPartition)
	}
	return out, nil
}

func startOffsets(ctx context.Context, adm *kadm.Client, topic string) (partitionOffsets, error) {
	lo, err := adm.ListStartOffsets(ctx, topic)
	return listed(topic, lo, err, "start")
}

func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (partitionOffsets, error) {
	lo, err := adm.ListEndOffsets(ctx, topic)
	return listed(topic, lo, err, "end")
}

// committed returns group's committed offsets on topic; partitions without
// a commit are absent.
func committed(ctx context.Context, adm *kadm.Client, group, topic string) (partitionOffsets, error) {
	res, err := adm.FetchOffsetsForTopics(ctx, group, topic)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return partitionOffsets{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rebuild: fetch offsets of group %s: %w", group, err)
	}
	out := partitionOffsets{}
	res.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out, nil
}

// reached reports whether have is at or past want on every partition of
// want.
func reached(have, want partitionOffsets) bool {
	for p, w := range want {
		if have[p] < w {
			return false
		}
	}
	return true
}

// members lists group's live members; none when the group does not exist.
func members(ctx context.Context, adm *kadm.Client, group string) ([]kadm.DescribedGroupMember, error) {
	d, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("rebuild: describe group %s: %w", group, err)
	}
	g, ok := d[group]
	if !ok || errors.Is(g.Err, kerr.GroupIDNotFound) {
		return nil, nil
	}
	if g.Err != nil {
		return nil, fmt.Errorf("rebuild: describe group %s: %w", group, g.Err)
	}
	return g.Members, nil
}

func describeMembers(ms []kadm.DescribedGroupMember) string {
	names := make([]string, 0, len(ms))
	for _, m := range ms {
		names = append(names, fmt.Sprintf("%s (client %s on %s)", m.MemberID, m.ClientID, m.ClientHost))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// deleteGroup deletes an empty group and reports whether it existed.
func deleteGroup(ctx context.Context, adm *kadm.Client, group string) (bool, error) {
	res, err := adm.DeleteGroups(ctx, group)
	if err != nil {
		return false, fmt.Errorf("rebuild: delete group %s: %w", group, err)
	}
	r, ok := res[group]
	switch {
	case !ok, errors.Is(r.Err, kerr.GroupIDNotFound):
		return false, nil
	case r.Err != nil:
		return false, fmt.Errorf("rebuild: delete group %s: %w", group, r.Err)
	}
	return true, nil
}
