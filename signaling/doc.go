// Package signaling is Prism's WebSocket front end: it speaks the JSON
// protocol of package protocol to each client and drives that client's
// sfu.Participant. One goroutine reads each client's messages and handles
// them in order; another writes to it from a bounded queue, so a client
// that stops reading is dropped rather than holding anything up.
//
// The protocol is described in PROTOCOL.md; a Go client is in package
// client.
package signaling
