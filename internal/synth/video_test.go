package synth

import (
	"math"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	prismrtp "github.com/prismsfu/prism/rtp"
)

// t0 is the start of the synthetic clock in tests.
var t0 = time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)

// vp8FrameTag is a parsed VP8 frame header.
type vp8FrameTag struct {
	key           bool
	version       int
	show          bool
	partSize      int
	width, height int
}

// parseFrameTag parses the VP8 frame header at the start of b.
func parseFrameTag(t *testing.T, b []byte) vp8FrameTag {
	t.Helper()
	if len(b) < 3 {
		t.Fatalf("frame header too short: % x", b)
	}
	raw := int(b[0]) | int(b[1])<<8 | int(b[2])<<16
	tag := vp8FrameTag{key: raw&1 == 0, version: raw >> 1 & 7, show: raw>>4&1 == 1, partSize: raw >> 5}
	if !tag.key {
		return tag
	}
	if len(b) < 10 || b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
		t.Fatalf("key frame without start code: % x", b)
	}
	tag.width = (int(b[6]) | int(b[7])<<8) & 0x3fff
	tag.height = (int(b[8]) | int(b[9])<<8) & 0x3fff
	return tag
}

func TestVideoKeyframesAreDetected(t *testing.T) {
	v := NewVideo(VideoConfig{})
	pkts, key := v.NextFrame(t0)
	if !key {
		t.Fatal("first frame is not a keyframe")
	}
	for i, p := range pkts {
		if got := prismrtp.IsKeyframe("video/VP8", p.Payload); got != (i == 0) {
			t.Fatalf("keyframe packet %d: IsKeyframe = %v", i, got)
		}
	}
	pkts, key = v.NextFrame(t0.Add(v.FrameInterval()))
	if key {
		t.Fatal("second frame is a keyframe")
	}
	for i, p := range pkts {
		if prismrtp.IsKeyframe("video/VP8", p.Payload) {
			t.Fatalf("delta frame packet %d is a keyframe", i)
		}
	}
}

func TestVideoPacketsAreValidVP8(t *testing.T) {
	cfg := VideoConfig{MTU: 900}
	v := NewVideo(cfg)
	var prevSeq uint16
	var prevTS uint32
	var prevPID uint16
	started := false
	// 150 frames cross a scheduled keyframe at frame 60 and 120.
	for frame := range 150 {
		pkts, key := v.NextFrame(t0.Add(time.Duration(frame) * v.FrameInterval()))
		if want := frame%60 == 0; key != want {
			t.Fatalf("frame %d: keyframe = %v, want %v", frame, key, want)
		}
		var pid uint16
		for i, p := range pkts {
			var vp8 codecs.VP8Packet
			rest, err := vp8.Unmarshal(p.Payload)
			if err != nil {
				t.Fatalf("frame %d packet %d: pion cannot parse: %v", frame, i, err)
			}
			if len(p.Payload) > cfg.MTU {
				t.Fatalf("frame %d packet %d: payload %d > MTU %d", frame, i, len(p.Payload), cfg.MTU)
			}
			if vp8.X != 1 || vp8.I != 1 || vp8.PID != 0 || (vp8.S == 1) != (i == 0) {
				t.Fatalf("frame %d packet %d: descriptor %+v", frame, i, vp8)
			}
			if p.Marker != (i == len(pkts)-1) {
				t.Fatalf("frame %d packet %d of %d: marker = %v", frame, i, len(pkts), p.Marker)
			}
			if p.Version != 2 || p.PayloadType != DefaultVideoPayloadType || p.SSRC != v.Config().SSRC {
				t.Fatalf("frame %d packet %d: header %+v", frame, i, p.Header)
			}
			if i == 0 {
				pid = vp8.PictureID
				checkFrameHeader(t, rest, key, pkts)
			} else if vp8.PictureID != pid {
				t.Fatalf("frame %d packet %d: picture ID %d, frame has %d", frame, i, vp8.PictureID, pid)
			}
			if started && p.SequenceNumber != prevSeq+1 {
				t.Fatalf("frame %d packet %d: seq %d after %d", frame, i, p.SequenceNumber, prevSeq)
			}
			if started && i > 0 && p.Timestamp != prevTS {
				t.Fatalf("frame %d packet %d: timestamp changed inside a frame", frame, i)
			}
			if started && i == 0 && p.Timestamp != prevTS+3000 {
				t.Fatalf("frame %d: timestamp %d after %d, want +3000", frame, p.Timestamp, prevTS)
			}
			if started && i == 0 && pid != (prevPID+1)&0x7fff {
				t.Fatalf("frame %d: picture ID %d after %d", frame, pid, prevPID)
			}
			prevSeq, prevTS, started = p.SequenceNumber, p.Timestamp, true
		}
		prevPID = pid
	}
}

