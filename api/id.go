package api

import (
	"strings"

	"github.com/streamview/streamview/schemas"
)

// canonicalID is the form of a UUID the server uses: lower case, so that a
// product has one Kafka key whatever case a client writes.
func canonicalID(s string) string {
	if schemas.IsUUID(s) {
		return strings.ToLower(s)
	}
	return s
}
