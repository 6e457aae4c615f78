package producers_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/producers"
	"github.com/streamview/streamview/schemas"
)

const (
	productA = "0b7e6a3c-1d2e-4f50-8a9b-0c1d2e3f4a5b"
	productB = "1c8f7b4d-2e3f-4061-9bac-1d2e3f405b6c"
	subA     = "2d908c5e-3f40-4172-8cbd-2e3f40516c7d"
)

var (
	t0  = time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	ids = rand.New(rand.NewPCG(6, 12))
)

// event builds an event of typ at version v; aggregate types follow the
// payload's.
func event(id string, v int64, data schemas.EventData) schemas.Event {
	typ := schemas.AggregateProduct
	switch data.(type) {
	case *schemas.SubscriptionCreated, *schemas.SubscriptionDeleted:
		typ = schemas.AggregateSubscription
	case *schemas.CategoryRenamed:
		typ = schemas.AggregateCategory
	}
	return schemas.Event{
		ID: eventgen.UUID(ids), AggregateType: typ, AggregateID: id, Version: v, Timestamp: t0.Add(time.Duration(v) * time.Second),
		Metadata: schemas.Metadata{CorrelationID: eventgen.UUID(ids), CausationID: eventgen.UUID(ids), UserID: "test"},
		Data:     data,
	}
}

func created() schemas.EventData {
	return &schemas.ProductCreated{Name: "Lamp", Price: schemas.Money{Amount: 1999, Currency: "EUR"},
		CategoryID: "lighting", CategoryName: "Lighting", BrandID: "lumen", BrandName: "Lumen", Stock: 3}
}

func stock(q int64) schemas.EventData {
	return &schemas.ProductStockChanged{OldQuantity: q - 1, Quantity: q}
}

func TestContinues(t *testing.T) {
	tests := []struct {
		name string
		head producers.Head
		e    schemas.Event
		want string // "" continues; else a part of the error
	}{
		{"creation of a new product", producers.Head{}, event(productA, 1, created()), ""},
		{"the next version", producers.Head{Version: 3}, event(productA, 4, stock(4)), ""},
		{"a new product's first event not its creation", producers.Head{}, event(productA, 1, stock(4)),
			"product " + productA + " has no events in the log: its first must be ProductCreated version 1, not ProductStockChanged"},
		{"a new product at version 2", producers.Head{}, event(productA, 2, stock(4)),
			"its first must be ProductCreated version 1, not ProductStockChanged version 2"},
		{"a gap", producers.Head{Version: 3}, event(productA, 5, stock(4)),
			"stands at version 3: the next event is version 4, not ProductStockChanged version 5"},
		{"a version the log has", producers.Head{Version: 3}, event(productA, 3, stock(4)),
			"the next event is version 4, not ProductStockChanged version 3"},
		{"a second creation", producers.Head{Version: 3}, event(productA, 4, created()),
			"exists (version 3): ProductCreated again at version 4"},
		{"after the discontinuation", producers.Head{Version: 3, Ended: schemas.TypeProductDiscontinued}, event(productA, 4, stock(4)),
			"ended at version 3 (ProductDiscontinued): no event follows"},
		{"a log that does not decode", producers.Head{Version: 2, Broken: "the event at t partition 0 offset 7 does not decode"}, event(productA, 3, stock(4)),
			"the log cannot say where it stands: the event at t partition 0 offset 7"},
		{"a subscription's creation", producers.Head{}, event(subA, 1, &schemas.SubscriptionCreated{ProductID: productA, URL: "https://h.example/x", Events: []string{schemas.NotifyPriceDrop}}), ""},
		{"a subscription deleted before created", producers.Head{}, event(subA, 1, &schemas.SubscriptionDeleted{}),
			"subscription " + subA + " has no events in the log: its first must be SubscriptionCreated version 1"},
		{"a category's first rename", producers.Head{}, event("lighting", 1, &schemas.CategoryRenamed{Name: "Lighting"}), ""},
		{"a category at version 2 first", producers.Head{}, event("lighting", 2, &schemas.CategoryRenamed{Name: "Lighting"}),
			"category:lighting has no events in the log: its first must be version 1, not CategoryRenamed version 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := producers.Continues(tt.head, tt.e)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && err == nil:
				t.Fatalf("taken, want refused with %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Fatalf("error %q\nwant it to say %q", err, tt.want)
			}
		})
	}
}

