package sfu

import (
	"net"
	"net/netip"

	prtp "github.com/prismsfu/prism/rtp"
)

// srtpOverhead is room for the SRTP authentication tag (16 bytes for
// AES-GCM, 10 for AES-CM with HMAC-SHA1-80), the SRTCP index and a spare.
const srtpOverhead = 32

// datagram is one packet a worker is about to send on Prism's UDP socket.
type datagram struct {
	buf [prtp.MaxPacketSize + srtpOverhead]byte
	n   int
	to  netip.AddrPort
	// from is the down-track whose packet this is, told if the send
	// fails; nil for RTCP.
	from *DownTrack
}

// batch collects one worker's datagrams and sends them with as few system
// calls as the platform allows: sendmmsg on Linux, one WriteTo each
// elsewhere. It is owned by its worker.
type batch struct {
	d   []datagram
	n   int
	out sysBatch
}

// defaultBatch is how many datagrams a worker sends per system call; see
// BENCHMARKS.md for the measurement that chose it.
const defaultBatch = 32

// newBatch returns a batch of up to size datagrams that sends on conn.
func newBatch(conn net.PacketConn, size int) (*batch, error) {
	b := &batch{d: make([]datagram, max(size, 1))}
	if err := b.out.init(conn, b.d); err != nil {
		return nil, err
	}
	return b, nil
}

// next returns the next free datagram, or nil when the batch is full and
// must be flushed first.
func (b *batch) next() *datagram {
	if b.n == len(b.d) {
		return nil
	}
	d := &b.d[b.n]
	b.n++
	return d
}

// flush sends every datagram in the batch and calls failed for each one the
// socket refused (a full send buffer, an unreachable address): a drop for
// that subscriber, never a wait.
func (b *batch) flush(failed func(*datagram)) {
	if b.n == 0 {
		return
	}
	b.out.send(b.d[:b.n], failed)
	b.n = 0
}

// close releases the batch's socket resources.
func (b *batch) close() { b.out.close() }

// writeEach sends datagrams one WriteTo at a time: the portable path.
func writeEach(conn net.PacketConn, ds []datagram, failed func(*datagram)) {
	udp, _ := conn.(*net.UDPConn)
	for i := range ds {
		d := &ds[i]
		var err error
		if udp != nil {
			_, err = udp.WriteToUDPAddrPort(d.buf[:d.n], d.to)
		} else {
			_, err = conn.WriteTo(d.buf[:d.n], net.UDPAddrFromAddrPort(d.to))
		}
		if err != nil {
			failed(d)
		}
	}
}
