package messages

// MinProtocolVersion is the oldest protocol version this build still serves.
// Raise it only when a version's requests can no longer be answered.
const MinProtocolVersion = 1

// Negotiate returns the newest protocol version both sides speak, given the
// client's range, or 0 when the ranges do not meet. A client that names no
// range (both 0, an older client) speaks only ProtocolVersion 1; a client
// that names only a maximum speaks everything from 1 up to it.
func Negotiate(clientMin, clientMax uint32) uint32 {
	if clientMin == 0 && clientMax == 0 {
		clientMin, clientMax = 1, 1
	}
	if clientMin == 0 {
		clientMin = 1
	}
	if clientMax == 0 || clientMax < clientMin {
		return 0
	}
	newest := min(clientMax, uint32(ProtocolVersion))
	if newest < max(clientMin, uint32(MinProtocolVersion)) {
		return 0
	}
	return newest
}
