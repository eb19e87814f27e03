package synth

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	pionrtp "github.com/pion/rtp"
)

// Defaults that NewVideo uses for zero fields of VideoConfig.
const (
	DefaultVideoBitrate     = 1_500_000
	DefaultFPS              = 30
	DefaultKeyframeInterval = 2 * time.Second
	DefaultMTU              = 1200
	DefaultWidth            = 1280
	DefaultHeight           = 720
	DefaultVideoPayloadType = 96
)

// MinMTU is the smallest MTU Video accepts; smaller values are raised to it.
const MinMTU = 100

// keyframeRatio is how many times larger a keyframe is than a delta frame,
// in the range real encoders produce.
const keyframeRatio = 6

// videoClockRate is the RTP clock rate of video, 90 kHz.
const videoClockRate = 90000

// VideoConfig describes a synthetic video stream. Zero fields take the
// Default values.
type VideoConfig struct {
	// Bitrate is the average bitrate in bits per second, counted over RTP
	// payloads (descriptors and stamps included, RTP headers not).
	Bitrate int
	// FPS is the frame rate.
	FPS int
	// KeyframeInterval is the time between scheduled keyframes.
	KeyframeInterval time.Duration
	// MTU is the largest RTP payload in bytes; values below MinMTU are
	// raised to MinMTU.
	MTU int
	// Width and Height are the picture size announced in keyframes; they
	// are limited to 14 bits each.
	Width, Height int
	// PayloadType is the RTP payload type.
	PayloadType uint8
	// SSRC is the RTP SSRC; zero picks a random one.
	SSRC uint32
	// TemporalLayers is the number of temporal layers, in libvpx's
	// patterns, which restart at each keyframe: 2 for L1T2 (TID 0, 1,
	// repeating), 3 for L1T3 (TID 0, 2, 1, 2). 0 and 1 mean none: the
	// payload descriptors carry only a picture ID. Values above
	// MaxTemporalLayers are lowered to it.
	TemporalLayers int
}

// withDefaults returns c with zero or invalid fields replaced.
func (c VideoConfig) withDefaults() VideoConfig {
	if c.Bitrate <= 0 {
		c.Bitrate = DefaultVideoBitrate
	}
	if c.FPS <= 0 {
		c.FPS = DefaultFPS
	}
	if c.KeyframeInterval <= 0 {
		c.KeyframeInterval = DefaultKeyframeInterval
	}
	if c.MTU <= 0 {
		c.MTU = DefaultMTU
	}
	c.MTU = max(c.MTU, MinMTU)
	if c.Width <= 0 || c.Width >= 1<<14 {
		c.Width = DefaultWidth
	}
	if c.Height <= 0 || c.Height >= 1<<14 {
		c.Height = DefaultHeight
	}
	if c.PayloadType == 0 {
		c.PayloadType = DefaultVideoPayloadType
	}
	for c.SSRC == 0 {
		c.SSRC = rand.Uint32()
	}
	c.TemporalLayers = min(max(c.TemporalLayers, 0), MaxTemporalLayers)
	return c
}

// Video generates a VP8 RTP stream. Every packet has a payload descriptor
// (RFC 7741) with a 15-bit picture ID that grows by one per frame and
// partition index 0; the first packet of a frame has S=1 and a VP8 frame
// header, which on keyframes includes the start code and picture size.
// The marker bit is set on a frame's last packet.
//
// With temporal layers the descriptors also carry the frame's TL0PICIDX,
// TID, Y and KEYIDX, and N on frames of the top layer; frames of lower
// layers are larger than those of higher ones, as encoders make them.
// LastFrame describes the frame NextFrame made.
//
// A Video is not safe for concurrent use, except ForceKeyframe, which any
// goroutine may call at any time.
type Video struct {
	cfg        VideoConfig
	keyBytes   int                    // payload bytes of a keyframe
	deltaBytes [MaxTemporalLayers]int // payload bytes of a delta frame, by TID
	gopFrames  int                    // frames from one scheduled keyframe to the next
	descSize   int                    // bytes of each packet's payload descriptor
	pattern    []temporalFrame        // nil without temporal layers

	forceKey atomic.Bool

	seq        uint16
	ts0        uint32
	pictureID  uint16
	ticks      uint64 // frame intervals so far, with or without a frame
	sinceKey   int    // frames generated since the last keyframe
	stampSeq   uint64 // next stamp sequence
	patternPos int    // the next frame's place in pattern
	tl0PicIdx  uint8  // TL0PICIDX of the last TID-0 frame
	keyIdx     uint8  // KEYIDX of the last keyframe
	last       FrameInfo

	pkts    []*pionrtp.Packet
	stampAt []int // offset of each packet's stamp in its payload
}

