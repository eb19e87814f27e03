package sfu

import (
	"net"
	"net/netip"

	"github.com/pion/webrtc/v4"
)

// sendMode is how a transport's packets reach its subscriber.
type sendMode uint8

const (
	// modeNone: not connected yet, or closed; nothing is sent.
	modeNone sendMode = iota
	// modeUDP: Prism encrypts and its worker sends on Prism's UDP socket,
	// batched with every other subscriber of that worker. The fast path.
	modeUDP
	// modeTCP: Prism encrypts; the transport's own goroutine writes to the
	// ICE-TCP connection (which may block), so the worker never waits.
	modeTCP
	// modePion: pion's own write path (interceptors, SRTP session, ICE),
	// from the transport's own goroutine. Used when Prism has no keys
	// (it was the DTLS client) or no way to reach the selected pair.
	modePion
)

func (m sendMode) String() string {
	return [...]string{"none", "udp", "tcp", "pion"}[m]
}

// route is where one selected candidate pair leads: a UDP address on
// Prism's socket, or an ICE-TCP connection, or neither (a relay candidate
// of Prism's own, which Prism never gathers today).
type route struct {
	udp     netip.AddrPort
	tcp     net.PacketConn
	tcpAddr net.Addr
}

// String names where the route leads.
func (r route) String() string {
	switch {
	case r.udp.IsValid():
		return r.udp.String()
	case r.tcp != nil && r.tcpAddr != nil:
		return "tcp:" + r.tcpAddr.String()
	}
	return ""
}

// mode returns the send mode for this route given whether Prism holds the
// connection's SRTP keys.
func (r route) mode(haveKeys bool) sendMode {
	switch {
	case !haveKeys:
		return modePion
	case r.udp.IsValid():
		return modeUDP
	case r.tcp != nil:
		return modeTCP
	default:
		// Prism would have to write through pion with keys of its own in
		// use. pion's SRTP context then starts its rollover counter at 0,
		// which is right until the sequence numbers first wrap; Prism has
		// no relay candidates of its own, so this does not arise today.
		return modePion
	}
}

// routeOf works out where a selected pair leads. tcp finds the ICE-TCP
// connection of the local username fragment ufrag gives (asked only for a
// TCP pair).
func routeOf(pair *webrtc.ICECandidatePair, ufrag func() string, tcp *tcpMux) route {
	if pair == nil || pair.Local == nil || pair.Remote == nil || pair.Local.Typ == webrtc.ICECandidateTypeRelay {
		return route{}
	}
	ip, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		return route{}
	}
	addr := netip.AddrPortFrom(ip.Unmap(), pair.Remote.Port)
	switch pair.Remote.Protocol {
	case webrtc.ICEProtocolUDP:
		return route{udp: addr}
	case webrtc.ICEProtocolTCP:
		if tcp == nil {
			return route{}
		}
		conn := tcp.conn(ufrag(), ip.Is6() && !ip.Is4In6())
		if conn == nil {
			return route{}
		}
		return route{tcp: conn, tcpAddr: net.TCPAddrFromAddrPort(addr)}
	}
	return route{}
}
