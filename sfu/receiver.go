package sfu

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	prtp "github.com/prismsfu/prism/rtp"
)

// Cache sizes, in packets, per published track. A video cache covers about
// three seconds of a 1.5 Mbit/s stream: long enough for any NACK and for
// replaying a recent keyframe to a new subscriber.
const (
	videoCacheSize = 512
	audioCacheSize = 64
)

// maxReplay is the longest run of cached packets, from the last keyframe
// on, that a new subscriber is sent before live packets. Longer runs are
// not replayed; the subscriber waits for the keyframe Prism requests.
const maxReplay = 300

// Receiver reads one published track once and fans its packets out to
// every subscriber's DownTrack. It keeps the track's packet cache and
// throttles keyframe requests to the publisher.
type Receiver struct {
	owner *Participant
	track *webrtc.TrackRemote
	recv  *webrtc.RTPReceiver
	codec webrtc.RTPCodecParameters
	exts  []webrtc.RTPHeaderExtensionParameter
	cache *prtp.Cache
	video bool
	log   *zap.Logger
	// keyframeInterval and sendPLI throttle and carry keyframe requests.
	keyframeInterval time.Duration
	sendPLI          func(mediaSSRC uint32) error
	ssrc             uint32

	// downTracks is replaced, never modified, so the read loop can range
	// over it without a lock.
	downTracks atomic.Pointer[[]*DownTrack]
	dtMu       sync.Mutex

	infoMu sync.Mutex
	info   TrackInfo

	kfMu      sync.Mutex
	kfLast    time.Time
	kfTimer   *time.Timer
	kfPending bool

	closed    atomic.Bool
	closeOnce sync.Once
}

func newReceiver(owner *Participant, track *webrtc.TrackRemote, recv *webrtc.RTPReceiver, info TrackInfo) *Receiver {
	r := newFanout(owner, track.Codec(), info, owner.sfu.cfg.KeyframeInterval, owner.log)
	r.track, r.recv = track, recv
	r.exts = recv.GetParameters().HeaderExtensions
	r.ssrc = uint32(track.SSRC())
	r.sendPLI = func(ssrc uint32) error {
		return owner.pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
	}
	return r
}

// newFanout returns a Receiver without a track to read: its packets come
// through push. Tests and benchmarks drive the fan-out this way.
func newFanout(owner *Participant, codec webrtc.RTPCodecParameters, info TrackInfo, kfInterval time.Duration, log *zap.Logger) *Receiver {
	r := &Receiver{
		owner: owner, info: info, codec: codec,
		video:            strings.HasPrefix(strings.ToLower(codec.MimeType), "video/"),
		log:              log.With(zap.String("track", info.ID)),
		keyframeInterval: kfInterval,
		sendPLI:          func(uint32) error { return nil },
	}
	size := audioCacheSize
	if r.video {
		size = videoCacheSize
	}
	r.cache = prtp.NewCache(size)
	empty := []*DownTrack{}
	r.downTracks.Store(&empty)
	return r
}

// Info describes the track.
func (r *Receiver) Info() TrackInfo {
	r.infoMu.Lock()
	defer r.infoMu.Unlock()
	return r.info
}

// setMuted records the publisher's mute state and reports whether it
// changed.
func (r *Receiver) setMuted(m bool) bool {
	r.infoMu.Lock()
	defer r.infoMu.Unlock()
	changed := r.info.Muted != m
	r.info.Muted = m
	return changed
}

// run reads the track until it ends, storing each packet once in the cache
// and handing its sequence number to every down-track.
func (r *Receiver) run() {
	buf := make([]byte, prtp.MaxPacketSize)
	var in ingest
	for {
		n, _, err := r.track.Read(buf)
		if err != nil {
			r.close()
			return
		}
		r.push(&in, buf[:n])
	}
}

