package sfu

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
)

// rtcpTap takes subscribers' RTCP off Prism's sockets before pion sees it.
// A subscribe connection whose SRTP keys Prism holds registers the address
// of its selected pair; SRTCP from that address is decrypted and handled
// by its Transport, in the socket's read goroutine. Without the tap, pion
// delivers a sender's RTCP only to someone reading that one sender, which
// costs a goroutine per down-track.
type rtcpTap struct {
	mu     sync.RWMutex
	routes map[tapKey]*Transport
}

// tapKey is a remote address and whether it is over TCP.
type tapKey struct {
	addr netip.AddrPort
	tcp  bool
}

func newRTCPTap() *rtcpTap { return &rtcpTap{routes: make(map[tapKey]*Transport)} }

// set routes RTCP from k to t.
func (p *rtcpTap) set(k tapKey, t *Transport) {
	p.mu.Lock()
	p.routes[k] = t
	p.mu.Unlock()
}

// remove stops routing RTCP from k to t.
func (p *rtcpTap) remove(k tapKey, t *Transport) {
	p.mu.Lock()
	if p.routes[k] == t {
		delete(p.routes, k)
	}
	p.mu.Unlock()
}

// take handles b, a datagram from k, and reports whether it was consumed.
func (p *rtcpTap) take(k tapKey, b []byte) bool {
	if !isRTCP(b) {
		return false
	}
	p.mu.RLock()
	t := p.routes[k]
	p.mu.RUnlock()
	if t == nil {
		return false
	}
	t.receiveSRTCP(b)
	return true
}

// isRTCP tells RTCP from RTP, STUN and DTLS on a multiplexed port (RFC 5761
// and RFC 7983): version 2, and a packet type of 192 to 223.
func isRTCP(b []byte) bool {
	return len(b) >= 8 && b[0]>>6 == 2 && b[1] >= 192 && b[1] <= 223
}

// tapConn is Prism's UDP socket as pion's ICE mux sees it: reads pass
// through the tap, everything else goes to the socket.
type tapConn struct {
	*net.UDPConn
	tap *rtcpTap
}

var _ ice.AddrPortReaderWriter = (*tapConn)(nil)

// ReadFromAddrPort reads the next datagram the tap does not consume.
func (c *tapConn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	for {
		n, addr, err := c.UDPConn.ReadFromUDPAddrPort(b)
		if err != nil || !c.tap.take(tapKey{addr: unmapAddr(addr)}, b[:n]) {
			return n, addr, err
		}
	}
}

// ReadFrom is ReadFromAddrPort for callers that want a net.Addr.
func (c *tapConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(addr), nil
}

// WriteToAddrPort writes to the socket.
func (c *tapConn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	return c.UDPConn.WriteToUDPAddrPort(b, addr)
}

func unmapAddr(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// tcpMux is pion's ICE-TCP mux with two additions: Prism can find the
// connection of a username fragment (to write its own SRTP to it), and
// reads pass through the tap.
type tcpMux struct {
	inner ice.TCPMux
	tap   *rtcpTap

	mu    sync.Mutex
	conns map[tcpConnKey]*tcpTapConn
}

type tcpConnKey struct {
	ufrag string
	ipv6  bool
}

// tcpWriteBuffer is each ICE-TCP connection's write buffer: a blocked
// peer's packets wait (or are dropped) there instead of stalling others.
const tcpWriteBuffer = 4 << 20

func newTCPMux(ln net.Listener, tap *rtcpTap, log logging.LeveledLogger) *tcpMux {
	inner := ice.NewTCPMuxDefault(ice.TCPMuxParams{
		Listener: ln, Logger: log, ReadBufferSize: 64,
		WriteBufferSize: tcpWriteBuffer, FirstStunBindTimeout: 10 * time.Second,
	})
	return &tcpMux{inner: inner, tap: tap, conns: make(map[tcpConnKey]*tcpTapConn)}
}

// GetConnByUfrag implements ice.TCPMux.
func (m *tcpMux) GetConnByUfrag(ufrag string, isIPv6 bool, local net.IP) (net.PacketConn, error) {
	conn, err := m.inner.GetConnByUfrag(ufrag, isIPv6, local)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	k := tcpConnKey{ufrag, isIPv6}
	if c := m.conns[k]; c != nil && c.PacketConn == conn {
		return c, nil
	}
	c := &tcpTapConn{PacketConn: conn, tap: m.tap}
	m.conns[k] = c
	return c, nil
}

// RemoveConnByUfrag implements ice.TCPMux.
func (m *tcpMux) RemoveConnByUfrag(ufrag string) {
	m.mu.Lock()
	delete(m.conns, tcpConnKey{ufrag, false})
	delete(m.conns, tcpConnKey{ufrag, true})
	m.mu.Unlock()
	m.inner.RemoveConnByUfrag(ufrag)
}

// Close implements ice.TCPMux.
func (m *tcpMux) Close() error { return m.inner.Close() }

// conn returns the connection of a local username fragment, or nil.
func (m *tcpMux) conn(ufrag string, ipv6 bool) net.PacketConn {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.conns[tcpConnKey{ufrag, ipv6}]; c != nil {
		return c.PacketConn
	}
	return nil
}

// tcpTapConn is one ICE-TCP connection whose reads pass through the tap.
type tcpTapConn struct {
	net.PacketConn
	tap *rtcpTap
}

// ReadFrom reads the next packet the tap does not consume.
func (c *tcpTapConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil {
			return n, addr, err
		}
		tcp, ok := addr.(*net.TCPAddr)
		if !ok || !c.tap.take(tapKey{addr: unmapAddr(tcp.AddrPort()), tcp: true}, b[:n]) {
			return n, addr, err
		}
	}
}
