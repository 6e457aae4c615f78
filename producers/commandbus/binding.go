package commandbus

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
)

// Errors of Sender.SendBound (and of a Tracker's Claim) for a command with
// an Idempotency-Key.
var (
	// ErrInFlight: another send of the same key is still being written to
	// Kafka in this process. The API answers 409 with Retry-After.
	ErrInFlight = errors.New("commandbus: a command with this idempotency key is still being written")
	// ErrKeyReused: the key is bound to another request (method, path,
	// body or caller). The API answers 422; nothing is sent.
	ErrKeyReused = errors.New("commandbus: the idempotency key was used for another request")
)

// Request is what an Idempotency-Key is bound to: the first request that
// used it. A retry must match it; the same key with another Request is a
// reuse (ErrKeyReused).
type Request struct {
	// Caller is who sent the request. The API has no caller identity yet
	// (authentication is issue 13) and leaves it ""; once it has one, it
	// sets the token's subject here and the binding holds per caller with
	// no other change.
	Caller string
	// Method and Path are the HTTP method and the path in canonical form.
	Method, Path string
	// Body is the request's JSON body, or empty. It is compared as parsed
	// JSON: key order, whitespace, string escapes and number spellings
	// (1.0, 1e0) do not matter.
	Body []byte
}

// Fingerprint returns a digest of r that two requests share exactly when
// they are the same request: a hex SHA-256 over caller, method, path and
// the body in canonical JSON. It is carried in the command record's
// HeaderFingerprint, so that every API instance, also after a restart,
// checks a retry against the request that first used the key. A body that
// is not JSON is digested as it is.
func (r Request) Fingerprint() string {
	h := sha256.New()
	// Length-prefixed fields: no value can spill into the next.
	for _, f := range []string{"streamview-request-v1", r.Caller, strings.ToUpper(r.Method), r.Path} {
		fmt.Fprintf(h, "%d:%s", len(f), f)
	}
	body := bytes.TrimSpace(r.Body)
	if len(body) > 0 {
		if c, err := canonicalJSON(body); err == nil {
			body = c
		}
	}
	fmt.Fprintf(h, "%d:", len(body))
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// canonicalJSON re-encodes one JSON value with object keys sorted (as
// encoding/json writes maps), no insignificant whitespace, strings
// re-escaped, and numbers in exact lowest terms, so that equal values give
// equal bytes.
func canonicalJSON(data []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	v, err := canonicalNumbers(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// canonicalNumbers replaces every json.Number by its exact value in lowest
// terms ("1.50" and "1.5e0" become "3/2", "1.0" becomes "1"), marked so it
// cannot equal a string.
func canonicalNumbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		r, ok := new(big.Rat).SetString(string(v))
		if !ok {
			return nil, fmt.Errorf("number %q", v)
		}
		return map[string]string{"\x00num": r.RatString()}, nil
	case []any:
		for i := range v {
			c, err := canonicalNumbers(v[i])
			if err != nil {
				return nil, err
			}
			v[i] = c
		}
	case map[string]any:
		for k := range v {
			c, err := canonicalNumbers(v[k])
			if err != nil {
				return nil, err
			}
			v[k] = c
		}
	}
	return v, nil
}
