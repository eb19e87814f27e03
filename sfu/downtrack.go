package sfu

import (
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	prtp "github.com/prismsfu/prism/rtp"
)

// transportCCURI is the transport-wide sequence number header extension.
const transportCCURI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

// DownTrack is one subscription: one published track forwarded to one
// subscriber. It is the webrtc.TrackLocal on the subscriber's connection.
// Its forwarding state (which stream it forwards and which it wants, its
// sequence numbering, timestamp offset and VP8 munging) belongs to its
// transport's worker; other goroutines ask for changes through atomics
// the worker reads.
type DownTrack struct {
	track *Track
	t     *Transport

	// sender is set once the down-track is on the connection.
	sender *webrtc.RTPSender

	// Set by Bind, before the worker first sees the down-track.
	mu     sync.Mutex
	bound  bool
	writer webrtc.TrackLocalWriter
	hdr    prtp.OutHeader
	twccID uint8

	// The subscriber's preferences, set by any goroutine and read by the
	// worker's layer selection; pinned (by tests) bypasses selection.
	prefs  Preferences
	pinned bool

	// Selection's decisions, applied by the worker's forwarding.
	want        atomic.Int32 // stream to forward; -1 pauses
	maxTemporal atomic.Int32

	// Owned by the worker.
	fwd forwarder

	// Read by the RTCP side.
	current atomic.Int32  // stream being forwarded, or the last one
	lastSR  atomic.Uint64 // LSR of the last sender report << 32 | its time in ms
	stopped atomic.Bool

	stats downTrackStats
}

// downTrackStats are what a down-track sent and what its subscriber said.
type downTrackStats struct {
	packets  atomic.Uint64
	dropped  atomic.Uint64
	rtt      atomic.Int64 // nanoseconds, from receiver reports
	lossFrac atomic.Uint32
	jitter   atomic.Uint32
	switches atomic.Uint64
}

// AllTemporal is a MaxTemporal that forwards every temporal layer.
const AllTemporal = 7

func newDownTrack(t *Transport, track *Track) *DownTrack {
	dt := &DownTrack{track: track, t: t}
	dt.maxTemporal.Store(AllTemporal)
	dt.current.Store(-1)
	dt.fwd.init(track)
	return dt
}

// ID returns the publisher's track id.
func (dt *DownTrack) ID() string { return dt.track.ID() }

// RID returns "": a subscriber receives one stream per down-track.
func (dt *DownTrack) RID() string { return "" }

// StreamID returns the publisher's participant id, so a subscriber groups
// the tracks of one participant in one stream (and syncs them).
func (dt *DownTrack) StreamID() string { return dt.track.info.ParticipantID }

// Kind returns audio or video.
func (dt *DownTrack) Kind() webrtc.RTPCodecType {
	if dt.track.video {
		return webrtc.RTPCodecTypeVideo
	}
	return webrtc.RTPCodecTypeAudio
}

// Track returns the published track.
func (dt *DownTrack) Track() *Track { return dt.track }

// errNoCodec is returned by Bind when the subscriber cannot receive the
// publisher's codec.
var errNoCodec = errors.New("subscriber does not support the codec")

var errNotBound = errors.New("down-track not bound")

// Bind is called by pion once the subscriber has accepted the track. It
// takes the subscriber's SSRC, payload type and header-extension IDs and
// hands the down-track to its transport's worker.
func (dt *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, ok := matchCodec(dt.track.codec, ctx.CodecParameters())
	if !ok {
		return webrtc.RTPCodecParameters{}, errNoCodec
	}
	dt.mu.Lock()
	if dt.bound {
		dt.mu.Unlock()
		return codec, nil
	}
	dt.bound = true
	dt.writer = ctx.WriteStream()
	dt.hdr = prtp.OutHeader{SSRC: uint32(ctx.SSRC()), PayloadType: uint8(codec.PayloadType)}
	for i, uri := range prtp.ForwardedExtensionURIs {
		dt.hdr.ExtIDs[i] = extensionID(ctx.HeaderExtensions(), uri)
	}
	dt.twccID = extensionID(ctx.HeaderExtensions(), transportCCURI)
	dt.mu.Unlock()
	dt.t.attach(dt)
	return codec, nil
}

// Unbind is called by pion when the track leaves the connection.
func (dt *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	dt.stop()
	return nil
}

func (dt *DownTrack) pionWriter() webrtc.TrackLocalWriter {
	dt.mu.Lock()
	defer dt.mu.Unlock()
	return dt.writer
}