// checkFrameHeader checks the VP8 frame header that starts b, the first
// packet's payload after its descriptor.
func checkFrameHeader(t *testing.T, b []byte, key bool, frame []*pionrtp.Packet) {
	t.Helper()
	tag := parseFrameTag(t, b)
	if tag.key != key || tag.version != 0 || !tag.show {
		t.Fatalf("frame tag %+v for keyframe=%v", tag, key)
	}
	if key && (tag.width != DefaultWidth || tag.height != DefaultHeight) {
		t.Fatalf("keyframe size %dx%d", tag.width, tag.height)
	}
	frameBytes := 0
	for _, p := range frame {
		frameBytes += len(p.Payload) - vp8DescriptorSize
	}
	if tag.partSize <= 0 || tag.partSize > frameBytes-3 {
		t.Fatalf("first partition size %d in a %d-byte frame", tag.partSize, frameBytes)
	}
}

func TestVideoBitrate(t *testing.T) {
	configs := []VideoConfig{
		{},
		{Bitrate: 300_000, FPS: 15, KeyframeInterval: time.Second},
		{Bitrate: 3_000_000, FPS: 60, KeyframeInterval: 3 * time.Second, MTU: 1000},
		{Bitrate: 800_000, FPS: 24, KeyframeInterval: 5 * time.Second},
	}
	for _, cfg := range configs {
		v := NewVideo(cfg)
		cfg = v.Config()
		const seconds = 10
		var bytes, keys, keySize, deltaSize int
		for frame := range seconds * cfg.FPS {
			pkts, key := v.NextFrame(t0.Add(time.Duration(frame) * v.FrameInterval()))
			size := 0
			for _, p := range pkts {
				size += len(p.Payload)
			}
			bytes += size
			if key {
				keys, keySize = keys+1, size
			} else {
				deltaSize = size
			}
		}
		rate := float64(bytes*8) / seconds
		if math.Abs(rate/float64(cfg.Bitrate)-1) > 0.15 {
			t.Errorf("%+v: bitrate %.0f, want %d ±15%%", cfg, rate, cfg.Bitrate)
		}
		wantKeys := int(math.Ceil(seconds / cfg.KeyframeInterval.Seconds()))
		if keys != wantKeys {
			t.Errorf("%+v: %d keyframes in %d s, want %d", cfg, keys, seconds, wantKeys)
		}
		if ratio := float64(keySize) / float64(deltaSize); ratio < 5 || ratio > 8 {
			t.Errorf("%+v: keyframe %d bytes, delta %d: ratio %.1f", cfg, keySize, deltaSize, ratio)
		}
	}
}

func TestVideoForceKeyframe(t *testing.T) {
	v := NewVideo(VideoConfig{FPS: 10, KeyframeInterval: time.Second})
	want := []bool{true, false, false, true, false, false, false, false, false, false, false, false, false, true}
	for frame, wantKey := range want {
		if frame == 3 {
			v.ForceKeyframe()
			v.ForceKeyframe() // two requests make one keyframe
		}
		if _, key := v.NextFrame(t0); key != wantKey {
			t.Fatalf("frame %d: keyframe = %v, want %v", frame, key, wantKey)
		}
	}
}

func TestVideoMTU(t *testing.T) {
	for _, mtu := range []int{1, MinMTU, 333, 1200, 1400} {
		v := NewVideo(VideoConfig{MTU: mtu})
		limit := max(mtu, MinMTU)
		for frame := range 3 {
			pkts, _ := v.NextFrame(t0)
			for i, p := range pkts {
				if len(p.Payload) > limit {
					t.Fatalf("MTU %d frame %d packet %d: %d bytes", mtu, frame, i, len(p.Payload))
				}
				if _, _, ok := ParseStamp("video/VP8", p.Payload); !ok {
					t.Fatalf("MTU %d frame %d packet %d: no stamp", mtu, frame, i)
				}
			}
		}
	}
}

func TestVideoStampsRoundTrip(t *testing.T) {
	v := NewVideo(VideoConfig{})
	var next uint64
	for frame := range 90 {
		now := t0.Add(time.Duration(frame) * v.FrameInterval())
		pkts, _ := v.NextFrame(now)
		for i, p := range pkts {
			sent, seq, ok := ParseStamp("video/VP8", p.Payload)
			if !ok || !sent.Equal(now) || seq != next {
				t.Fatalf("frame %d packet %d: stamp (%v, %d, %v), want (%v, %d)", frame, i, sent, seq, ok, now, next)
			}
			next++
		}
	}
}

func TestVideoNextFrameDoesNotAllocate(t *testing.T) {
	v := NewVideo(VideoConfig{KeyframeInterval: 100 * time.Millisecond})
	allocs := testing.AllocsPerRun(100, func() { v.NextFrame(t0) })
	if allocs != 0 {
		t.Fatalf("NextFrame allocates %v times per frame", allocs)
	}
}
