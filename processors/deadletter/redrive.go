package deadletter

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Redriven says where a re-driven letter landed.
type Redriven struct {
	Letter Letter
	// Record is the record produced, with its topic, partition and
	// offset.
	Record *kgo.Record
}

// Skipped is a letter a re-drive leaves out, and why (Err wraps
// ErrNoSource, ErrSourceTopic, ErrStillBad or ErrSameRecord).
type Skipped struct {
	Letter Letter
	Err    error
}

// Why a re-drive leaves a letter out.
var (
	// ErrSourceTopic: the topic the letter came from does not exist (any
	// more).
	ErrSourceTopic = errors.New("its source topic cannot be written")
	// ErrStillBad: the record was dead-lettered for what it holds and
	// still fails the same way; re-driven, every projection would only
	// dead-letter it again.
	ErrStillBad = errors.New("the record still fails")
	// ErrSameRecord: another letter of the same re-drive is the same
	// record (its dead letters by several generations, replays or
	// projections); the record is re-driven once.
	ErrSameRecord = errors.New("the same record as another letter re-driven with it")
)

// Check reports why l's record would be dead-lettered again as it is,
// nil when it may be re-driven.
type Check func(l Letter) error

// Decodes is the Check of the projections' decoding: a letter dead-
// lettered for what its record holds (undecodable, unknown schema or event
// type, invalid) is left out when decode (decoding and validating a
// record's value as the projections do, its errors classified as Reason
// does) still fails for the same reason; fixed code or schemas let it
// through. A failure for another reason lets it through too: the caller
// may lack what the projections have (a schema registry), and only the
// projections tell. A letter a store rejected passes: only applying it
// tells.
func Decodes(decode func(value []byte) error) Check {
	return func(l Letter) error {
		switch l.Reason {
		case ReasonUndecodable, ReasonUnknownSchema, ReasonUnknownEventType, ReasonInvalid:
			if err := decode(l.Value); err != nil && Reason(err) == l.Reason {
				return fmt.Errorf("%w (%s): %w", ErrStillBad, l.Reason, err)
			}
		}
		return nil
	}
}

// Plan splits letters into those a re-drive publishes and those it leaves
// out: a letter that names no source topic, or one that does not exist; one
// check refuses (nil: none); and every letter after the first of the same
// record (the same source topic and Origin). The letters kept are in the
// order given. An error means the source topics could not be read.
func Plan(ctx context.Context, cl *kgo.Client, letters []Letter, check Check) (keep []Letter, skipped []Skipped, err error) {
	type origin struct {
		topic string
		at    Position
	}
	var (
		topics []string
		seen   = map[string]bool{}
		first  = map[origin]string{}
	)
	for _, l := range letters {
		if l.SourceTopic != "" && !seen[l.SourceTopic] {
			seen[l.SourceTopic] = true
			topics = append(topics, l.SourceTopic)
		}
	}
	missing := map[string]error{}
	if len(topics) > 0 {
		tds, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
		if err != nil {
			return nil, nil, fmt.Errorf("deadletter: source topics: %w", err)
		}
		// A topic that does not exist is the letter's; any other error
		// (no leader yet, no authorization) is the caller's to retry.
		var errs []error
		tds.EachError(func(td kadm.TopicDetail) {
			if errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
				missing[td.Topic] = td.Err
			} else {
				errs = append(errs, fmt.Errorf("source topic %s: %w", td.Topic, td.Err))
			}
		})
		if len(errs) > 0 {
			return nil, nil, fmt.Errorf("deadletter: %w", errors.Join(errs...))
		}
	}
	for _, l := range letters {
		var why error
		o, known := l.Origin()
		switch {
		case l.SourceTopic == "":
			why = fmt.Errorf("%w: not a projection's dead letter of an event (the notifier's dead letters are notifications, which are not re-driven)", ErrNoSource)
		case missing[l.SourceTopic] != nil:
			why = fmt.Errorf("%w: %s: %w", ErrSourceTopic, l.SourceTopic, missing[l.SourceTopic])
		case check != nil:
			why = check(l)
		}
		if why == nil && known {
			if id, ok := first[origin{l.SourceTopic, o}]; ok {
				why = fmt.Errorf("%w (%s, from %s[%d]@%d)", ErrSameRecord, id, l.SourceTopic, o.Partition, o.Offset)
			} else {
				first[origin{l.SourceTopic, o}] = l.ID()
			}
		}
		if why != nil {
			skipped = append(skipped, Skipped{Letter: l, Err: why})
			continue
		}
		keep = append(keep, l)
	}
	return keep, skipped, nil
}

// Redrive produces the RedriveRecord of each letter Plan keeps with cl
// and waits until the broker has acknowledged them all; it returns the
// letters that landed, in the order given, and those Plan left out.
// Letters of one source partition are produced in the order given (the
// dead-letter topic's order when they come from Reader), so an aggregate's
// events arrive in their original order.
//
// On a produce error the result holds the letters that landed and the
// error names the others. Every letter stays in the dead-letter topic.
func Redrive(ctx context.Context, cl *kgo.Client, letters []Letter, check Check) ([]Redriven, []Skipped, error) {
	keep, skipped, err := Plan(ctx, cl, letters, check)
	if err != nil {
		return nil, nil, err
	}
	recs := make([]*kgo.Record, len(keep))
	index := make(map[*kgo.Record]int, len(keep))
	for i, l := range keep {
		if recs[i], err = l.RedriveRecord(); err != nil {
			return nil, nil, err // Plan kept only letters with a source topic
		}
		index[recs[i]] = i
	}
	var errs []error
	landed := make([]bool, len(recs))
	if len(recs) > 0 {
		for _, res := range cl.ProduceSync(ctx, recs...) {
			i := index[res.Record]
			if res.Err != nil {
				errs = append(errs, fmt.Errorf("%s to %s: %w", keep[i].ID(), res.Record.Topic, res.Err))
				continue
			}
			landed[i] = true
		}
	}
	out := make([]Redriven, 0, len(recs))
	for i, ok := range landed {
		if ok {
			out = append(out, Redriven{Letter: keep[i], Record: recs[i]})
		}
	}
	if len(errs) > 0 {
		return out, skipped, fmt.Errorf("deadletter: %d of %d not re-driven: %w", len(errs), len(recs), errors.Join(errs...))
	}
	return out, skipped, nil
}