// stop ends forwarding and returns once the worker no longer uses dt.
func (dt *DownTrack) stop() {
	if dt.stopped.Swap(true) {
		return
	}
	dt.t.detach(dt)
}

// SetPreferences applies the subscriber's choices for this track: pause,
// a quality cap, the size it is shown at, a frame-rate cap. Prism
// forwards the layer they lead to, switching at its next keyframe; the
// current layer flows until then.
func (dt *DownTrack) SetPreferences(p Preferences) {
	dt.mu.Lock()
	dt.prefs = p
	dt.mu.Unlock()
	dt.t.w.do(func() { dt.reselect(dt.t.w.now) })
}

// Preferences returns the subscriber's choices for this track.
func (dt *DownTrack) Preferences() Preferences {
	dt.mu.Lock()
	defer dt.mu.Unlock()
	return dt.prefs
}

// pin makes the down-track forward stream i (-1: nothing) with temporal
// layers up to tid, whatever selection would choose: for tests that switch
// by hand.
func (dt *DownTrack) pin(i, tid int) {
	dt.mu.Lock()
	dt.pinned = true
	dt.mu.Unlock()
	dt.want.Store(int32(min(i, maxStreams-1)))
	dt.maxTemporal.Store(int32(tid))
}

// DownTrackStats is a snapshot of what a down-track sent and heard.
type DownTrackStats struct {
	// Packets and Dropped count packets sent and those it could not send.
	Packets, Dropped uint64
	// Stream is the stream being forwarded, -1 before the first.
	Stream int
	// Switches counts switches of stream (or resumes after a pause).
	Switches uint64
	// RTT is the round-trip time from the subscriber's receiver reports.
	RTT time.Duration
	// FractionLost is the last receiver report's loss fraction (of 256).
	FractionLost uint8
	Jitter       uint32
}

// Stats returns what the down-track sent and heard so far.
func (dt *DownTrack) Stats() DownTrackStats {
	s := &dt.stats
	return DownTrackStats{
		Packets: s.packets.Load(), Dropped: s.dropped.Load(), Stream: int(dt.current.Load()), Switches: s.switches.Load(),
		RTT: time.Duration(s.rtt.Load()), FractionLost: uint8(s.lossFrac.Load()), Jitter: s.jitter.Load(),
	}
}

// requestKeyframe asks the publisher for a keyframe of the stream the
// subscriber is (or will be) decoding.
func (dt *DownTrack) requestKeyframe() {
	i := dt.want.Load()
	if i < 0 {
		return
	}
	if st := dt.track.Stream(int(i)); st != nil {
		st.RequestKeyframe()
	}
}

// onReceptionReport keeps what the subscriber's receiver report says of
// this down-track: loss, jitter and, when it answers Prism's last sender
// report, the round-trip time.
func (dt *DownTrack) onReceptionReport(r prtp.ReceptionReport, now time.Time) {
	dt.stats.lossFrac.Store(uint32(r.FractionLost))
	dt.stats.jitter.Store(r.Jitter)
	last := dt.lastSR.Load()
	if r.LastSR == 0 || uint32(last>>32) != r.LastSR {
		return
	}
	sinceSR := time.Duration(uint32(now.UnixMilli())-uint32(last)) * time.Millisecond
	delay := time.Duration(r.DelaySinceSR) * time.Second / 65536
	if rtt := sinceSR - delay; rtt >= 0 {
		dt.stats.rtt.Store(int64(rtt))
	}
}

// onSendFailed is told when the socket refused a packet already numbered:
// the subscriber sees the gap and NACKs it. Called on the worker.
func (dt *DownTrack) onSendFailed() {
	dt.stats.dropped.Add(1)
	dt.t.stats.dropped.Add(1)
}

// matchCodec finds the subscriber's payload type for the publisher's codec.
func matchCodec(want webrtc.RTPCodecParameters, have []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	var fallback *webrtc.RTPCodecParameters
	for i, c := range have {
		if !strings.EqualFold(c.MimeType, want.MimeType) {
			continue
		}
		if c.SDPFmtpLine == want.SDPFmtpLine {
			return c, true
		}
		if fallback == nil {
			fallback = &have[i]
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return webrtc.RTPCodecParameters{}, false
}

// randomTS returns a random first timestamp offset, so that streams do not
// start predictably.
func randomTS() uint32 { return rand.Uint32() }
