package webhook

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors/deadletter"
	"github.com/streamview/streamview/schemas"
	"github.com/streamview/streamview/sinks/redisnotify"
	"github.com/streamview/streamview/sinks/redisview/redistest"
)

// A re-driven dead letter lands in the events topic at a new offset; it
// notifies the subscriptions live at the offset its event first had, not
// those made since. Copies re-driven by this build say where that was;
// those of an older build name their dead letter, which says; a copy
// whose dead letter is gone notifies nobody. A re-drive of the notifier's
// own dead letter of a record it could not decode notifies those live at
// the record's offset.
func TestRedrivenEventNotifiesAtItsOrigin(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	for _, c := range []struct {
		name string
		old  bool // no deadletter.HeaderRedrivenOrigin: the letter says
	}{{"re-driven by this build", false}, {"re-driven by a build that wrote no origin", true}} {
		t.Run(c.name, func(t *testing.T) { testRedriven(t, brokers, c.old) })
	}
}

func testRedriven(t *testing.T, brokers []string, old bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	viewDLQ := testenv.Topic(t, brokers, "webhook-view-dlq", 1)
	ownDLQ := testenv.Topic(t, brokers, "webhook-own-dlq", 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	store := redisnotify.New(redistest.Miniredis(t), "")
	n, err := New(Config{Topic: "events", DeadLetterTopic: ownDLQ}, codec, store)
	if err != nil {
		t.Fatal(err)
	}

	product := schemas.NameUUID([16]byte{1}, "redriven product")
	subID := func(name string) string {
		return schemas.SubscriptionID(product, schemas.NameUUID([16]byte{2}, name))
	}
	early, late, later := subID("early"), subID("late"), subID("later")
	now := time.Now().UTC().Truncate(time.Millisecond)
	at := int64(0)
	record := func(e schemas.Event) *kgo.Record {
		t.Helper()
		e.Timestamp = now
		e.Metadata = schemas.Metadata{CorrelationID: "c", CausationID: schemas.NameUUID([16]byte{4}, e.ID), UserID: "test"}
		b, err := codec.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		return &kgo.Record{Topic: "events", Key: []byte(product), Value: b}
	}
	log := func(r *kgo.Record) *kgo.Record { // r at the log's next offset
		r.Offset = at
		at++
		return r
	}
	subscribe := func(id string) *kgo.Record {
		return log(record(schemas.Event{ID: schemas.NameUUID([16]byte{3}, id), AggregateType: schemas.AggregateSubscription, AggregateID: id, Version: 1,
			Data: &schemas.SubscriptionCreated{ProductID: product, URL: "http://127.0.0.1/" + id[:6], Events: []string{schemas.NotifyPriceDrop}, Secret: "s"}}))
	}
	drop := func(name string, v, from, to int64) (*kgo.Record, string) {
		id := schemas.NameUUID([16]byte{3}, name)
		return record(schemas.Event{ID: id, AggregateType: schemas.AggregateProduct, AggregateID: product, Version: v,
			Data: &schemas.ProductPriceChanged{OldPrice: schemas.Money{Amount: from, Currency: "EUR"}, NewPrice: schemas.Money{Amount: to, Currency: "EUR"}}}), id
	}
	// letter dead-letters r into topic as projection would, and returns
	// the letter as the dead-letter topic holds it.
	letter := func(r *kgo.Record, projection, topic string) deadletter.Letter {
		t.Helper()
		res, err := cl.ProduceSync(ctx, deadletter.Record(r, errors.New("cannot apply"), projection, topic)).First()
		if err != nil {
			t.Fatal(err)
		}
		return deadletter.FromRecord(res)
	}
	redrive := func(l deadletter.Letter) *kgo.Record {
		t.Helper()
		r, err := l.RedriveRecord()
		if err != nil {
			t.Fatal(err)
		}
		if old {
			r.Headers = slices.DeleteFunc(r.Headers, func(h kgo.RecordHeader) bool { return h.Key == deadletter.HeaderRedrivenOrigin })
		}
		return log(r)
	}

	first := []*kgo.Record{log(record(schemas.Event{ID: schemas.NameUUID([16]byte{3}, "created"), AggregateType: schemas.AggregateProduct,
		AggregateID: product, Version: 1, Data: &schemas.ProductCreated{Name: "W", Price: schemas.Money{Amount: 5000, Currency: "EUR"}}}))}
	first = append(first, subscribe(early))
	dropped, e1 := drop("50.00 to 40.00", 2, 5000, 4000)
	first = append(first, log(dropped)) // the product view dead-letters it
	first = append(first, subscribe(late))
	if err := n.queue(ctx, cl, first); err != nil {
		t.Fatal(err)
	}
	viewLetter := letter(dropped, "streamview.product-view.g1", viewDLQ)

	// The notifier could not decode e2's record when it read it (an older
	// build, say) and dead-lettered it itself.
	undecoded, e2 := drop("40.00 to 30.00", 3, 4000, 3000)
	log(undecoded)
	ownLetter := letter(undecoded, Group, ownDLQ)
	second := []*kgo.Record{subscribe(later)}
	second = append(second, redrive(viewLetter))
	gone := redrive(viewLetter) // its dead letter gone since
	gone.Headers = []kgo.RecordHeader{{Key: deadletter.HeaderRedrivenFrom, Value: []byte(viewDLQ + "/" + strconv.Itoa(1000))}}
	second = append(second, gone, redrive(ownLetter))
	if err := n.queue(ctx, cl, second); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name, sub string
		want      []string // event IDs, in queue order
	}{
		{"subscribed before both drops", early, []string{e1, e2}},
		{"subscribed between them", late, []string{e2}},
		{"subscribed after both", later, nil},
	} {
		var got []string
		for {
			note, _, ok, err := store.Head(ctx, c.sub)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				break
			}
			got = append(got, strings.TrimSuffix(note.WebhookID, "."+c.sub))
			if note.Offset != map[string]int64{e1: dropped.Offset, e2: undecoded.Offset}[got[len(got)-1]] {
				t.Errorf("%s: %s queued at offset %d, want its first offset", c.name, note.WebhookID, note.Offset)
			}
			if err := store.Delivered(ctx, note, now); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: notified of %v, want %v", c.name, got, c.want)
		}
	}
	if q := n.Stats().Queued; q != 3 {
		t.Errorf("queued %d notifications, want 3", q)
	}
}
