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

// IsUUID reports whether s is a UUID in its 36-character text form
// (8-4-4-4-12 hex digits), of any version and in either case.
func IsUUID(s string) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	for _, i := range uuidHexAt {
		if !isHex[s[i]] {
			return false
		}
	}
	return true
}

// uuidHexAt are the positions of the hex digits in a UUID's text form.
var uuidHexAt = [32]uint8{
	0, 1, 2, 3, 4, 5, 6, 7,
	9, 10, 11, 12,
	14, 15, 16, 17,
	19, 20, 21, 22,
	24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35,
}

// isHex marks the bytes that are hex digits, in either case.
var isHex = func() (t [256]bool) {
	for _, c := range []byte("0123456789abcdefABCDEF") {
		t[c] = true
	}
	return t
}()
