package schemas

import "errors"

// upcaster lifts a record read with a retired writer schema, in goavro's
// native form, to the field names and shapes of the current schema of the
// same name. Fields the current schema added with a default may be left
// out: decoding fills in the default, as Avro schema resolution would.
type upcaster func(map[string]any) (map[string]any, error)

// upcasters lists the retired writer schemas (avro/<name>.vN.avsc) still
// accepted on decode, keyed by file; loading fails unless files and entries
// match one to one.
//
// Single-object encoding names a schema by fingerprint, so any edit to a
// current .avsc, even a compatible one, leaves the bytes written before it
// unreadable unless the old text is kept: copy it, with its shared types
// inlined, to <name>.vN.avsc before editing, and add it here, with a nil
// upcaster when resolution by field name and defaults suffices (a field
// added with a default) or a function when it does not (a rename, a split
// field). TestFingerprintsGolden makes every such edit visible.
var upcasters = map[string]upcaster{
	"product_created.v1.avsc": upcastProductCreatedV1,
}

// upcastProductCreatedV1: v1 called the name "title"; imageUrls and stock
// did not exist and take their defaults ([] and 0).
func upcastProductCreatedV1(r map[string]any) (map[string]any, error) {
	title, ok := r["title"]
	if !ok {
		return nil, errors.New("v1 ProductCreated without title")
	}
	delete(r, "title")
	r["name"] = title
	return r, nil
}
