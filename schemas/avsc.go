package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
)

// Namespace is the Avro namespace of every streamview record.
const Namespace = "io.streamview.catalog"

// The .avsc files are the one source of truth of the wire contract. Each
// current file defines one named type. Any of them may refer to another by
// name (Metadata, Money) instead of repeating it: goavro compiles one
// self-contained schema string per codec, so the loader inlines a referred
// type's definition at its first use in a schema and leaves later uses as
// the name, which is exactly how Avro itself writes a schema out.
//
// Files named <name>.vN.avsc are retired writer schemas: frozen,
// self-contained snapshots of what was once written, never composed (a
// change to Money must not move an old fingerprint), only ever decoded.
//
//go:embed avro/*.avsc
var avscFiles embed.FS

var retiredFile = regexp.MustCompile(`\.v[0-9]+\.avsc$`)

// avsc is one embedded schema.
type avsc struct {
	file string
	name string         // full name, e.g. io.streamview.catalog.ProductCreated
	tree map[string]any // parsed JSON; for a current schema, composed
	text string         // JSON given to goavro and the registry
}

// loadAVSC reads the embedded files: current schemas, composed, by full
// name; retired ones as written, by file name.
func loadAVSC() (current map[string]*avsc, retired map[string]*avsc, err error) {
	files, err := fs.Glob(avscFiles, "avro/*.avsc")
	if err != nil {
		return nil, nil, err
	}
	defs := make(map[string]map[string]any)
	current = make(map[string]*avsc)
	retired = make(map[string]*avsc)
	for _, f := range files {
		b, err := avscFiles.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		var tree map[string]any
		if err := json.Unmarshal(b, &tree); err != nil {
			return nil, nil, fmt.Errorf("schemas: %s: %w", f, err)
		}
		name, _ := qualifiedName(tree, "")
		if !strings.Contains(name, ".") {
			return nil, nil, fmt.Errorf("schemas: %s: a named type with a namespace is required, got %q", f, name)
		}
		base := path.Base(f)
		if retiredFile.MatchString(base) {
			retired[base] = &avsc{file: base, name: name, tree: tree, text: string(b)}
			continue
		}
		if prev, dup := current[name]; dup {
			return nil, nil, fmt.Errorf("schemas: %s and %s both define %s", prev.file, base, name)
		}
		defs[name] = tree
		current[name] = &avsc{file: base, name: name}
	}
	for name, s := range current {
		c := composer{defs: defs, defined: make(map[string]bool)}
		s.tree = c.walk(deepCopy(defs[name]), "").(map[string]any)
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s.tree); err != nil {
			return nil, nil, fmt.Errorf("schemas: %s: %w", s.file, err)
		}
		s.text = strings.TrimSuffix(buf.String(), "\n")
	}
	return current, retired, nil
}

// composer inlines named types from defs at their first use in one schema.
type composer struct {
	defs    map[string]map[string]any
	defined map[string]bool
}

func (c *composer) walk(node any, ns string) any {
	switch n := node.(type) {
	case string:
		if primitives[n] {
			return n
		}
		full := qualify(n, ns)
		if def, ok := c.defs[full]; ok && !c.defined[full] {
			return c.walk(deepCopy(def), ns)
		}
		return n
	case []any:
		for i := range n {
			n[i] = c.walk(n[i], ns)
		}
		return n
	case map[string]any:
		switch t := n["type"].(type) {
		case string:
			switch t {
			case "record", "error", "enum", "fixed":
				full, inner := qualifiedName(n, ns)
				c.defined[full] = true
				if fields, ok := n["fields"].([]any); ok {
					for _, f := range fields {
						if fm, ok := f.(map[string]any); ok {
							fm["type"] = c.walk(fm["type"], inner)
						}
					}
				}
			case "array":
				n["items"] = c.walk(n["items"], ns)
			case "map":
				n["values"] = c.walk(n["values"], ns)
			}
		default:
			n["type"] = c.walk(t, ns)
		}
		return n
	}
	return node
}

var primitives = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true,
}

// qualifiedName is the full name of the named type schema declares inside
// namespace ns, and the namespace its own members are declared in.
func qualifiedName(schema map[string]any, ns string) (full, inner string) {
	name, _ := schema["name"].(string)
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name, name[:i]
	}
	if s, ok := schema["namespace"].(string); ok {
		ns = s
	}
	return qualify(name, ns), ns
}

// qualify resolves a type reference made inside namespace ns.
func qualify(ref, ns string) string {
	if ns == "" || strings.Contains(ref, ".") {
		return ref
	}
	return ns + "." + ref
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}

// recordName is the full name of the named type a schema text defines, or
// the primitive or complex type name when it defines none.
func recordName(text string) string {
	var v any
	if json.Unmarshal([]byte(text), &v) != nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case map[string]any:
		if full, _ := qualifiedName(v, ""); full != "" {
			return full
		}
		t, _ := v["type"].(string)
		return t
	}
	return "union"
}
