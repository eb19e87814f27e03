package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	prtp "github.com/prismsfu/prism/rtp"
)

// Cache sizes, in packets, per stream. A video cache covers about three
// seconds of a 1.5 Mbit/s stream: long enough for any NACK and for
// replaying a recent keyframe to a new subscriber.
const (
	videoCacheSize = 512
	audioCacheSize = 64
)

// maxReplay is the longest run of cached packets, from the last keyframe
// on, that a new subscriber is sent before live packets, and maxReplayAge
// the oldest keyframe worth replaying: an old one would start the picture
// seconds late, and replaying it would cost more than the keyframe Prism
// requests instead (coalesced with every other joiner's).
const (
	maxReplay    = 300
	maxReplayAge = time.Second
)

// srWait is how long a stream waits for its publisher's first sender
// report before its subscribers' reports fall back to arrival times.
const srWait = 2 * time.Second

// Stream is one RTP stream of a published track: the single stream, or
// one simulcast encoding. It reads each packet once, parses it once
// (rtp.Parser), stores it with its Meta in the stream's cache and tells
// the engine. It keeps the stream's keyframe requests and the publisher's
// sender-report mapping of RTP to NTP time.
type Stream struct {
	track     *Track
	index     uint8
	rid       string
	ssrc      uint32
	clockRate uint32
	cache     *prtp.Cache
	keyframes *keyframeRequester
	parser    prtp.Parser // owned by the read loop
	stats     layerStats

	remote *webrtc.TrackRemote
	recv   *webrtc.RTPReceiver

	mu       sync.Mutex
	sr       clockMapping // the publisher's last sender report
	last     clockMapping // the newest packet's arrival
	firstAt  int64        // the first packet's arrival
	haveSR   bool
	haveLast bool

	ended     atomic.Bool
	closeOnce sync.Once
}

func newStream(t *Track, index uint8, rid string, ssrc uint32) *Stream {
	size := audioCacheSize
	if t.video {
		size = videoCacheSize
	}
	s := &Stream{
		track: t, index: index, rid: rid, ssrc: ssrc,
		clockRate: t.codec.ClockRate,
		cache:     prtp.NewCache(size),
		parser:    prtp.Parser{Codec: t.kind, ExtIDs: t.extIDs},
	}
	if s.clockRate == 0 {
		s.clockRate = 90000
	}
	s.keyframes = newKeyframeRequester(t.keyframeInterval, func() error { return t.pli(s.ssrc) }, t.log)
	return s
}

// Index returns the stream's place in its track.
func (s *Stream) Index() int { return int(s.index) }

// RID returns the simulcast encoding's rid, or "" for the single stream.
func (s *Stream) RID() string { return s.rid }

// run reads the stream until it ends.
func (s *Stream) run() {
	defer s.ended.Store(true)
	buf := make([]byte, prtp.MaxPacketSize)
	for {
		n, _, err := s.remote.Read(buf)
		if err != nil {
			return
		}
		s.push(buf[:n], time.Now().UnixNano())
	}
}

// push parses one packet, stores it in the cache and tells the engine.
// Malformed packets, duplicates and packets too old for the cache go no
// further.
func (s *Stream) push(pkt []byte, arrival int64) {
	var m prtp.Meta
	if s.parser.Parse(pkt, arrival, &m) != nil || !s.cache.Put(pkt, &m) {
		return
	}
	if s.stats.observe(&m) {
		s.track.reorder()
		s.track.dyn.update()
	}
	late := m.Ext != s.parser.Highest()
	if !late {
		s.mu.Lock()
		if !s.haveLast {
			s.firstAt = arrival
		}
		s.last = clockMapping{ntp: ntpTime(time.Unix(0, arrival)), rtp: m.Timestamp, at: arrival}
		s.haveLast = true
		s.mu.Unlock()
	}
	s.track.engine.dispatch(s.track, s.index, m.Ext, late)
}

// readRTCP reads the publisher's RTCP for this stream, so that pion's
// interceptors see it, and keeps its sender reports.
func (s *Stream) readRTCP() {
	for {
		var pkts []rtcp.Packet
		var err error
		if s.rid != "" {
			pkts, _, err = s.recv.ReadSimulcastRTCP(s.rid)
		} else {
			pkts, _, err = s.recv.ReadRTCP()
		}
		if err != nil {
			return
		}
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == s.ssrc {
				s.onSenderReport(sr.NTPTime, sr.RTPTime, time.Now().UnixNano())
			}
		}
	}
}

