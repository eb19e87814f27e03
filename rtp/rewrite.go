package rtp

import (
	"sync"

	pionrtp "github.com/pion/rtp"
)

// MaxExtensions is the number of header extensions a Rewriter forwards.
const MaxExtensions = 8

// ExtensionMap translates header-extension IDs from a publisher's
// connection to a subscriber's. Extensions not in the map are stripped.
type ExtensionMap struct {
	n   int
	src [MaxExtensions]uint8
	dst [MaxExtensions]uint8
}

// Add maps the source ID src to the destination ID dst. It reports false
// when the map is full or either ID is 0.
func (m *ExtensionMap) Add(src, dst uint8) bool {
	if src == 0 || dst == 0 || m.n == MaxExtensions {
		return false
	}
	m.src[m.n], m.dst[m.n] = src, dst
	m.n++
	return true
}

// Rewriter turns the packets of one or more source streams into the single
// continuous stream one subscriber sees: it rewrites the SSRC, payload type,
// sequence number, timestamp and header-extension IDs of each packet, and
// maps the subscriber's sequence numbers back to the source's when the
// subscriber asks for a retransmission.
//
// A Rewriter is safe for concurrent use.
type Rewriter struct {
	mu   sync.Mutex
	ssrc uint32
	pt   uint8
	ext  ExtensionMap

	started bool
	resync  bool
	// The current epoch: a run of output packets from one source that share
	// one offset. A new epoch begins at each Resync (a layer switch, a
	// resume after a pause); retransmissions are served only within it.
	firstOut  uint16
	seqOffset uint16
	tsOffset  uint32
	lastOut   uint16
	lastTS    uint32
}

// NewRewriter returns a Rewriter that writes packets with the given SSRC
// and payload type, translating header extensions through ext, and whose
// first packet gets sequence number firstSeq and timestamp firstTS
// (random values, so that streams do not start predictably).
func NewRewriter(ssrc uint32, pt uint8, ext ExtensionMap, firstSeq uint16, firstTS uint32) *Rewriter {
	return &Rewriter{ssrc: ssrc, pt: pt, ext: ext, lastOut: firstSeq - 1, lastTS: firstTS, resync: true}
}

// SSRC returns the SSRC of the rewritten stream.
func (r *Rewriter) SSRC() uint32 { return r.ssrc }

// Resync makes the next packet continue the output stream from where it
// stands, whatever its source sequence number and timestamp: call it when
// the source changes (a simulcast layer switch) or resumes after a pause.
// tsGap is the timestamp distance to put between the last packet written
// and the next one (elapsed time × clock rate).
func (r *Rewriter) Resync(tsGap uint32) {
	r.mu.Lock()
	r.resync = true
	r.lastTS += tsGap
	r.mu.Unlock()
}

// Rewrite rewrites h, the header of a packet from the current source, in
// place. The extension payloads h keeps point into the packet's buffer.
func (r *Rewriter) Rewrite(h *pionrtp.Header) {
	r.mu.Lock()
	if r.resync {
		r.resync = false
		r.startEpoch(h)
	}
	seq := h.SequenceNumber + r.seqOffset
	ts := h.Timestamp + r.tsOffset
	if !r.started || SeqLess(r.lastOut, seq) {
		r.started = true
		r.lastOut, r.lastTS = seq, ts
	}
	r.mu.Unlock()
	r.apply(h, seq, ts)
}

// startEpoch sets the offsets so that the packet h follows the last packet
// written. Called with r.mu held.
func (r *Rewriter) startEpoch(h *pionrtp.Header) {
	r.firstOut = r.lastOut + 1
	r.seqOffset = r.firstOut - h.SequenceNumber
	ts := r.lastTS
	if r.started {
		ts++ // never repeat the timestamp of a different frame
	}
	r.tsOffset = ts - h.Timestamp
}

// Retransmit rewrites h, the header of a source packet that a NACK asked
// for again, with the output numbers it had (or would have had) the first
// time. It reports false when the packet belongs to an epoch that is over.
func (r *Rewriter) Retransmit(h *pionrtp.Header, outSeq uint16) bool {
	r.mu.Lock()
	if !r.started || SeqLess(outSeq, r.firstOut) || SeqLess(r.lastOut, outSeq) {
		r.mu.Unlock()
		return false
	}
	ts := h.Timestamp + r.tsOffset
	r.mu.Unlock()
	r.apply(h, outSeq, ts)
	return true
}

// Source returns the source sequence number of the output packet outSeq, or
// false when outSeq was not written in the current epoch.
func (r *Rewriter) Source(outSeq uint16) (uint16, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started || SeqLess(outSeq, r.firstOut) || SeqLess(r.lastOut, outSeq) {
		return 0, false
	}
	return outSeq - r.seqOffset, true
}

// apply writes the output numbers and translates the header extensions.
func (r *Rewriter) apply(h *pionrtp.Header, seq uint16, ts uint32) {
	h.SSRC = r.ssrc
	h.PayloadType = r.pt
	h.SequenceNumber = seq
	h.Timestamp = ts
	h.CSRC = h.CSRC[:0]
	r.ext.translate(h)
}

// translate keeps the mapped extensions of h under their new IDs and
// drops the rest, without allocating once h's slices have grown.
func (m *ExtensionMap) translate(h *pionrtp.Header) {
	if !h.Extension {
		return
	}
	var keep [MaxExtensions][]byte
	var ids [MaxExtensions]uint8
	n := 0
	for i := 0; i < m.n; i++ {
		if p := h.GetExtension(m.src[i]); p != nil {
			keep[n], ids[n] = p, m.dst[i]
			n++
		}
	}
	h.Extensions = h.Extensions[:0]
	h.Extension = false
	for i := 0; i < n; i++ {
		_ = h.SetExtension(ids[i], keep[i])
	}
}
