package commandbus_test

import (
	"errors"
	"testing"

	"github.com/streamview/streamview/producers/commandbus"
	"github.com/streamview/streamview/schemas"
)

func TestFingerprint(t *testing.T) {
	base := commandbus.Request{Method: "PUT", Path: "/v1/products/p/price", Body: []byte(`{"price":{"amount":"5.0","currency":"EUR"},"n":[1,2]}`)}
	fp := base.Fingerprint()
	if len(fp) != 64 {
		t.Fatalf("Fingerprint = %q, want 64 hex digits", fp)
	}
	with := func(f func(*commandbus.Request)) commandbus.Request { r := base; f(&r); return r }
	tests := []struct {
		name string
		req  commandbus.Request
		same bool
	}{
		{"key order and whitespace", with(func(r *commandbus.Request) {
			r.Body = []byte(" { \"n\" : [ 1 , 2 ],\n \"price\": {\"currency\":\"EUR\", \"amount\":\"5.0\"} } ")
		}), true},
		{"escapes", with(func(r *commandbus.Request) {
			r.Body = []byte(`{"price":{"amount":"5.0","currency":"\u0045UR"},"n":[1,2]}`)
		}), true},
		{"number spelling", with(func(r *commandbus.Request) {
			r.Body = []byte(`{"price":{"amount":"5.0","currency":"EUR"},"n":[1.0,2e0]}`)
		}), true},
		{"lower-case method", with(func(r *commandbus.Request) { r.Method = "put" }), true},
		{"other value", with(func(r *commandbus.Request) { r.Body = []byte(`{"price":{"amount":"5.00","currency":"EUR"},"n":[1,2]}`) }), false},
		{"number as string", with(func(r *commandbus.Request) {
			r.Body = []byte(`{"price":{"amount":"5.0","currency":"EUR"},"n":["1",2]}`)
		}), false},
		{"array order", with(func(r *commandbus.Request) { r.Body = []byte(`{"price":{"amount":"5.0","currency":"EUR"},"n":[2,1]}`) }), false},
		{"other path", with(func(r *commandbus.Request) { r.Path = "/v1/products/q/price" }), false},
		{"other method", with(func(r *commandbus.Request) { r.Method = "POST" }), false},
		{"other caller", with(func(r *commandbus.Request) { r.Caller = "alice" }), false},
		{"no body", with(func(r *commandbus.Request) { r.Body = nil }), false},
		{"field boundary", with(func(r *commandbus.Request) { r.Method, r.Path = "PUT/v1", "/products/p/price" }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.req.Fingerprint() == fp; got != tt.same {
				t.Errorf("same fingerprint = %v, want %v", got, tt.same)
			}
		})
	}
}

// TestClaims: a key is held while being written, free again when the
// write fails, and bound to its request once written.
func TestClaims(t *testing.T) {
	r := newResults(t)
	key := commandbus.KeyID("k-1")
	c := commandbus.Claim{CommandID: commandbus.NewID(), ProductID: commandbus.NewID(), KeyID: key, Fingerprint: "fp-1"}
	other := c
	other.Fingerprint = "fp-2"
	otherCommand := c
	otherCommand.CommandID = commandbus.NewID()

	if err := r.Claim(c); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    commandbus.Claim
		want error
	}{
		{"same request", c, commandbus.ErrInFlight},
		{"other body", other, commandbus.ErrKeyReused},
		{"other path", otherCommand, commandbus.ErrKeyReused},
	} {
		if err := r.Claim(tc.c); !errors.Is(err, tc.want) {
			t.Errorf("%s while writing: Claim = %v, want %v", tc.name, err, tc.want)
		}
	}
	if b, ok := r.Bound(key); !ok || !b.Writing || b.CommandID != c.CommandID {
		t.Errorf("Bound while writing = %+v, %v", b, ok)
	}
	if _, ok := r.Status(c.CommandID); ok {
		t.Error("a command being written is known as pending")
	}

	r.Release(c, false)
	if _, ok := r.Bound(key); ok {
		t.Error("a key whose write failed is still bound")
	}
	if err := r.Claim(other); err != nil { // free again, for any request
		t.Fatalf("Claim after a failed write = %v", err)
	}
	r.Release(other, true)
	if st, ok := r.Status(c.CommandID); !ok || st.State != commandbus.StatePending {
		t.Errorf("Status after the write = %+v, %v; want pending", st, ok)
	}
	if b, ok := r.Bound(key); !ok || b.Writing || b.Fingerprint != "fp-2" {
		t.Errorf("Bound after the write = %+v, %v", b, ok)
	}
	if err := r.Claim(c); !errors.Is(err, commandbus.ErrKeyReused) {
		t.Errorf("Claim of another body after the write = %v, want ErrKeyReused", err)
	}
	if err := r.Claim(other); err != nil {
		t.Errorf("Claim of the same request after the write = %v, want nil (writing it again is harmless)", err)
	}
	r.Release(other, true)
	// Commands without a key are never held.
	free := commandbus.Claim{CommandID: commandbus.NewID(), ProductID: commandbus.NewID()}
	if err := r.Claim(free); err != nil {
		t.Fatal(err)
	}
	if err := r.Claim(free); err != nil {
		t.Errorf("a keyless command is held: %v", err)
	}
	if s := r.Stats(); s.Writing != 0 || s.Bindings != 1 {
		t.Errorf("Stats = %+v, want nothing writing and one binding", s)
	}
}

func newResults(t *testing.T) *commandbus.Results {
	t.Helper()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	r, err := commandbus.NewResults(commandbus.ResultsConfig{Brokers: []string{"127.0.0.1:1"}}, codec)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
