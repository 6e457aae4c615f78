package commandbus_test

import (
	"regexp"
	"testing"

	"github.com/streamview/streamview/producers/commandbus"
)

var (
	v5 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	v4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
)

func TestCommandID(t *testing.T) {
	id := commandbus.CommandID("key-1", "PUT", "/v1/products/p/price")
	if !v5.MatchString(id) {
		t.Fatalf("CommandID = %q, not a version-5 UUID", id)
	}
	if again := commandbus.CommandID("key-1", "put", "/v1/products/p/price"); again != id {
		t.Errorf("same request, other ID: %s != %s", again, id)
	}
	for _, tc := range []struct{ name, key, method, path string }{
		{"other key", "key-2", "PUT", "/v1/products/p/price"},
		{"other method", "key-1", "POST", "/v1/products/p/price"},
		{"other path", "key-1", "PUT", "/v1/products/q/price"},
		{"key and path boundary", "1", "PUT", "/v1/products/p/price\x00key-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if other := commandbus.CommandID(tc.key, tc.method, tc.path); other == id {
				t.Errorf("CommandID(%q, %q, %q) = %s, the same as another request's", tc.key, tc.method, tc.path, other)
			}
		})
	}
	a, b := commandbus.CommandID("", "PUT", "/x"), commandbus.CommandID("", "PUT", "/x")
	if a == b || !v4.MatchString(a) {
		t.Errorf("without a key: %s and %s, want two random version-4 UUIDs", a, b)
	}
}

func TestProductID(t *testing.T) {
	p := commandbus.ProductID("key-1")
	if !v5.MatchString(p) || commandbus.ProductID("key-1") != p || commandbus.ProductID("key-2") == p {
		t.Errorf("ProductID not a deterministic version-5 UUID: %s", p)
	}
	if p == commandbus.CommandID("key-1", "POST", "/v1/products") {
		t.Error("a product and its create command share an ID")
	}
	if a := commandbus.ProductID(""); a == commandbus.ProductID("") || !v4.MatchString(a) {
		t.Errorf("without a key: want random version-4 UUIDs, got %s", a)
	}
}

func TestKeyID(t *testing.T) {
	k := commandbus.KeyID("key-1")
	if !v5.MatchString(k) || commandbus.KeyID("key-1") != k || commandbus.KeyID("key-2") == k {
		t.Errorf("KeyID not a deterministic version-5 UUID: %s", k)
	}
	if k == commandbus.ProductID("key-1") || k == commandbus.CommandID("key-1", "POST", "/v1/products") {
		t.Error("a key shares its ID with its product or command")
	}
	if commandbus.KeyID("") != "" {
		t.Error("KeyID of no key is not empty")
	}
}