// ingest is the read loop's per-stream state.
type ingest struct {
	h       pionrtp.Header
	unwrap  prtp.Unwrapper
	keyTS   uint32
	haveKey bool
}

// push stores one packet in the cache and hands it to every down-track.
func (r *Receiver) push(in *ingest, pkt []byte) {
	hlen, err := in.h.Unmarshal(pkt)
	if err != nil {
		return
	}
	ext := in.unwrap.Unwrap(in.h.SequenceNumber)
	var flags prtp.Flags
	if in.h.Marker {
		flags |= prtp.FlagMarker
	}
	if r.video && prtp.IsKeyframe(r.codec.MimeType, pkt[hlen:]) && (!in.haveKey || in.h.Timestamp != in.keyTS) {
		flags |= prtp.FlagKeyframe
		in.keyTS, in.haveKey = in.h.Timestamp, true
	}
	if !r.cache.Put(ext, pkt, flags) {
		return
	}
	for _, dt := range *r.downTracks.Load() {
		dt.enqueue(ext, flags)
	}
}

// readRTCP drains the publisher's RTCP so that the interceptors see its
// sender reports.
func (r *Receiver) readRTCP() {
	buf := make([]byte, 1500)
	for {
		if _, _, err := r.recv.Read(buf); err != nil {
			return
		}
	}
}

// addDownTrack starts fanning packets out to dt.
func (r *Receiver) addDownTrack(dt *DownTrack) {
	r.dtMu.Lock()
	defer r.dtMu.Unlock()
	old := *r.downTracks.Load()
	next := make([]*DownTrack, 0, len(old)+1)
	next = append(next, old...)
	next = append(next, dt)
	r.downTracks.Store(&next)
}

// removeDownTrack stops fanning packets out to dt.
func (r *Receiver) removeDownTrack(dt *DownTrack) {
	r.dtMu.Lock()
	defer r.dtMu.Unlock()
	old := *r.downTracks.Load()
	next := make([]*DownTrack, 0, len(old))
	for _, x := range old {
		if x != dt {
			next = append(next, x)
		}
	}
	r.downTracks.Store(&next)
}

// RequestKeyframe asks the publisher for a keyframe. Requests closer
// together than Config.KeyframeInterval are coalesced into one sent at the
// end of the interval, so a storm of PLIs from subscribers reaches the
// publisher as at most one request per interval.
func (r *Receiver) RequestKeyframe() {
	if !r.video || r.closed.Load() {
		return
	}
	r.kfMu.Lock()
	if r.kfPending {
		// One is already scheduled for the end of the window.
		r.kfMu.Unlock()
		return
	}
	if since := time.Since(r.kfLast); since < r.keyframeInterval {
		r.kfPending = true
		r.kfTimer = time.AfterFunc(r.keyframeInterval-since, r.flushKeyframe)
		r.kfMu.Unlock()
		return
	}
	r.kfLast = time.Now()
	r.kfMu.Unlock()
	r.requestNow()
}

func (r *Receiver) flushKeyframe() {
	r.kfMu.Lock()
	if !r.kfPending || r.closed.Load() {
		r.kfMu.Unlock()
		return
	}
	r.kfPending = false
	r.kfLast = time.Now()
	r.kfMu.Unlock()
	r.requestNow()
}

func (r *Receiver) requestNow() {
	if err := r.sendPLI(r.ssrc); err != nil {
		r.log.Debug("send PLI", zap.Error(err))
	}
}

func (r *Receiver) isClosed() bool { return r.closed.Load() }

// close stops the receiver: the read loop ends (the RTP receiver is
// stopped) and no more keyframes are requested.
func (r *Receiver) close() {
	r.closeOnce.Do(func() {
		r.closed.Store(true)
		r.kfMu.Lock()
		if r.kfTimer != nil {
			r.kfTimer.Stop()
		}
		r.kfPending = false
		r.kfMu.Unlock()
		if r.recv != nil {
			_ = r.recv.Stop()
		}
	})
}
