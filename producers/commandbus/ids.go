package commandbus

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/streamview/streamview/schemas"
)

// The namespaces of the name-based IDs (RFC 9562 version 5). They are fixed
// forever: changing one would give a request retried across a deploy
// another ID, and it would be carried out twice.
var (
	commandNamespace = mustUUID("8a1f6d1e-4b5e-5c2a-9f3e-6d0b7c4e2a91")
	productNamespace = mustUUID("3c9e2b7a-1d4f-5e8b-a6c2-9b0e4f7d1a35")
	keyNamespace     = mustUUID("d4b1e7c2-6a3f-5b9e-8c0d-2f7a9e1b4c68")
)

// CommandID is the ID of the command that a request makes: a version-5
// UUID over the request's method, path and Idempotency-Key, so that a
// retried request (same key, same method and path) is the same command,
// which the decider carries out once and answers with its first outcome.
// The body is not part of the name; the key is bound to its first request
// by KeyID and Request.Fingerprint instead, so that a reuse with another
// method, path, body or caller is refused (ErrKeyReused). Pass the path in its
// canonical form (lower-case UUIDs, no trailing slash), or two spellings of
// one request become two commands.
//
// Without a key (idempotencyKey == "") every request is a new command and
// CommandID returns a random version-4 UUID.
func CommandID(idempotencyKey, method, path string) string {
	if idempotencyKey == "" {
		return NewID()
	}
	return nameUUID(commandNamespace, strings.ToUpper(method)+" "+path+"\x00"+idempotencyKey)
}

// ProductID is the ID a create without a productId gives its product: a
// version-5 UUID of the Idempotency-Key, so that a retried create names
// the same product (and the decider answers it from its first outcome
// instead of creating a second product). Without a key it returns a random
// version-4 UUID.
func ProductID(idempotencyKey string) string {
	if idempotencyKey == "" {
		return NewID()
	}
	return nameUUID(productNamespace, idempotencyKey)
}

// KeyID names an Idempotency-Key in record headers (HeaderKeyID) and in
// Results' bindings: a version-5 UUID of the key, so that the key itself,
// which may be long, is not repeated there. "" without a key.
func KeyID(idempotencyKey string) string {
	if idempotencyKey == "" {
		return ""
	}
	return nameUUID(keyNamespace, idempotencyKey)
}

// NewID returns a random version-4 UUID.
func NewID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return format(u)
}

// nameUUID is RFC 9562's version 5: SHA-1 over namespace and name.
func nameUUID(ns [16]byte, name string) string { return schemas.NameUUID(ns, name) }

func format(u [16]byte) string { return schemas.FormatUUID(u) }

func mustUUID(s string) [16]byte {
	var u [16]byte
	raw, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
	if err != nil || len(raw) != 16 {
		panic("commandbus: bad namespace UUID " + s)
	}
	copy(u[:], raw)
	return u
}
