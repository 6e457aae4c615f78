package decider

import (
	"crypto/sha1"
	"encoding/hex"
	"strconv"
	"time"
)

// eventNamespace is the namespace of event IDs. Fixed forever.
var eventNamespace = [16]byte{0x5b, 0x2e, 0x8f, 0x41, 0x7c, 0x3d, 0x4a, 0x19, 0x9e, 0x60, 0x2d, 0x8b, 0x1f, 0x47, 0xa3, 0xc5}

// EventID is the ID of the i-th event (from 0) of the command with the
// given ID: a version-5 UUID, so that a command decided again after an
// aborted transaction yields the very same event IDs, and a consumer that
// saw the aborted attempt (read_uncommitted) can tell.
func EventID(commandID string, i int) string {
	h := sha1.New()
	h.Write(eventNamespace[:])
	h.Write([]byte(commandID))
	h.Write([]byte{0})
	h.Write([]byte(strconv.Itoa(i)))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
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

func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
