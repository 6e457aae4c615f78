package schemas

import (
	"crypto/sha1"
	"encoding/hex"
)

// NameUUID is an RFC 9562 version-5 UUID: SHA-1 over namespace and name.
// The same inputs always give the same ID, which is what idempotent
// command and event IDs are built on.
func NameUUID(namespace [16]byte, name string) string {
	h := sha1.New()
	h.Write(namespace[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	return FormatUUID(u)
}

// FormatUUID writes u in the 8-4-4-4-12 lower-case hex form.
func FormatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
