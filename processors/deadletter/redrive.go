package deadletter

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Redriven says where a re-driven letter landed.
type Redriven struct {
	Letter Letter
	// Record is the record produced, with its topic, partition and
	// offset.
	Record *kgo.Record
}

// Redrive produces the RedriveRecord of each letter with cl and waits until
// the broker has acknowledged them all. It first checks that every letter
// names a source topic and that each source topic exists, and produces
// nothing otherwise. Letters of one source partition are produced in the
// order given (the dead-letter topic's order when they come from Reader),
// so an aggregate's events arrive in their original order.
//
// On a produce error the result holds the letters that landed, in the order
// given, and the error names the others. The letters stay in the
// dead-letter topic.
func Redrive(ctx context.Context, cl *kgo.Client, letters []Letter) ([]Redriven, error) {
	recs := make([]*kgo.Record, len(letters))
	var (
		errs   []error
		topics []string
		seen   = map[string]bool{}
	)
	for i, l := range letters {
		r, err := l.RedriveRecord()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		recs[i] = r
		if !seen[r.Topic] {
			seen[r.Topic] = true
			topics = append(topics, r.Topic)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("deadletter: nothing re-driven: %w", errors.Join(errs...))
	}
	if len(topics) > 0 {
		tds, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
		if err != nil {
			return nil, fmt.Errorf("deadletter: source topics: %w", err)
		}
		tds.EachError(func(td kadm.TopicDetail) {
			errs = append(errs, fmt.Errorf("source topic %s: %w", td.Topic, td.Err))
		})
		if len(errs) > 0 {
			return nil, fmt.Errorf("deadletter: nothing re-driven: %w", errors.Join(errs...))
		}
	}

	index := make(map[*kgo.Record]int, len(recs))
	for i, r := range recs {
		index[r] = i
	}
	landed := make([]bool, len(recs))
	for _, res := range cl.ProduceSync(ctx, recs...) {
		i := index[res.Record]
		if res.Err != nil {
			errs = append(errs, fmt.Errorf("%s to %s: %w", letters[i].ID(), res.Record.Topic, res.Err))
			continue
		}
		landed[i] = true
	}
	out := make([]Redriven, 0, len(recs))
	for i, ok := range landed {
		if ok {
			out = append(out, Redriven{Letter: letters[i], Record: recs[i]})
		}
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("deadletter: %d of %d not re-driven: %w", len(errs), len(recs), errors.Join(errs...))
	}
	return out, nil
}