// A break is not appended: the aggregate's later events break too, and
// other aggregates are unaffected.
func TestBreaks(t *testing.T) {
	heads := map[producers.Aggregate]producers.Head{{Type: schemas.AggregateProduct, ID: productA}: {Version: 2}}
	events := []schemas.Event{
		event(productA, 3, stock(3)), // continues
		event(productB, 2, stock(2)), // B never created
		event(productA, 5, stock(5)), // gap
		event(productB, 1, created()),
		event(productA, 6, stock(6)), // still a gap: 5 was not appended
		event(productA, 4, stock(4)), // continues 3
	}
	var got []int
	for _, b := range producers.Breaks(heads, events) {
		got = append(got, b.Index)
	}
	if want := []int{1, 2, 4}; !slices.Equal(got, want) {
		t.Fatalf("breaks at %v, want %v", got, want)
	}
	if h := heads[producers.Aggregate{Type: schemas.AggregateProduct, ID: productA}]; h.Version != 2 {
		t.Fatalf("Breaks changed the heads given: %+v", h)
	}
}

// countingDecoder counts the records it decodes.
type countingDecoder struct {
	producers.Decoder
	n int
}

func (c *countingDecoder) DecodeEvent(b []byte) (schemas.Event, error) {
	c.n++
	return c.Decoder.DecodeEvent(b)
}

// HeadReader folds the topic as the decider does, decodes only the
// aggregates asked for, marks one whose record does not decode, and reads
// on from where it stopped.
func TestHeadReader(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	topic := testenv.Topic(t, brokers, "t.heads", 3)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pub := producers.NewPublisher(cl, codec, topic)
	const broken = "a1b2c3d4-0000-4000-8000-000000000000"
	events := []schemas.Event{
		event(productA, 1, created()), event(productB, 1, created()), event(productA, 2, stock(2)),
		event(productA, 2, stock(9)), // a repeat, skipped
		event(productB, 2, &schemas.ProductDiscontinued{Reason: "end of line"}),
		event(subA, 1, &schemas.SubscriptionCreated{ProductID: productA, URL: "https://h.example/x", Events: []string{schemas.NotifyPriceDrop}}),
	}
	if _, err := pub.Publish(ctx, events...); err != nil {
		t.Fatal(err)
	}
	bad := &kgo.Record{Topic: topic, Key: []byte(broken), Value: []byte{0xff, 0x01},
		Headers: []kgo.RecordHeader{{Key: producers.HeaderAggregateID, Value: []byte(broken)}}}
	if err := cl.ProduceSync(ctx, bad).FirstErr(); err != nil {
		t.Fatal(err)
	}

	product := func(id string) producers.Aggregate {
		return producers.Aggregate{Type: schemas.AggregateProduct, ID: id}
	}
	want := map[producers.Aggregate]bool{product(productA): true, product(productB): true, product(broken): true,
		product("4f000000-0000-4000-8000-000000000000"): true, {Type: schemas.AggregateSubscription, ID: subA}: true}
	// Events of a product not asked for are read, not decoded.
	other := eventgen.UUID(ids)
	if _, err := pub.Publish(ctx, event(other, 1, created()), event(other, 2, stock(2))); err != nil {
		t.Fatal(err)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(brokers...)}
	dec := &countingDecoder{Decoder: codec}
	r := &producers.HeadReader{Opts: opts, Admin: kadm.NewClient(cl), Topic: topic, Decoder: dec, Want: want, Progress: func(read, total int64) {
		if read > total {
			t.Errorf("progress %d/%d", read, total)
		}
	}}
	if err := r.Read(ctx); err != nil {
		t.Fatal(err)
	}
	heads := r.Heads()
	if h := heads[product(productA)]; h != (producers.Head{Version: 2}) {
		t.Errorf("product A: %+v, want version 2", h)
	}
	if h := heads[product(productB)]; h != (producers.Head{Version: 2, Ended: schemas.TypeProductDiscontinued}) {
		t.Errorf("product B: %+v, want version 2, ended", h)
	}
	if h := heads[producers.Aggregate{Type: schemas.AggregateSubscription, ID: subA}]; h.Version != 1 {
		t.Errorf("subscription: %+v, want version 1", h)
	}
	if h := heads[product(broken)]; !strings.Contains(h.Broken, "does not decode") || !strings.Contains(h.Broken, topic) {
		t.Errorf("undecodable record's aggregate: %+v, want it broken, naming where", h)
	}
	if h, ok := heads[product("4f000000-0000-4000-8000-000000000000")]; ok {
		t.Errorf("a product the log has no event of: %+v", h)
	}
	if len(heads) != 4 {
		t.Errorf("%d heads, want 4: %+v", len(heads), heads)
	}
	if dec.n != len(events)+1 {
		t.Errorf("%d records decoded, want the %d of the aggregates asked for", dec.n, len(events)+1)
	}

	// A second read goes on from where the first stopped: it decodes
	// only what was written since.
	if _, err := pub.Publish(ctx, event(productA, 3, stock(3)), event(other, 3, stock(3))); err != nil {
		t.Fatal(err)
	}
	if err := r.Read(ctx); err != nil {
		t.Fatal(err)
	}
	if h := r.Heads()[product(productA)]; h.Version != 3 {
		t.Errorf("product A after the second read: %+v, want version 3", h)
	}
	if dec.n != len(events)+1+1 {
		t.Errorf("%d records decoded after the second read, want one more than the %d before", dec.n, len(events)+1)
	}

	missing := &producers.HeadReader{Opts: opts, Admin: kadm.NewClient(cl), Topic: topic + ".none", Decoder: codec, Want: want}
	if err := missing.Read(ctx); err != nil || len(missing.Heads()) != 0 {
		t.Fatalf("a missing topic: %v, %v; want no heads, no error", missing.Heads(), err)
	}
}

