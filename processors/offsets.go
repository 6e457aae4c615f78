package processors

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ErrGroupActive is returned (wrapped, naming the members) when offsets of a
// group with live members would be reset: they would overwrite the reset
// with their next commit.
var ErrGroupActive = errors.New("consumer group has live members")

// ResetToStart sets group's committed offset of every partition of topic to
// the partition's start offset (the log start, not a literal 0: retention may
// have removed the head). The group must have no live members.
func ResetToStart(ctx context.Context, adm *kadm.Client, group, topic string, dryRun bool) (kadm.Offsets, error) {
	if err := ensureEmpty(ctx, adm, group); err != nil {
		return nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list start offsets of %s: %w", topic, err)
	}
	if err := starts.Error(); err != nil {
		return nil, fmt.Errorf("list start offsets of %s: %w", topic, err)
	}
	offsets := starts.Offsets()
	if dryRun {
		return offsets, nil
	}
	if err := adm.CommitAllOffsets(ctx, group, offsets); err != nil {
		return nil, fmt.Errorf("reset offsets of group %s on %s: %w", group, topic, err)
	}
	return offsets, nil
}

func ensureEmpty(ctx context.Context, adm *kadm.Client, group string) error {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return fmt.Errorf("describe group %s: %w", group, err)
	}
	g, ok := described[group]
	if !ok || errors.Is(g.Err, kerr.GroupIDNotFound) {
		return nil
	}
	if g.Err != nil {
		return fmt.Errorf("describe group %s: %w", group, g.Err)
	}
	if len(g.Members) == 0 {
		return nil
	}
	var names []string
	for _, m := range g.Members {
		names = append(names, fmt.Sprintf("%s (client %s on %s)", m.MemberID, m.ClientID, m.ClientHost))
	}
	sort.Strings(names)
	return fmt.Errorf("%w: group %s is %s with %d member(s): %s; stop the processes they run in first (`streamview serve` with the role, or `streamview dev`)",
		ErrGroupActive, group, strings.ToLower(g.State), len(names), strings.Join(names, ", "))
}

// PartitionLag is one partition's progress in a group.
type PartitionLag struct {
	Partition int32 `json:"partition"`
	Committed int64 `json:"committed"` // next offset the group reads; -1 when none committed
	// LastApplied is Committed - 1: the projector commits the offset
	// after the last record it handled, so this is that record's offset.
	// The record is an event (stored, skipped as stored already, or
	// dead-lettered) or, on a topic written in transactions such as the
	// events topic, a transaction's marker (commit or abort), which the
	// projector reads so that its commits move past it. After the group's
	// offsets are reset (replay) to S, it is S - 1 until the group has
	// handled a record. Absent while Committed is 0 or less.
	LastApplied *int64 `json:"lastApplied,omitempty"`
	End         int64  `json:"end"` // log end offset
	Lag         int64  `json:"lag"`
}

// Lag reports per partition how far group is behind the end of topic.
func Lag(ctx context.Context, adm *kadm.Client, group, topic string) ([]PartitionLag, error) {
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	committed, err := adm.FetchOffsetsForTopics(ctx, group, topic)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return nil, fmt.Errorf("fetch offsets of %s: %w", group, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("list start offsets of %s: %w", topic, err)
	}
	var out []PartitionLag
	ends.Each(func(o kadm.ListedOffset) {
		pl := PartitionLag{Partition: o.Partition, Committed: -1, End: o.Offset}
		from := int64(0)
		if s, ok := starts.Lookup(topic, o.Partition); ok {
			from = s.Offset
		}
		if c, ok := committed.Lookup(topic, o.Partition); ok && c.Err == nil && c.At >= 0 {
			pl.Committed = c.At
			if c.At > 0 {
				pl.LastApplied = new(c.At - 1)
			}
			from = c.At
		}
		pl.Lag = max(0, o.Offset-from)
		out = append(out, pl)
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out, nil
}

// HasOffsets reports whether group has committed offsets (a group that
// does not exist has none): whether a consumer has read with it before.
func HasOffsets(ctx context.Context, adm *kadm.Client, group string) (bool, error) {
	offsets, err := committedOffsets(ctx, adm, group)
	return len(offsets) > 0, err
}

// ReadPastStart reports whether group has committed an offset past the
// start offset of a partition of topic: whether it has read anything a
// store could have lost (a group reset to the start has read nothing).
func ReadPastStart(ctx context.Context, adm *kadm.Client, group, topic string) (bool, error) {
	committed, err := committedOffsets(ctx, adm, group)
	if err != nil || len(committed) == 0 {
		return false, err
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return false, fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	read := false
	committed.Each(func(o kadm.OffsetResponse) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); o.Topic == topic && ok && o.At > s.Offset {
			read = true
		}
	})
	return read, nil
}

// committedOffsets are group's committed offsets; none for a group that
// does not exist.
func committedOffsets(ctx context.Context, adm *kadm.Client, group string) (kadm.OffsetResponses, error) {
	offsets, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = offsets.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fetch offsets of group %s: %w", group, err)
	}
	return offsets, nil
}

// CheckIdle returns nil when group has no live members (or does not exist),
// and otherwise an error wrapping ErrGroupActive that names them: what must
// hold before a group's offsets are reset or the group is deleted.
func CheckIdle(ctx context.Context, adm *kadm.Client, group string) error {
	return ensureEmpty(ctx, adm, group)
}
