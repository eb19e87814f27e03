package sfu

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"

	pionrtp "github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	prtp "github.com/prismsfu/prism/rtp"
)

// rtpWriter sends one rewritten RTP packet to a subscriber. There are two:
// directWriter, Prism's own, and pion's webrtc.TrackLocalWriter.
type rtpWriter interface {
	WriteRTP(h *pionrtp.Header, payload []byte) (int, error)
}

// route is how Prism reaches one subscribe connection without pion's write
// path: Prism's own UDP socket, the remote address ICE selected, and the
// SRTP keys from the DTLS handshake.
//
// pion's path runs every packet through the interceptor chain, the SRTP
// session, the DTLS/ICE mux, the ICE connection and the UDP mux, each with
// its own locks and copies. Prism's path encrypts once into the
// down-track's buffer and hands it to the socket.
type route struct {
	conn net.PacketConn
	keys keyCatcher
	// dest is the selected candidate pair's remote address; nil until ICE
	// selects one.
	dest atomic.Pointer[net.UDPAddr]
}

// errNoRoute is returned by directWriter when ICE has not selected a pair
// that Prism's socket can reach.
var errNoRoute = errors.New("no selected candidate pair over Prism's UDP socket")

// selectPair records the candidate pair ICE selected. A pair Prism's socket
// cannot serve (not UDP, or an address that is not an IP) leaves no route.
func (r *route) selectPair(pair *webrtc.ICECandidatePair) {
	r.dest.Store(pairAddr(pair))
}

func pairAddr(pair *webrtc.ICECandidatePair) *net.UDPAddr {
	if pair == nil || pair.Local == nil || pair.Remote == nil {
		return nil
	}
	if pair.Local.Typ == webrtc.ICECandidateTypeRelay || pair.Remote.Protocol != webrtc.ICEProtocolUDP {
		return nil
	}
	ip, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		return nil
	}
	return net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip.Unmap(), pair.Remote.Port))
}

// writer returns a directWriter for one down-track, or an error when this
// connection has no SRTP keys Prism can use (Prism was the DTLS client).
func (r *route) writer() (*directWriter, error) {
	keys, err := r.keys.get()
	if err != nil {
		return nil, err
	}
	ctx, err := keys.newContext()
	if err != nil {
		return nil, err
	}
	return &directWriter{
		route: r, ctx: ctx,
		plain: make([]byte, prtp.MaxPacketSize),
		enc:   make([]byte, prtp.MaxPacketSize+srtpOverhead),
	}, nil
}

// srtpOverhead is room for the SRTP authentication tag (16 bytes for
// AES-GCM, 10 for AES-CM with HMAC-SHA1-80) and a spare.
const srtpOverhead = 32

// directWriter is one down-track's SRTP stream over Prism's own socket. It
// is owned by the down-track's writer goroutine: the SRTP context keeps the
// stream's rollover counter and is not safe for concurrent use.
type directWriter struct {
	route *route
	ctx   *srtp.Context
	plain []byte
	enc   []byte
}

// WriteRTP marshals, encrypts and sends one packet. It allocates nothing.
func (w *directWriter) WriteRTP(h *pionrtp.Header, payload []byte) (int, error) {
	dest := w.route.dest.Load()
	if dest == nil {
		return 0, errNoRoute
	}
	n, err := h.MarshalTo(w.plain)
	if err != nil {
		return 0, err
	}
	pad := int(h.PaddingSize)
	if n+len(payload)+pad > len(w.plain) {
		return 0, errPacketTooLarge
	}
	n += copy(w.plain[n:], payload)
	if pad > 0 {
		clear(w.plain[n : n+pad])
		n += pad
		w.plain[n-1] = byte(pad)
	}
	pkt, err := w.ctx.EncryptRTP(w.enc, w.plain[:n], h)
	if err != nil {
		return 0, err
	}
	return w.route.conn.WriteTo(pkt, dest)
}

var errPacketTooLarge = errors.New("packet larger than the MTU")
