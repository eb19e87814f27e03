package main

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// pubTrack is one track a bot publisher sends.
type pubTrack struct {
	idx   int    // position in stats.pubs
	id    string // the track id the publisher announces
	kind  string // "audio" or "video"
	mime  string
	owner *participant

	// nextSeq is the synthetic sequence number of the next packet to be
	// sent. It is advanced before the packet is written, so that a window
	// boundary taken from it never misses a packet already on its way.
	nextSeq atomic.Uint64
	sent    atomic.Uint64
	// bound is set when pion wrote the first packet to the track's sender
	// stream; live once the publish connection is also connected and
	// packets leave (see participant.waitMediaFlowing).
	bound     atomic.Bool
	live      atomic.Bool
	liveAt    atomic.Int64 // Unix ns when live was set
	keyframes atomic.Uint64
	plisIn    atomic.Uint64 // PLIs/FIRs the publisher received
}

// window is a measuring window: a packet counts in it when its sequence
// number lies in [startSeq, endSeq) of its publisher's track.
type window struct {
	id       int
	start    time.Time
	startSeq []uint64
	endSeq   []atomic.Uint64 // MaxUint64 while the window is open
}

func (w *window) contains(idx int, seq uint64) bool {
	return idx < len(w.startSeq) && seq >= w.startSeq[idx] && seq < w.endSeq[idx].Load()
}

// seenBits is the size of the duplicate-detection ring per received track.
const seenBits = 1024

// recvTrack is what one subscriber receives of one pubTrack. Its reader
// goroutine updates it under mu; the progress loop and the report read it.
type recvTrack struct {
	pt  *pubTrack
	sub *participant

	mu       sync.Mutex
	have     bool
	firstAt  time.Time
	lastAt   time.Time
	firstSeq uint64
	highest  uint64
	seen     [seenBits / 64]uint64 // ring: bit seq%seenBits
	received uint64                // distinct packets over the whole run
	winID    int
	winRecv  uint64 // distinct packets of the current window
	winBytes uint64
}

func (r *recvTrack) bit(seq uint64) (word int, mask uint64) {
	b := seq % seenBits
	return int(b / 64), 1 << (b % 64)
}

// mark records seq and reports whether it was new, and by how much it
// advanced the highest sequence number seen. Packets more than seenBits
// behind the highest are ignored as too old.
func (r *recvTrack) mark(seq uint64) (isNew bool, advance uint64) {
	if !r.have {
		r.have = true
		r.firstSeq, r.highest = seq, seq
		w, m := r.bit(seq)
		r.seen[w] |= m
		r.received++
		return true, 1
	}
	if seq > r.highest {
		d := seq - r.highest
		if d >= seenBits {
			r.seen = [seenBits / 64]uint64{}
		} else {
			for s := r.highest + 1; s < seq; s++ {
				w, m := r.bit(s)
				r.seen[w] &^= m
			}
		}
		r.highest = seq
		w, m := r.bit(seq)
		r.seen[w] |= m
		r.received++
		return true, d
	}
	if r.highest-seq >= seenBits {
		return false, 0
	}
	w, m := r.bit(seq)
	if r.seen[w]&m != 0 {
		return false, 0
	}
	r.seen[w] |= m
	r.received++
	if seq < r.firstSeq {
		// An earlier packet than the first one seen: the span grows.
		adv := r.firstSeq - seq
		r.firstSeq = seq
		return true, adv
	}
	return true, 0
}

// countSeen returns how many sequence numbers in [start, end) the ring
// holds as received; only the last seenBits below the highest are known.
func (r *recvTrack) countSeen(start, end uint64) uint64 {
	if !r.have || end <= start || r.highest < start {
		return 0
	}
	lo := start
	if r.highest >= seenBits && r.highest-seenBits+1 > lo {
		lo = r.highest - seenBits + 1
	}
	hi := min(r.highest, end-1)
	var n uint64
	for q := lo; q <= hi; q++ {
		if w, m := r.bit(q); r.seen[w]&m != 0 {
			n++
		}
	}
	return n
}