// NewVideo returns a generator for the stream cfg describes. Its first frame
// is a keyframe.
func NewVideo(cfg VideoConfig) *Video {
	cfg = cfg.withDefaults()
	v := &Video{
		cfg:       cfg,
		seq:       uint16(rand.Uint32()),
		ts0:       rand.Uint32(),
		pictureID: uint16(rand.Uint32() & 0x7fff),
		descSize:  vp8DescriptorSize,
		pattern:   temporalPattern(cfg.TemporalLayers),
		tl0PicIdx: uint8(rand.Uint32()),
		keyIdx:    uint8(rand.Uint32()) & vp8KeyIdxMask,
	}
	if v.pattern != nil {
		v.descSize = vp8LayerDescriptorSize
	}
	v.keyBytes, v.deltaBytes, v.gopFrames = frameSizes(cfg, v.pattern, v.descSize)
	v.sinceKey = v.gopFrames // the first frame is a scheduled keyframe
	v.grow(packetCount(v.keyBytes, cfg.MTU))
	return v
}

// frameSizes returns the payload bytes of a keyframe and of a delta frame
// of each temporal layer, and the number of frames per keyframe interval,
// so that a keyframe is keyframeRatio times the mean delta frame, delta
// frames are sized by layerWeight, and the interval averages cfg.Bitrate.
// descSize is the size of each packet's descriptor.
func frameSizes(cfg VideoConfig, pattern []temporalFrame, descSize int) (key int, delta [MaxTemporalLayers]int, gop int) {
	gop = max(1, int(math.Round(cfg.KeyframeInterval.Seconds()*float64(cfg.FPS))))
	gopBytes := float64(cfg.Bitrate) / 8 * float64(gop) / float64(cfg.FPS)
	minBytes := descSize + vp8KeyHeaderSize + StampSize
	if gop == 1 {
		key = max(minBytes, int(gopBytes))
		return key, [MaxTemporalLayers]int{key, key, key}, gop
	}
	// The interval's delta frames, in mean delta frames.
	var deltas float64
	for n := 1; n < gop; n++ {
		deltas += layerWeight(cfg.TemporalLayers, patternTID(pattern, n))
	}
	d := gopBytes / (deltas + keyframeRatio)
	for tid := range delta {
		delta[tid] = max(minBytes, int(d*layerWeight(cfg.TemporalLayers, uint8(tid))))
	}
	return max(minBytes, int(d*keyframeRatio)), delta, gop
}

// packetCount returns how many packets of at most mtu bytes size needs.
func packetCount(size, mtu int) int {
	return (size + mtu - 1) / mtu
}

// grow makes sure v has at least n packets with full-size buffers.
func (v *Video) grow(n int) {
	for len(v.pkts) < n {
		v.pkts = append(v.pkts, &pionrtp.Packet{Payload: make([]byte, v.cfg.MTU)})
		v.stampAt = append(v.stampAt, 0)
	}
}

// Config returns the configuration v uses, with defaults filled in.
func (v *Video) Config() VideoConfig {
	return v.cfg
}

// FrameInterval returns the time between two frames.
func (v *Video) FrameInterval() time.Duration {
	return time.Second / time.Duration(v.cfg.FPS)
}

