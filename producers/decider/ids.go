package decider

import (
	"strconv"
	"time"

	"github.com/streamview/streamview/schemas"
)

// eventNamespace is the namespace of event IDs. Fixed forever.
var eventNamespace = [16]byte{0x5b, 0x2e, 0x8f, 0x41, 0x7c, 0x3d, 0x4a, 0x19, 0x9e, 0x60, 0x2d, 0x8b, 0x1f, 0x47, 0xa3, 0xc5}

// EventID is the ID of the i-th event (from 0) of the command with the
// given ID: a version-5 UUID, so that a command decided again after an
// aborted transaction yields the very same event IDs, and a consumer that
// saw the aborted attempt (read_uncommitted) can tell.
func EventID(commandID string, i int) string {
	return schemas.NameUUID(eventNamespace, commandID+"\x00"+strconv.Itoa(i))
}

func msTime(ms int64) time.Time { return time.UnixMilli(ms).UTC() }
