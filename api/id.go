package api

import "strings"

// isUUID reports whether s is a UUID in its 36-character text form, of any
// version and in either case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// canonicalID is the form of a UUID the server uses: lower case, so that a
// product has one Kafka key whatever case a client writes.
func canonicalID(s string) string {
	if isUUID(s) {
		return strings.ToLower(s)
	}
	return s
}
