package deadletter_test

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamview/streamview/processors/deadletter"
)

func ExampleLetter_RedriveRecord() {
	l := deadletter.FromRecord(&kgo.Record{
		Topic: "catalog.product-view.dlq", Offset: 42, Key: []byte("0b7e…"), Value: []byte("…"),
		Headers: []kgo.RecordHeader{
			{Key: "event-type", Value: []byte("ProductPriceChanged")},
			{Key: deadletter.HeaderReason, Value: []byte("rejected")},
			{Key: deadletter.HeaderSourceTopic, Value: []byte("catalog.product-events")},
		},
	})
	r, err := l.RedriveRecord()
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Topic)
	for _, h := range r.Headers {
		fmt.Printf("%s: %s\n", h.Key, h.Value)
	}
	// Output:
	// catalog.product-events
	// event-type: ProductPriceChanged
	// dlq-redriven-from: catalog.product-view.dlq/42
}
