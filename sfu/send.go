package sfu

import (
	"encoding/binary"
	"sync"

	"github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"
	"go.uber.org/zap"

	prtp "github.com/prismsfu/prism/rtp"
)

// send writes one packet of dt to the subscriber: h (with its sequence
// number and timestamp already rewritten) over src's payload, and vp8, if
// not nil, in place of src's VP8 descriptor. It stamps the transport-wide
// sequence number, encrypts, and queues the packet on the route; it
// reports false when the packet could not be queued (no route yet, a full
// writer queue). It never blocks and allocates nothing. Called on the
// worker.
func (t *Transport) send(dt *DownTrack, h *prtp.OutHeader, src []byte, m *prtp.Meta, vp8 *prtp.VP8Descriptor, roc uint32) bool {
	w := t.w
	if t.twccID != 0 {
		h.TWCCID, h.TWCCSeq = t.twccID, t.twccSeq
	}
	var size int
	switch t.mode {
	case modeUDP:
		n := h.WriteTo(w.plain[:], src, m, vp8)
		d := w.datagram()
		if n == 0 || !t.encrypt(d.buf[:], w.plain[:n], roc, &d.n) {
			w.unget()
			return false
		}
		d.to, d.from = t.r.udp, dt
		size = d.n
	case modeTCP, modePion:
		slot := t.slow.reserve()
		if slot == nil {
			return false
		}
		if t.mode == modeTCP {
			n := h.WriteTo(w.plain[:], src, m, vp8)
			if n == 0 || !t.encrypt(slot.buf[:], w.plain[:n], roc, &slot.n) {
				t.slow.cancel()
				return false
			}
		} else if slot.n = h.WriteTo(slot.buf[:], src, m, vp8); slot.n == 0 {
			t.slow.cancel()
			return false
		}
		slot.dt, slot.kind = dt, slotPionRTP
		if t.mode == modeTCP {
			slot.kind = slotTCP
		}
		slot.r = t.r
		size = slot.n
		t.slow.commit()
	default:
		return false
	}
	if t.twccID != 0 {
		t.history.add(t.twccSeq, w.now, size)
		t.twccSeq++
	}
	t.stats.sent.Add(1)
	return true
}

// encrypt protects an RTP packet into dst and stores its length in n: with
// Prism's own AES-GCM when that is the profile, else with pion's context.
func (t *Transport) encrypt(dst, plain []byte, roc uint32, n *int) bool {
	if t.gcm != nil {
		*n = len(t.gcm.seal(dst, plain, rtpHeaderLen(plain), roc))
		return true
	}
	out, err := t.ctx.EncryptRTP(dst[:0], plain, &t.w.hdr)
	if err != nil || len(out) > len(dst) || &out[0] != &dst[0] {
		return false
	}
	*n = len(out)
	return true
}

// rtpHeaderLen returns the header length of an RTP packet Prism wrote (no
// CSRCs).
func rtpHeaderLen(pkt []byte) int {
	if pkt[0]&0x10 == 0 {
		return 12
	}
	return 16 + 4*int(binary.BigEndian.Uint16(pkt[14:]))
}

// sendRTCP sends a compound RTCP packet, plain, on the route. Called on the
// worker.
func (t *Transport) sendRTCP(plain []byte) {
	switch t.mode {
	case modeUDP:
		d := t.w.datagram()
		out, err := t.ctx.EncryptRTCP(d.buf[:0], plain, nil)
		if err != nil || len(out) > len(d.buf) {
			t.w.unget()
			return
		}
		d.n, d.to, d.from = len(out), t.r.udp, nil
	case modeTCP, modePion:
		slot := t.slow.reserve()
		if slot == nil {
			return
		}
		if t.mode == modeTCP {
			out, err := t.ctx.EncryptRTCP(slot.buf[:0], plain, nil)
			if err != nil || len(out) > len(slot.buf) {
				t.slow.cancel()
				return
			}
			slot.n, slot.kind = len(out), slotTCP
		} else {
			slot.n, slot.kind = copy(slot.buf[:], plain), slotPionRTCP
		}
		slot.dt, slot.r = nil, t.r
		t.slow.commit()
	}
}

