package schemas

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"

	"github.com/linkedin/goavro/v2"
)

// eventTypes and commandTypes map a type name, which is also the short name
// of its Avro record, to a new payload of that type.
var (
	eventTypes = map[string]func() EventData{
		TypeProductCreated:        func() EventData { return new(ProductCreated) },
		TypeProductDetailsUpdated: func() EventData { return new(ProductDetailsUpdated) },
		TypeProductPriceChanged:   func() EventData { return new(ProductPriceChanged) },
		TypeProductStockChanged:   func() EventData { return new(ProductStockChanged) },
		TypeProductReviewAdded:    func() EventData { return new(ProductReviewAdded) },
		TypeProductDiscontinued:   func() EventData { return new(ProductDiscontinued) },
		TypeSubscriptionCreated:   func() EventData { return new(SubscriptionCreated) },
		TypeSubscriptionDeleted:   func() EventData { return new(SubscriptionDeleted) },
		TypeCategoryRenamed:       func() EventData { return new(CategoryRenamed) },
		TypeBrandRenamed:          func() EventData { return new(BrandRenamed) },
	}
	commandTypes = map[string]func() CommandData{
		TypeCreateProduct:        func() CommandData { return new(CreateProduct) },
		TypeUpdateProductDetails: func() CommandData { return new(UpdateProductDetails) },
		TypeChangeProductPrice:   func() CommandData { return new(ChangeProductPrice) },
		TypeChangeProductStock:   func() CommandData { return new(ChangeProductStock) },
		TypeAddProductReview:     func() CommandData { return new(AddProductReview) },
		TypeDiscontinueProduct:   func() CommandData { return new(DiscontinueProduct) },
		TypeCreateSubscription:   func() CommandData { return new(CreateSubscription) },
		TypeDeleteSubscription:   func() CommandData { return new(DeleteSubscription) },
		TypeRenameCategory:       func() CommandData { return new(RenameCategory) },
		TypeRenameBrand:          func() CommandData { return new(RenameBrand) },
	}
)

// NewEventData returns a new, empty payload of event type typ; false for a
// type schemas does not know.
func NewEventData(typ string) (EventData, bool) {
	newData, ok := eventTypes[typ]
	if !ok {
		return nil, false
	}
	return newData(), true
}

// TypeCommandResult is the type name of CommandResult, for SchemaFor.
const TypeCommandResult = "CommandResult"

// Kind says whether a message is an event, a command or a command result.
type Kind int

// Kinds of message.
const (
	KindEvent Kind = iota + 1
	KindCommand
	KindResult
)

func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindCommand:
		return "command"
	case KindResult:
		return "command result"
	}
	return "unknown"
}

// SchemaInfo describes the current schema of one message type.
type SchemaInfo struct {
	Type        string // type name: ProductCreated, CreateProduct, CommandResult
	Kind        Kind
	Name        string // full Avro name: io.streamview.catalog.ProductCreated
	Schema      string // self-contained schema JSON, as registered
	Canonical   string // Parsing Canonical Form
	Fingerprint uint64 // CRC-64-AVRO of Canonical, as in single-object encoding
	ID          int    // schema registry ID; 0 until Codec.Register
}

// message is the current schema of one message type and its Go mapping.
type message struct {
	info SchemaInfo
	w    *writer
	rec  *record
	// newEvent and newCommand make the payload of an event or a command
	// type (eventTypes, commandTypes), found once here rather than by
	// name on every decode.
	newEvent   func() EventData
	newCommand func() CommandData
}

// writer is a schema that bytes may have been written with: a current
// one, a retired one (with its upcaster), or one fetched from a registry.
type writer struct {
	name  string // full record name
	codec *goavro.Codec
	up    upcaster
	msg   *message // the message type it writes; nil for a registry's, found by name
}

// catalog is everything built from the embedded schemas. It never changes,
// so every Codec shares one.
type catalog struct {
	byName map[string]*message // by full name
	byType map[string]*message // by type name
	byFP   map[uint64]*writer  // every known writer schema
	list   []*message          // by full name
}

