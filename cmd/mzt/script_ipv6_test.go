package main

import "net"

// hasIPv6Loopback is the ipv6 condition: scripts that listen on [::1] skip
// on a machine (or container) without it.
func hasIPv6Loopback() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}