// ForceKeyframe makes the next frame a keyframe, as an encoder does when a
// receiver sends a PLI or FIR. The scheduled keyframes then count from it.
// It is safe to call from any goroutine.
func (v *Video) ForceKeyframe() {
	v.forceKey.Store(true)
}

// NextFrame generates the next frame, stamped with send time now, and
// reports whether it is a keyframe; LastFrame describes it further. The
// packets and their payloads belong to v and are overwritten by the next
// call to NextFrame or Run: copy whatever must outlive that.
func (v *Video) NextFrame(now time.Time) (pkts []*pionrtp.Packet, keyframe bool) {
	f := v.planFrame()
	n := packetCount(f.Bytes, v.cfg.MTU)
	v.grow(n)
	for i := range n {
		plen := f.Bytes / n
		if i < f.Bytes%n {
			plen++
		}
		v.fillPacket(i, plen, i == n-1, &f, now)
	}
	f.Packets = n
	v.last = f
	v.pictureID = (v.pictureID + 1) & 0x7fff
	v.ticks++
	return v.pkts[:n], f.Keyframe
}

// skip lets one frame interval pass without a frame, as a paused encoder
// does: the RTP clock runs on, and nothing else changes.
func (v *Video) skip() {
	v.ticks++
}

// planFrame decides what the next frame is and advances the keyframe
// schedule and the temporal layer pattern.
func (v *Video) planFrame() FrameInfo {
	f := FrameInfo{
		Timestamp: v.ts0 + uint32(v.ticks*videoClockRate/uint64(v.cfg.FPS)),
		PictureID: v.pictureID,
		Keyframe:  v.nextIsKey(),
	}
	v.nextLayer(&f)
	f.Bytes = v.deltaBytes[f.TID]
	if f.Keyframe {
		f.Bytes = v.keyBytes
	}
	return f
}

// nextIsKey decides whether the next frame is a keyframe and updates the
// keyframe schedule.
func (v *Video) nextIsKey() bool {
	forced := v.forceKey.Swap(false)
	if forced || v.sinceKey >= v.gopFrames {
		v.sinceKey = 1
		return true
	}
	v.sinceKey++
	return false
}

// fillPacket sets up packet i of frame f with a plen-byte payload: a
// descriptor, then on the first packet a VP8 frame that decoders accept
// (see putVP8FrameHeader), zeros, and the stamp of send time now in the
// last StampSize bytes. Everything after the first packet's frame is
// trailing data a decoder never reads, so the stamps do not disturb
// decoding.
func (v *Video) fillPacket(i, plen int, last bool, f *FrameInfo, now time.Time) {
	p := v.pkts[i]
	p.Header = pionrtp.Header{
		Version:        2,
		Marker:         last,
		PayloadType:    v.cfg.PayloadType,
		SequenceNumber: v.seq,
		Timestamp:      f.Timestamp,
		SSRC:           v.cfg.SSRC,
	}
	v.seq++
	p.Payload = p.Payload[:plen]
	v.putDescriptor(p.Payload, i == 0, f)
	stampAt := plen - StampSize
	body := p.Payload[v.descSize:stampAt]
	clear(body)
	if i == 0 {
		h := vp8InterHeaderSize
		if f.Keyframe {
			h = vp8KeyHeaderSize
		}
		// The zeros after the header are the two partitions: half each.
		putVP8FrameHeader(body, f.Keyframe, (len(body)-h)/2, v.cfg.Width, v.cfg.Height)
	}
	v.stampAt[i] = stampAt
	putStamp(p.Payload[stampAt:], now, v.stampSeq)
	v.stampSeq++
}

// putDescriptor writes the payload descriptor of a packet of frame f to b.
func (v *Video) putDescriptor(b []byte, start bool, f *FrameInfo) {
	if v.pattern == nil {
		putVP8Descriptor(b, start, f.PictureID)
		return
	}
	putVP8LayerDescriptor(b, start, f)
}
