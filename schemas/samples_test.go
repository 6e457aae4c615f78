package schemas

import (
	"flag"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const (
	productID     = "0b6e0d8c-5d1e-4c71-9a38-2f4f1c1f6a01"
	commandID     = "6f1c2b9e-8f0a-4a43-b7a5-0d7e2f3c4b02"
	eventID       = "c3a1e5f2-7b6d-4e8f-9a0b-1c2d3e4f5a03"
	reviewID      = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b04"
	correlationID = "req-7f3a"
)

var (
	at   = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	meta = Metadata{CorrelationID: correlationID, CausationID: commandID, UserID: "alice"}
)

func ptr[T any](v T) *T { return &v }

func eur(cents int64) Money { return Money{Amount: cents, Currency: "EUR"} }

func event(version int64, data EventData) Event {
	return Event{
		ID: eventID, AggregateType: AggregateProduct, AggregateID: productID,
		Version: version, Timestamp: at, Metadata: meta, Data: data,
	}
}

func command(expected *int64, data CommandData) Command {
	return Command{
		ID: commandID, ProductID: productID, IssuedAt: at,
		Metadata:        Metadata{CorrelationID: correlationID, UserID: "alice"},
		ExpectedVersion: expected, IdempotencyKey: "key-1", Data: data,
	}
}

// sampleEvents are valid events of every type, with optional fields nil,
// empty and filled. Plain (not nullable) arrays are non-nil: they decode
// as non-nil slices.
var sampleEvents = []struct {
	name string
	e    Event
}{
	{"created", event(1, &ProductCreated{
		Name: "Kettle", Description: "1.7 l, steel", Price: eur(3999),
		CategoryID: "c1", CategoryName: "Kitchen", BrandID: "b1", BrandName: "Acme",
		Tags: []string{"kitchen", "steel"}, ImageURLs: []string{"https://img/1.jpg"}, Stock: 12,
	})},
	{"created with empty lists", event(1, &ProductCreated{
		Name: "Kettle", Price: eur(1), Tags: []string{}, ImageURLs: []string{},
	})},
	{"details all fields", event(2, &ProductDetailsUpdated{
		Name: ptr("Kettle 2"), Description: ptr(""), Tags: []string{"a"}, ImageURLs: []string{"u"},
		CategoryID: ptr("c2"), CategoryName: ptr("Home"), BrandID: ptr("b2"), BrandName: ptr("Bolt"),
	})},
	{"details name only, lists unchanged (nil)", event(2, &ProductDetailsUpdated{Name: ptr("Kettle 2")})},
	{"details lists cleared (empty)", event(2, &ProductDetailsUpdated{Tags: []string{}, ImageURLs: []string{}})},
	{"price changed", event(3, &ProductPriceChanged{OldPrice: eur(3999), NewPrice: eur(3499)})},
	{"stock changed to zero", event(4, &ProductStockChanged{OldQuantity: 12, Quantity: 0})},
	{"review added", event(5, &ProductReviewAdded{ReviewID: reviewID, Rating: 5, UserID: "bob", Comment: "Boils fast ☕"})},
	{"discontinued", event(6, &ProductDiscontinued{Reason: "replaced by model 2"})},
	{"discontinued without reason", event(6, &ProductDiscontinued{})},
	{"subscription created", subscriptionEvent(1, &SubscriptionCreated{ProductID: productID, URL: "http://127.0.0.1:9/hook", Events: []string{NotifyPriceDrop, NotifyBackInStock}, Secret: "s3cret"})},
	{"subscription deleted", subscriptionEvent(2, &SubscriptionDeleted{ProductID: productID})},
	{"category named", referenceEvent(AggregateCategory, "kitchen", 1, &CategoryRenamed{Name: "Kitchen"})},
	{"brand renamed", referenceEvent(AggregateBrand, "acme.co", 3, &BrandRenamed{Name: "Acme ☕"})},
}

func referenceEvent(aggregateType, id string, version int64, data EventData) Event {
	e := event(version, data)
	e.AggregateType, e.AggregateID = aggregateType, id
	return e
}

// subscriptionID is a subscription of productID.
var subscriptionID = SubscriptionID(productID, reviewID)

func subscriptionEvent(version int64, data EventData) Event {
	e := event(version, data)
	e.AggregateType, e.AggregateID = AggregateSubscription, subscriptionID
	return e
}

var sampleCommands = []struct {
	name string
	c    Command
}{
	{"create", command(nil, &CreateProduct{
		Name: "Kettle", Description: "1.7 l", Price: eur(3999), CategoryID: "c1", CategoryName: "Kitchen",
		BrandID: "b1", BrandName: "Acme", Tags: []string{"kitchen"}, ImageURLs: []string{}, Stock: 3,
	})},
	{"update all fields, If-Match", command(ptr[int64](4), &UpdateProductDetails{
		Name: ptr("Kettle 2"), Description: ptr("d"), Tags: []string{"x"}, ImageURLs: []string{},
		CategoryID: ptr("c2"), CategoryName: ptr("Home"), BrandID: ptr("b2"), BrandName: ptr("Bolt"),
	})},
	{"update description only", command(nil, &UpdateProductDetails{Description: ptr("new")})},
	{"update clears tags", command(nil, &UpdateProductDetails{Tags: []string{}})},
	{"change price", command(ptr[int64](1), &ChangeProductPrice{Price: eur(2500)})},
	{"change stock", command(nil, &ChangeProductStock{Quantity: 0})},
	{"add review", command(nil, &AddProductReview{Rating: 1, UserID: "bob", Comment: ""})},
	{"discontinue", command(nil, &DiscontinueProduct{Reason: "eol"})},
	{"subscribe", command(nil, &CreateSubscription{SubscriptionID: subscriptionID, URL: "http://127.0.0.1:9/hook", Events: []string{NotifyPriceDrop}, Secret: "k"})},
	{"unsubscribe", command(nil, &DeleteSubscription{SubscriptionID: subscriptionID})},
	{"rename category", referenceCommand(AggregateCategory, "home.kitchen_1", ptr[int64](2), &RenameCategory{Name: "Kitchen"})},
	{"rename brand", referenceCommand(AggregateBrand, "acme", nil, &RenameBrand{Name: "ACME Corp"})},
}

// referenceCommand is command for the category or brand id.
func referenceCommand(typ, id string, expected *int64, data CommandData) Command {
	c := command(expected, data)
	c.ProductID = ReferenceKey(typ, id)
	return c
}

var sampleResults = []struct {
	name string
	r    CommandResult
}{
	{"accepted", CommandResult{CommandID: commandID, ProductID: productID, Status: StatusAccepted, Version: 7, DecidedAt: at, IdempotencyKey: "key-1"}},
	{"rejected", CommandResult{CommandID: commandID, ProductID: productID, Status: StatusRejected, Code: RejectConflict, Reason: "at version 8, not 7", Version: 8, DecidedAt: at}},
}