// slowDepth is how many packets a transport's writer goroutine may have
// waiting: the worker drops rather than wait for it.
const slowDepth = 64

// slowPath is a transport's own writer goroutine, for the routes a worker
// must not write to itself: an ICE-TCP connection (which can block) or
// pion's write path. The worker fills slots; the goroutine writes them.
type slowPath struct {
	t    *Transport
	mu   sync.Mutex
	ring [slowDepth]slowSlot
	head int // next slot to write
	n    int // slots filled and committed
	// reserved is a slot the worker is filling, not yet committed.
	reserved bool
	wake     chan struct{}
	quit     chan struct{}
}

type slowSlot struct {
	buf  [prtp.MaxPacketSize + srtpOverhead]byte
	n    int
	kind slotKind
	// r is the route when the worker filled the slot.
	r  route
	dt *DownTrack
}

// slotKind says what a slow-path slot holds and where it goes.
type slotKind uint8

const (
	slotTCP      slotKind = iota // SRTP or SRTCP for the ICE-TCP connection
	slotPionRTP                  // plain RTP for pion's write path
	slotPionRTCP                 // plain RTCP for pion's write path
)

// startSlowPath starts the writer goroutine, once. Called on the worker.
func (t *Transport) startSlowPath() {
	if t.slow != nil {
		return
	}
	t.slow = &slowPath{t: t, wake: make(chan struct{}, 1), quit: make(chan struct{})}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.slow.run()
	}()
}

// reserve returns the next free slot, or nil when the queue is full.
func (s *slowPath) reserve() *slowSlot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == slowDepth {
		return nil
	}
	s.reserved = true
	return &s.ring[(s.head+s.n)%slowDepth]
}

// commit queues the reserved slot.
func (s *slowPath) commit() {
	s.mu.Lock()
	s.reserved = false
	s.n++
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// cancel gives the reserved slot back.
func (s *slowPath) cancel() {
	s.mu.Lock()
	s.reserved = false
	s.mu.Unlock()
}

func (s *slowPath) stop() { close(s.quit) }

// run writes committed slots until stopped.
func (s *slowPath) run() {
	var h pionrtp.Header
	for {
		select {
		case <-s.wake:
		case <-s.quit:
			return
		}
		for {
			s.mu.Lock()
			if s.n == 0 {
				s.mu.Unlock()
				break
			}
			slot := &s.ring[s.head]
			s.mu.Unlock()
			// The worker never touches a committed slot, so it is written
			// without the lock.
			s.write(slot, &h)
			s.mu.Lock()
			s.head = (s.head + 1) % slowDepth
			s.n--
			s.mu.Unlock()
		}
	}
}

func (s *slowPath) write(slot *slowSlot, h *pionrtp.Header) {
	t := s.t
	var err error
	switch slot.kind {
	case slotTCP:
		if slot.r.tcp == nil {
			return
		}
		_, err = slot.r.tcp.WriteTo(slot.buf[:slot.n], slot.r.tcpAddr)
	case slotPionRTCP:
		var pkts []rtcp.Packet
		if pkts, err = rtcp.Unmarshal(slot.buf[:slot.n]); err == nil {
			_, err = t.pc.SCTP().Transport().WriteRTCP(pkts)
		}
	case slotPionRTP:
		err = slot.dt.writePion(slot.buf[:slot.n], h)
	}
	if err != nil {
		t.stats.dropped.Add(1)
		t.log.Debug("slow-path write", zap.Error(err))
	}
}

// writePion writes one plain RTP packet through pion's path.
func (dt *DownTrack) writePion(pkt []byte, h *pionrtp.Header) error {
	w := dt.pionWriter()
	if w == nil {
		return errNotBound
	}
	n, err := h.Unmarshal(pkt)
	if err != nil {
		return err
	}
	_, err = w.WriteRTP(h, pkt[n:])
	return err
}
