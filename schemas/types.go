package schemas

import "time"

// AggregateProduct is the aggregate type of every product event.
const AggregateProduct = "Product"

// Metadata travels with every command and event: correlationId ties all
// messages of one user request together, causationId names the message that
// caused this one (for an event, the command's ID), userId who asked.
type Metadata struct {
	CorrelationID string `json:"correlationId"`
	CausationID   string `json:"causationId"`
	UserID        string `json:"userId"`
}

// Money is an amount in minor units (cents for EUR) of an ISO 4217 currency.
// It is never a float.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Event is a domain event with its envelope. Data holds one of the
// *Product... payload types below; its EventType names the event.
type Event struct {
	ID            string    `json:"eventId"`
	AggregateType string    `json:"aggregateType"`
	AggregateID   string    `json:"aggregateId"`
	Version       int64     `json:"version"` // 1, 2, 3 … per aggregate, gap-free
	Timestamp     time.Time `json:"timestamp"`
	Metadata      Metadata  `json:"metadata"`
	Data          EventData `json:"data"`
}

// Type is the event type of e's payload, or "" when it has none.
func (e Event) Type() string {
	if e.Data == nil {
		return ""
	}
	return e.Data.EventType()
}

// EventData is the payload of one event type.
type EventData interface {
	EventType() string
}

// Event type names, past tense.
const (
	TypeProductCreated        = "ProductCreated"
	TypeProductDetailsUpdated = "ProductDetailsUpdated"
	TypeProductPriceChanged   = "ProductPriceChanged"
	TypeProductStockChanged   = "ProductStockChanged"
	TypeProductReviewAdded    = "ProductReviewAdded"
	TypeProductDiscontinued   = "ProductDiscontinued"
)

// ProductCreated carries the whole initial state of a product.
type ProductCreated struct {
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Price        Money    `json:"price"`
	CategoryID   string   `json:"categoryId"`
	CategoryName string   `json:"categoryName"`
	BrandID      string   `json:"brandId"`
	BrandName    string   `json:"brandName"`
	Tags         []string `json:"tags"`
	ImageURLs    []string `json:"imageUrls"`
	Stock        int64    `json:"stock"`
}

// ProductDetailsUpdated carries only the fields that changed; nil means
// unchanged. Category and brand change as ID+name pairs.
type ProductDetailsUpdated struct {
	Name         *string  `json:"name,omitempty"`
	Description  *string  `json:"description,omitempty"`
	Tags         []string `json:"tags"`      // nil (JSON null): unchanged; empty non-nil: cleared
	ImageURLs    []string `json:"imageUrls"` // nil (JSON null): unchanged; empty non-nil: cleared
	CategoryID   *string  `json:"categoryId,omitempty"`
	CategoryName *string  `json:"categoryName,omitempty"`
	BrandID      *string  `json:"brandId,omitempty"`
	BrandName    *string  `json:"brandName,omitempty"`
}

// ProductPriceChanged carries the old and the new price.
type ProductPriceChanged struct {
	OldPrice Money `json:"oldPrice"`
	NewPrice Money `json:"newPrice"`
}

// ProductStockChanged carries the old and new quantity on hand.
type ProductStockChanged struct {
	OldQuantity int64 `json:"oldQuantity"`
	Quantity    int64 `json:"quantity"`
}

// ProductReviewAdded is one review; the rating is 1..5.
type ProductReviewAdded struct {
	ReviewID string `json:"reviewId"`
	Rating   int32  `json:"rating"`
	UserID   string `json:"userId"`
	Comment  string `json:"comment"`
}

// ProductDiscontinued ends a product's life; no command is accepted after it.
type ProductDiscontinued struct {
	Reason string `json:"reason"`
}

func (*ProductCreated) EventType() string        { return TypeProductCreated }
func (*ProductDetailsUpdated) EventType() string { return TypeProductDetailsUpdated }
func (*ProductPriceChanged) EventType() string   { return TypeProductPriceChanged }
func (*ProductStockChanged) EventType() string   { return TypeProductStockChanged }
func (*ProductReviewAdded) EventType() string    { return TypeProductReviewAdded }
func (*ProductDiscontinued) EventType() string   { return TypeProductDiscontinued }

// Command is a request to change one aggregate, with its envelope. Data
// holds one of the command payload types below.
type Command struct {
	ID string `json:"commandId"`
	// ProductID is the key of the command's aggregate, which also keys its
	// record on the commands topic: a product's UUID (a subscription's
	// product too), or a category's or brand's ReferenceKey
	// ("category:<id>") for RenameCategory and RenameBrand.
	ProductID string    `json:"productId"`
	IssuedAt  time.Time `json:"issuedAt"`
	Metadata  Metadata  `json:"metadata"`
	// ExpectedVersion, when set (If-Match), rejects the command unless the
	// product is at exactly this version.
	ExpectedVersion *int64      `json:"expectedVersion,omitempty"`
	IdempotencyKey  string      `json:"idempotencyKey,omitempty"`
	Data            CommandData `json:"data"`
}