// Events are keyed as the decider keys them, so that publish puts them on
// the partition whose decider keeps their aggregate.
func TestRecordKey(t *testing.T) {
	sub := schemas.SubscriptionID(productA, "7c9e6679-7425-40de-944b-e07fc1f90ae7")
	for _, tc := range []struct {
		name string
		e    schemas.Event
		want string
	}{
		{"a product's", event(productA, 1, created()), productA},
		{"a subscription's creation", event(sub, 1, &schemas.SubscriptionCreated{ProductID: productA}), productA},
		{"a subscription's deletion", event(sub, 2, &schemas.SubscriptionDeleted{ProductID: productA}), productA},
		{"a subscription's without its product", event(sub, 2, &schemas.SubscriptionDeleted{}), productA},
		{"a category's", event("lighting", 1, &schemas.CategoryRenamed{Name: "Lighting"}), "category:lighting"},
	} {
		if got := producers.RecordKey(tc.e); got != tc.want {
			t.Errorf("%s: key %q, want %q", tc.name, got, tc.want)
		}
	}
}

// A record without headers that does not decode stops what the decider
// would stop by its key: a category by its reference key; a product, and
// the subscriptions that follow it, by the product's ID.
func TestHeadReaderBrokenByKey(t *testing.T) {
	brokers := testenv.KafkaOrFake(t)
	topic := testenv.Topic(t, brokers, "t.heads", 2)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, key := range []string{"category:lighting", productA} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte{0xff}}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	sub := producers.Aggregate{Type: schemas.AggregateSubscription, ID: schemas.SubscriptionID(productA, "7c9e6679-7425-40de-944b-e07fc1f90ae7")}
	category := producers.Aggregate{Type: schemas.AggregateCategory, ID: "lighting"}
	brand := producers.Aggregate{Type: schemas.AggregateBrand, ID: "lighting"}
	product := producers.Aggregate{Type: schemas.AggregateProduct, ID: productA}
	other := producers.Aggregate{Type: schemas.AggregateProduct, ID: productB}
	r := &producers.HeadReader{Opts: []kgo.Opt{kgo.SeedBrokers(brokers...)}, Admin: kadm.NewClient(cl), Topic: topic, Decoder: codec,
		Want: map[producers.Aggregate]bool{sub: true, category: true, brand: true, product: true, other: true}}
	if err := r.Read(ctx); err != nil {
		t.Fatal(err)
	}
	for a, broken := range map[producers.Aggregate]bool{sub: true, category: true, brand: false, product: true, other: false} {
		if got := r.Heads()[a].Broken != ""; got != broken {
			t.Errorf("%s: broken %v, want %v (%+v)", a, got, broken, r.Heads()[a])
		}
	}
}