// onSenderReport keeps the publisher's mapping of RTP to NTP time.
func (s *Stream) onSenderReport(ntp uint64, rtpTime uint32, at int64) {
	s.mu.Lock()
	s.sr = clockMapping{ntp: ntp, rtp: rtpTime, at: at, fromSR: true}
	s.haveSR = true
	s.mu.Unlock()
}

// recent reports whether cached packet ext arrived within maxReplayAge.
func (s *Stream) recent(ext uint64) bool {
	age, ok := s.cache.Age(ext)
	return ok && age <= maxReplayAge
}

// RequestKeyframe asks the publisher for a keyframe of this stream,
// coalesced and throttled.
func (s *Stream) RequestKeyframe() {
	if s.track.video {
		s.keyframes.request()
	}
}

// close stops the read loop (by stopping the receiver) and keyframe
// requests.
func (s *Stream) close() {
	s.closeOnce.Do(func() {
		s.keyframes.close()
		if s.recv != nil {
			_ = s.recv.Stop()
		}
	})
}

// clockMapping ties a stream's RTP time to a wall-clock time: rtp at ntp,
// which was current at local time at (Unix nanoseconds). From a sender
// report, ntp is the publisher's clock; otherwise it is Prism's, from an
// arrival.
type clockMapping struct {
	ntp    uint64
	rtp    uint32
	at     int64
	fromSR bool
}

// clock returns the mapping subscribers' sender reports are built from:
// the publisher's own when it sends reports, so that all of a publisher's
// tracks keep the sync it gave them; otherwise, once srWait has passed
// without one, arrival times on Prism's clock.
func (s *Stream) clock(now int64) (clockMapping, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.haveSR:
		return s.sr, true
	case s.haveLast && now-s.firstAt >= int64(srWait):
		return s.last, true
	}
	return clockMapping{}, false
}

// arrivalClock returns the mapping from arrival times, if any packet came.
func (s *Stream) arrivalClock() (clockMapping, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.haveLast
}

// tsAt returns the RTP time of m at local time t.
func (m clockMapping) tsAt(t int64, clockRate uint32) uint32 {
	return m.rtp + uint32((t-m.at)*int64(clockRate)/int64(time.Second))
}

// ntpAt returns the NTP time of m at local time t.
func (m clockMapping) ntpAt(t int64) uint64 {
	return m.ntp + durationToNTP(time.Duration(t-m.at))
}

// alignTS returns the offset to add to a timestamp of stream to so that it
// falls on the timeline of stream from: the same instant gets the same
// time. Both mappings must be on one clock: the publisher's (both from
// sender reports) or Prism's (both from arrivals).
func alignTS(from, to *Stream) (uint32, bool) {
	fm, fok := from.clock(time.Now().UnixNano())
	tm, tok := to.clock(time.Now().UnixNano())
	if !fok || !tok || fm.fromSR != tm.fromSR {
		if fm, fok = from.arrivalClock(); !fok {
			return 0, false
		}
		if tm, tok = to.arrivalClock(); !tok {
			return 0, false
		}
	}
	// At local time fm.at, from reads fm.rtp and to reads tsAt.
	return fm.rtp - tm.tsAtNTP(fm.ntp, to.clockRate), true
}

// tsAtNTP returns the RTP time of m at NTP time ntp.
func (m clockMapping) tsAtNTP(ntp uint64, clockRate uint32) uint32 {
	d := ntpToDuration(int64(ntp - m.ntp))
	return m.rtp + uint32(d.Nanoseconds()*int64(clockRate)/int64(time.Second))
}

// ntpTime converts t to the 64-bit NTP format of RTCP sender reports.
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2208988800
	secs := uint64(t.Unix() + unixToNTP)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

// durationToNTP converts d to NTP units (2^-32 s).
func durationToNTP(d time.Duration) uint64 {
	return uint64(int64(d)/int64(time.Second)<<32) + uint64((int64(d)%int64(time.Second))<<32/int64(time.Second))
}

// ntpToDuration converts a signed difference in NTP units to a duration.
func ntpToDuration(n int64) time.Duration {
	secs := n >> 32
	frac := n & 0xffffffff
	return time.Duration(secs)*time.Second + time.Duration(frac*int64(time.Second)>>32)
}