// Type is the command type of c's payload, or "" when it has none.
func (c Command) Type() string {
	if c.Data == nil {
		return ""
	}
	return c.Data.CommandType()
}

// CommandData is the payload of one command type.
type CommandData interface {
	CommandType() string
}

// Command type names, imperative.
const (
	TypeCreateProduct        = "CreateProduct"
	TypeUpdateProductDetails = "UpdateProductDetails"
	TypeChangeProductPrice   = "ChangeProductPrice"
	TypeChangeProductStock   = "ChangeProductStock"
	TypeAddProductReview     = "AddProductReview"
	TypeDiscontinueProduct   = "DiscontinueProduct"
)

// CreateProduct creates a product under Command.ProductID.
type CreateProduct struct {
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Price        Money    `json:"price"`
	CategoryID   string   `json:"categoryId"`
	CategoryName string   `json:"categoryName"`
	BrandID      string   `json:"brandId"`
	BrandName    string   `json:"brandName"`
	Tags         []string `json:"tags"`
	ImageURLs    []string `json:"imageUrls"`
	Stock        int64    `json:"stock"`
}

// UpdateProductDetails changes the non-nil fields (same shape as the event).
type UpdateProductDetails struct {
	Name         *string  `json:"name,omitempty"`
	Description  *string  `json:"description,omitempty"`
	Tags         []string `json:"tags,omitempty"`
	ImageURLs    []string `json:"imageUrls,omitempty"`
	CategoryID   *string  `json:"categoryId,omitempty"`
	CategoryName *string  `json:"categoryName,omitempty"`
	BrandID      *string  `json:"brandId,omitempty"`
	BrandName    *string  `json:"brandName,omitempty"`
}

// ChangeProductPrice sets a new price.
type ChangeProductPrice struct {
	Price Money `json:"price"`
}

// ChangeProductStock sets the quantity on hand.
type ChangeProductStock struct {
	Quantity int64 `json:"quantity"`
}

// AddProductReview adds a review with a rating of 1..5.
type AddProductReview struct {
	Rating  int32  `json:"rating"`
	UserID  string `json:"userId"`
	Comment string `json:"comment"`
}

// DiscontinueProduct ends the product's life.
type DiscontinueProduct struct {
	Reason string `json:"reason"`
}

func (*CreateProduct) CommandType() string        { return TypeCreateProduct }
func (*UpdateProductDetails) CommandType() string { return TypeUpdateProductDetails }
func (*ChangeProductPrice) CommandType() string   { return TypeChangeProductPrice }
func (*ChangeProductStock) CommandType() string   { return TypeChangeProductStock }
func (*AddProductReview) CommandType() string     { return TypeAddProductReview }
func (*DiscontinueProduct) CommandType() string   { return TypeDiscontinueProduct }

// Command result statuses.
const (
	StatusAccepted = "accepted"
	StatusRejected = "rejected"
)

// Rejection codes of a rejected command; the API maps them to HTTP statuses
// (not_found 404, conflict 409, invalid 422).
const (
	RejectNotFound = "not_found"
	RejectConflict = "conflict"
	RejectInvalid  = "invalid"
)

// CommandResult is the decider's outcome for one command, written in the
// same transaction as the command's events.
type CommandResult struct {
	CommandID string    `json:"commandId"`
	ProductID string    `json:"productId"`
	Status    string    `json:"status"`            // StatusAccepted or StatusRejected
	Version   int64     `json:"version,omitempty"` // the product's version after the command (accepted), or its current version (rejected; 0 if none)
	Code      string    `json:"code,omitempty"`    // Reject* when rejected
	Reason    string    `json:"reason,omitempty"`  // human-readable, when rejected
	DecidedAt time.Time `json:"decidedAt"`
	// IdempotencyKey echoes the command's key so that API instances can
	// answer a retried request from the result stream.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
	// Fingerprint is the request fingerprint of the command this outcome
	// was decided for (commandbus.Request.Fingerprint), "" for a command
	// sent without one. It is not in the Avro record: the result record
	// carries it in a header, so that an API instance that no longer knows
	// an Idempotency-Key's binding can tell the first request's outcome
	// from its own.
	Fingerprint string `json:"-" avro:"-"`
}