// stats is the shared state of one run: counters updated from the media
// paths with atomics, histograms with fixed buckets, and the registries of
// tracks and participants.
type stats struct {
	start time.Time

	window atomic.Pointer[window]

	latAll      histogram // every packet of the run
	latWin      histogram // packets of the steady window
	latInterval histogram // since the last progress tick

	pktsOut    atomic.Uint64
	bytesOut   atomic.Uint64
	pktsIn     atomic.Uint64 // distinct packets of known tracks
	bytesIn    atomic.Uint64
	expectedIn atomic.Uint64 // sum over received tracks of the sequence span
	dupIn      atomic.Uint64
	unknownIn  atomic.Uint64 // packets of tracks the bot did not publish
	badStamp   atomic.Uint64 // packets whose payload carried no stamp
	// unknownTracks counts remote tracks that match no bot publisher:
	// another client in the room, or a server that renamed a track.
	unknownTracks atomic.Int64

	nacksSent  atomic.Uint64 // RTCP NACK messages the bot sent
	nackedSeqs atomic.Uint64 // sequence numbers those NACKs asked for
	plisSent   atomic.Uint64 // RTCP PLI/FIR messages the bot sent

	joined     atomic.Int64
	joinFailed atomic.Int64

	ssrcMu      sync.Mutex
	ssrcPub     map[uint32]*pubTrack // a published track by its sender's SSRC
	ssrcFlowing map[uint32]bool      // SSRCs whose packets have left

	mu           sync.Mutex
	pubs         []*pubTrack
	pubByID      map[string]*pubTrack
	participants []*participant
	joinErrors   []string
	series       []sample
}

func newStats() *stats {
	return &stats{
		start:       time.Now(),
		pubByID:     make(map[string]*pubTrack),
		ssrcPub:     make(map[uint32]*pubTrack),
		ssrcFlowing: make(map[uint32]bool),
	}
}

// addPub registers a track a publisher is about to send.
func (s *stats) addPub(pt *pubTrack) {
	s.mu.Lock()
	pt.idx = len(s.pubs)
	s.pubs = append(s.pubs, pt)
	s.pubByID[pt.id] = pt
	s.mu.Unlock()
}

// registerSSRC ties a published track to its sender's SSRC. Either this or
// streamFlowing may come first.
func (s *stats) registerSSRC(ssrc uint32, pt *pubTrack) {
	s.ssrcMu.Lock()
	s.ssrcPub[ssrc] = pt
	if s.ssrcFlowing[ssrc] {
		pt.bound.Store(true)
	}
	s.ssrcMu.Unlock()
}

// streamFlowing records that pion wrote the first packet of ssrc to its
// sender stream (not yet proof that it left: see waitMediaFlowing).
func (s *stats) streamFlowing(ssrc uint32) {
	s.ssrcMu.Lock()
	s.ssrcFlowing[ssrc] = true
	if pt := s.ssrcPub[ssrc]; pt != nil {
		pt.bound.Store(true)
	}
	s.ssrcMu.Unlock()
}

func (s *stats) pubByTrackID(id string) *pubTrack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pubByID[id]
}

// pubByOwner finds a track by its publisher's participant id and kind, for
// servers that rename track ids.
func (s *stats) pubByOwner(participantID, kind string) *pubTrack {
	for _, pt := range s.snapshotPubs() {
		if pt.kind == kind && pt.owner.serverID() == participantID {
			return pt
		}
	}
	return nil
}

func (s *stats) addParticipant(p *participant) {
	s.mu.Lock()
	s.participants = append(s.participants, p)
	s.mu.Unlock()
}

func (s *stats) snapshotParticipants() []*participant {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*participant(nil), s.participants...)
}