var builtin = sync.OnceValues(buildCatalog)

func buildCatalog() (*catalog, error) {
	current, retired, err := loadAVSC()
	if err != nil {
		return nil, err
	}
	cat := &catalog{
		byName: make(map[string]*message),
		byType: make(map[string]*message),
		byFP:   make(map[uint64]*writer),
	}
	for _, name := range slices.Sorted(maps.Keys(current)) {
		s := current[name]
		typ := name[len(Namespace)+1:]
		var kind Kind
		var srcs []reflect.Type
		if newData, ok := eventTypes[typ]; ok {
			kind, srcs = KindEvent, []reflect.Type{reflect.TypeFor[Event](), reflect.TypeOf(newData()).Elem()}
		} else if newData, ok := commandTypes[typ]; ok {
			kind, srcs = KindCommand, []reflect.Type{reflect.TypeFor[Command](), reflect.TypeOf(newData()).Elem()}
		} else if typ == TypeCommandResult {
			kind, srcs = KindResult, []reflect.Type{reflect.TypeFor[CommandResult]()}
		} else {
			continue // a shared type such as Money
		}
		if qualify(typ, Namespace) != name {
			return nil, fmt.Errorf("schemas: %s: %s must be in namespace %s", s.file, name, Namespace)
		}
		gc, err := goavro.NewCodec(s.text)
		if err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", s.file, err)
		}
		pcf, err := CanonicalForm(s.text)
		if err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", s.file, err)
		}
		fp := crc64Avro([]byte(pcf))
		if prev, dup := cat.byFP[fp]; dup {
			return nil, fmt.Errorf("schemas: %s has the fingerprint of %s", s.file, prev.name)
		}
		rec, err := newPlan(s.tree, srcs...)
		if err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", s.file, err)
		}
		m := &message{
			info: SchemaInfo{
				Type: typ, Kind: kind, Name: name, Schema: s.text,
				Canonical: pcf, Fingerprint: fp,
			},
			w:          &writer{name: name, codec: gc},
			rec:        rec,
			newEvent:   eventTypes[typ],
			newCommand: commandTypes[typ],
		}
		m.w.msg = m
		cat.byName[name], cat.byType[typ] = m, m
		cat.list = append(cat.list, m)
		cat.byFP[fp] = m.w
	}
	for typ := range eventTypes {
		if cat.byType[typ] == nil {
			return nil, fmt.Errorf("schemas: no .avsc defines event %s", typ)
		}
	}
	for typ := range commandTypes {
		if cat.byType[typ] == nil {
			return nil, fmt.Errorf("schemas: no .avsc defines command %s", typ)
		}
	}
	if cat.byType[TypeCommandResult] == nil {
		return nil, fmt.Errorf("schemas: no .avsc defines %s", TypeCommandResult)
	}

	for _, file := range slices.Sorted(maps.Keys(retired)) {
		s := retired[file]
		up, ok := upcasters[file]
		if !ok {
			return nil, fmt.Errorf("schemas: retired schema %s has no upcaster", file)
		}
		m := cat.byName[s.name]
		if m == nil {
			return nil, fmt.Errorf("schemas: retired schema %s: no current schema %s to upcast to", file, s.name)
		}
		gc, err := goavro.NewCodec(s.text)
		if err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", file, err)
		}
		fp, err := Fingerprint(s.text)
		if err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", file, err)
		}
		if prev, dup := cat.byFP[fp]; dup {
			return nil, fmt.Errorf("schemas: %s has the fingerprint of %s", file, prev.name)
		}
		cat.byFP[fp] = &writer{name: s.name, codec: gc, up: up, msg: m}
	}
	for file := range upcasters {
		if retired[file] == nil {
			return nil, fmt.Errorf("schemas: upcaster for missing retired schema %s", file)
		}
	}
	return cat, nil
}
