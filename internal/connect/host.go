package connect

import (
	"net"
	"strings"
)

// IsLoopback reports whether host (a name or an IP address, no port) is
// this machine: "localhost" or a loopback address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
