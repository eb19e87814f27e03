package sfu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	prtp "github.com/prismsfu/prism/rtp"
)

// maxStreams is the most streams a track has: three simulcast encodings.
const maxStreams = 3

// Track is a published track: what one member sends, received once and
// forwarded to every subscriber. It has one stream, or one per simulcast
// encoding; each stream has its own read loop, packet cache and keyframe
// state. Subscribers' down-tracks are kept per engine worker, in shards
// only that worker touches.
type Track struct {
	owner  Member
	engine *Engine
	log    *zap.Logger

	codec webrtc.RTPCodecParameters
	kind  prtp.Codec
	video bool
	// extIDs are the publisher's IDs of the forwarded header extensions.
	extIDs [prtp.NumForwardedExts]uint8
	// keyframeInterval and pli throttle and send keyframe requests.
	keyframeInterval time.Duration
	pli              func(ssrc uint32) error
	onClose          func(*Track)

	infoMu sync.Mutex
	info   TrackInfo

	streams  [maxStreams]atomic.Pointer[Stream]
	nstreams atomic.Int32
	// order is the streams, lowest quality first (see ordered).
	order   atomic.Uint32
	orderMu sync.Mutex
	dyn     dynacast

	shards []shard

	closeOnce sync.Once
	closed    atomic.Bool
	// done is closed once every stream's read loop has ended.
	done    chan struct{}
	running sync.WaitGroup
	addMu   sync.Mutex
}

// shard is one worker's subscribers of a track. dts is owned by the
// worker; n mirrors its length for the streams' read loops, which skip a
// worker with none. The padding keeps two workers' shards off one cache
// line.
type shard struct {
	n   atomic.Int32
	dts []*DownTrack
	_   [32]byte
}

// TrackConfig describes a track to publish.
type TrackConfig struct {
	Info  TrackInfo
	Codec webrtc.RTPCodecParameters
	// Extensions are the header extensions negotiated with the publisher.
	Extensions []webrtc.RTPHeaderExtensionParameter
	// PLI sends a keyframe request for the stream with this SSRC.
	PLI func(ssrc uint32) error
	// OnClose, if set, is called once when the track closes: its media
	// ended or Close was called.
	OnClose func(*Track)
	// OnLayers, if set, turns on dynacast for a video track: it is called
	// with the state of every stream each time Prism decides that the
	// publisher should pause or resume one. It must return quickly
	// (queue the news).
	OnLayers func(*Track, []LayerState)
}

// NewTrack returns a track owned by owner, with no stream yet: add them
// with AddStream.
func (s *SFU) NewTrack(owner Member, c TrackConfig) *Track {
	t := newTrack(s.engine, owner, c, s.cfg.KeyframeInterval, s.log)
	if t.video && c.OnLayers != nil {
		t.dyn.init(t, c.OnLayers, s.cfg.DynacastDelay)
	}
	return t
}

func newTrack(e *Engine, owner Member, c TrackConfig, kfInterval time.Duration, log *zap.Logger) *Track {
	t := &Track{
		owner: owner, engine: e, codec: c.Codec,
		kind:             prtp.CodecFromMime(c.Codec.MimeType),
		log:              log.WithLazy(zap.String("track", c.Info.ID)),
		keyframeInterval: kfInterval,
		pli:              c.PLI,
		onClose:          c.OnClose,
		info:             c.Info,
		shards:           make([]shard, e.Workers()),
		done:             make(chan struct{}),
	}
	t.video = t.kind.Video() || c.Info.Kind == "video"
	t.dyn.init(t, nil, 0)
	t.info.Codec = c.Codec.MimeType
	if t.pli == nil {
		t.pli = func(uint32) error { return nil }
	}
	for i, uri := range prtp.ForwardedExtensionURIs {
		t.extIDs[i] = extensionID(c.Extensions, uri)
	}
	return t
}

// ID returns the publisher's track id.
func (t *Track) ID() string { return t.info.ID }

// Owner returns the member that publishes the track.
func (t *Track) Owner() Member { return t.owner }

// Info describes the track.
func (t *Track) Info() TrackInfo {
	t.infoMu.Lock()
	defer t.infoMu.Unlock()
	info := t.info
	info.Layers = int(t.nstreams.Load())
	return info
}

// Codec returns the publisher's codec.
func (t *Track) Codec() webrtc.RTPCodecParameters { return t.codec }

// SetMuted records the publisher's mute state and reports whether it
// changed.
func (t *Track) SetMuted(m bool) bool {
	t.infoMu.Lock()
	defer t.infoMu.Unlock()
	changed := t.info.Muted != m
	t.info.Muted = m
	return changed
}

// Stream returns stream i, or nil.
func (t *Track) Stream(i int) *Stream {
	if i < 0 || i >= maxStreams {
		return nil
	}
	return t.streams[i].Load()
}

// Streams returns the number of streams.
func (t *Track) Streams() int { return int(t.nstreams.Load()) }

// AddStream starts receiving a stream of the track from pion: the single
// stream, or one simulcast encoding (remote.RID()). It returns nil when
// the track has all its streams or is closed.
func (t *Track) AddStream(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) *Stream {
	st := t.addStream(remote.RID(), uint32(remote.SSRC()), func(st *Stream) { st.remote, st.recv = remote, recv })
	if st == nil {
		return nil
	}
	t.running.Add(2)
	go func() {
		defer t.running.Done()
		st.run()
		t.streamEnded()
	}()
	go func() {
		defer t.running.Done()
		st.readRTCP()
	}()
	return st
}

// addStream adds a stream whose packets come through push: for AddStream,
// and for tests and benchmarks that drive a track themselves. setup, if
// set, completes the stream before anyone else can see it.
func (t *Track) addStream(rid string, ssrc uint32, setup func(*Stream)) *Stream {
	t.addMu.Lock()
	defer t.addMu.Unlock()
	n := int(t.nstreams.Load())
	if n == maxStreams || t.closed.Load() {
		return nil
	}
	st := newStream(t, uint8(n), rid, ssrc)
	if setup != nil {
		setup(st)
	}
	t.streams[n].Store(st)
	t.nstreams.Store(int32(n + 1))
	t.reorder()
	t.dyn.update()
	return st
}

// streamEnded closes the track when its last stream's read loop has ended.
func (t *Track) streamEnded() {
	for i := range t.Streams() {
		if st := t.Stream(i); st != nil && !st.ended.Load() {
			return
		}
	}
	t.Close()
}

// Done is closed once the track is closed.
func (t *Track) Done() <-chan struct{} { return t.done }

// Close stops the track: every stream stops reading and requesting
// keyframes. Subscribers hear of it from the room (Room.Unpublish) and
// stop their down-tracks.
func (t *Track) Close() {
	t.closeOnce.Do(func() {
		t.addMu.Lock()
		t.closed.Store(true)
		t.addMu.Unlock()
		for i := range t.Streams() {
			t.Stream(i).close()
		}
		t.dyn.close()
		close(t.done)
		if t.onClose != nil {
			t.onClose(t)
		}
	})
}

// Wait returns once every goroutine of the track has ended.
func (t *Track) Wait() { t.running.Wait() }

// IsClosed reports whether the track was closed.
func (t *Track) IsClosed() bool { return t.closed.Load() }

func extensionID(exts []webrtc.RTPHeaderExtensionParameter, uri string) uint8 {
	for _, e := range exts {
		if e.URI == uri {
			return uint8(e.ID)
		}
	}
	return 0
}