func (s *stats) snapshotPubs() []*pubTrack {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*pubTrack(nil), s.pubs...)
}

func (s *stats) addJoinError(msg string) {
	s.joinFailed.Add(1)
	s.mu.Lock()
	if len(s.joinErrors) < 20 {
		s.joinErrors = append(s.joinErrors, msg)
	}
	s.mu.Unlock()
}

// openWindow starts a new measuring window at the publishers' current
// sequence numbers.
func (s *stats) openWindow() *window {
	pubs := s.snapshotPubs()
	old := s.window.Load()
	w := &window{
		start:    time.Now(),
		startSeq: make([]uint64, len(pubs)),
		endSeq:   make([]atomic.Uint64, len(pubs)),
	}
	if old != nil {
		w.id = old.id + 1
	} else {
		w.id = 1
	}
	for i, pt := range pubs {
		w.startSeq[i] = pt.nextSeq.Load()
		w.endSeq[i].Store(math.MaxUint64)
	}
	s.latWin.snapshot(true)
	s.window.Store(w)
	return w
}

// closeWindow fixes the window's end at the publishers' current sequence
// numbers. Packets already sent keep counting until the report is taken.
func (s *stats) closeWindow(w *window) time.Time {
	pubs := s.snapshotPubs()
	for i := range w.endSeq {
		if i < len(pubs) {
			w.endSeq[i].Store(pubs[i].nextSeq.Load())
		}
	}
	return time.Now()
}

// received handles one packet of a known track; it is the hot path of every
// subscriber reader.
func (s *stats) received(r *recvTrack, seq uint64, size int, now time.Time, latency time.Duration) {
	w := s.window.Load()
	r.mu.Lock()
	if w != nil && r.winID != w.id {
		// First packet since the window opened. Packets of its range may
		// have arrived while it was being opened (its start is read
		// before it is published): credit those already seen.
		r.winID, r.winBytes = w.id, 0
		r.winRecv = 0
		if idx := r.pt.idx; idx < len(w.startSeq) {
			r.winRecv = r.countSeen(w.startSeq[idx], w.endSeq[idx].Load())
		}
	}
	first := !r.have
	isNew, adv := r.mark(seq)
	inWin := false
	if isNew {
		if first {
			r.firstAt = now
		}
		r.lastAt = now
		if w != nil && w.contains(r.pt.idx, seq) {
			r.winRecv++
			r.winBytes += uint64(size)
			inWin = true
		}
	}
	r.mu.Unlock()
	if !isNew {
		s.dupIn.Add(1)
		return
	}
	s.pktsIn.Add(1)
	s.bytesIn.Add(uint64(size))
	if adv > 0 {
		s.expectedIn.Add(adv)
	}
	s.latAll.Record(latency)
	s.latInterval.Record(latency)
	if inWin {
		s.latWin.Record(latency)
	}
}

// sample is one second of the run, for the progress line and the plots.
type sample struct {
	T              float64 `json:"t"`
	Phase          string  `json:"phase"`
	Joined         int64   `json:"joined"`
	TracksFlowing  int     `json:"tracks_flowing"`
	TracksExpected int     `json:"tracks_expected"`
	PPSOut         float64 `json:"pps_out"`
	PPSIn          float64 `json:"pps_in"`
	KbpsIn         float64 `json:"kbps_in"`
	LossPct        float64 `json:"loss_pct"`
	P50MS          float64 `json:"p50_ms"`
	P95MS          float64 `json:"p95_ms"`
	P99MS          float64 `json:"p99_ms"`
	MaxMS          float64 `json:"max_ms"`
	NacksPerSec    float64 `json:"nacks_per_s"`
	ClientCPUPct   float64 `json:"client_cpu_pct"`
	ServerCPUPct   float64 `json:"server_cpu_pct,omitempty"`
	ServerRSSMB    float64 `json:"server_rss_mb,omitempty"`
}
