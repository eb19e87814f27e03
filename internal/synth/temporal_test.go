package synth

import (
	"math"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	prismrtp "github.com/prismsfu/prism/rtp"
)

// layerModel is what a temporal layer stream must send, written out from
// libvpx's patterns independently of temporalPattern.
type layerModel struct {
	layers int
	tids   []uint8 // TID by frames since the keyframe, repeating
	syncs  []bool  // Y of delta frames, likewise
}

var (
	modelL1T2 = layerModel{layers: 2, tids: []uint8{0, 1}, syncs: []bool{false, true}}
	modelL1T3 = layerModel{layers: 3, tids: []uint8{0, 2, 1, 2}, syncs: []bool{false, true, true, false}}
)

// want returns the TID, Y and N of the frame sinceKey frames after the
// last keyframe.
func (m layerModel) want(sinceKey int) (tid uint8, sync, nonRef bool) {
	tid = m.tids[sinceKey%len(m.tids)]
	sync = sinceKey == 0 || m.syncs[sinceKey%len(m.syncs)]
	return tid, sync, int(tid) == m.layers-1
}

// frameState follows the counters of one stream frame by frame.
type frameState struct {
	started  bool
	sinceKey int
	pid      uint16
	tl0      uint8
	keyIdx   uint8
}

// parseLayerFrame parses every packet of a frame of a stream with temporal
// layers, checks that they agree, and returns the first's descriptor and
// the VP8 data after it.
func parseLayerFrame(t *testing.T, pkts []*pionrtp.Packet) (codecs.VP8Packet, []byte) {
	t.Helper()
	var first codecs.VP8Packet
	var data []byte
	for i, p := range pkts {
		var d codecs.VP8Packet
		rest, err := d.Unmarshal(p.Payload)
		if err != nil {
			t.Fatalf("packet %d: pion cannot parse: %v", i, err)
		}
		if n, ok := prismrtp.VP8DescriptorLen(p.Payload); !ok || n != 6 {
			t.Fatalf("packet %d: descriptor length %d, want 6", i, n)
		}
		if d.X != 1 || d.I != 1 || d.L != 1 || d.T != 1 || d.K != 1 || d.PID != 0 || (d.S == 1) != (i == 0) {
			t.Fatalf("packet %d: descriptor %+v", i, d)
		}
		if p.Marker != (i == len(pkts)-1) {
			t.Fatalf("packet %d of %d: marker %v", i, len(pkts), p.Marker)
		}
		if i == 0 {
			first, data = d, rest
			continue
		}
		if d.N != first.N || d.PictureID != first.PictureID || d.TL0PICIDX != first.TL0PICIDX ||
			d.TID != first.TID || d.Y != first.Y || d.KEYIDX != first.KEYIDX {
			t.Fatalf("packet %d: descriptor %+v, frame's first %+v", i, d, first)
		}
	}
	return first, data
}

// checkLayerFrame checks a frame of a stream of model m against the state
// before it, advances the state and returns the frame's descriptor.
func checkLayerFrame(t *testing.T, m layerModel, pkts []*pionrtp.Packet, key bool, s *frameState) codecs.VP8Packet {
	t.Helper()
	d, data := parseLayerFrame(t, pkts)
	if key {
		s.sinceKey = 0
	}
	tid, sync, nonRef := m.want(s.sinceKey)
	if d.TID != tid || (d.Y == 1) != sync || (d.N == 1) != nonRef {
		t.Fatalf("%d frames after a keyframe: TID %d Y %d N %d, want %d %v %v", s.sinceKey, d.TID, d.Y, d.N, tid, sync, nonRef)
	}
	if s.started {
		wantTL0, wantKey := s.tl0, s.keyIdx
		if tid == 0 {
			wantTL0++
		}
		if key {
			wantKey = (wantKey + 1) & 0x1f
		}
		if d.PictureID != (s.pid+1)&0x7fff || d.TL0PICIDX != wantTL0 || d.KEYIDX != wantKey {
			t.Fatalf("picture %d TL0PICIDX %d KEYIDX %d after %d %d %d", d.PictureID, d.TL0PICIDX, d.KEYIDX, s.pid, s.tl0, s.keyIdx)
		}
	}
	if tag := parseFrameTag(t, data); tag.key != key || !tag.show {
		t.Fatalf("frame header %+v right after the descriptor, keyframe %v", tag, key)
	}
	s.started, s.pid, s.tl0, s.keyIdx = true, d.PictureID, d.TL0PICIDX, d.KEYIDX
	s.sinceKey++
	return d
}

// checkLastFrame checks that v's LastFrame describes the frame pkts, whose
// first descriptor is d.
func checkLastFrame(t *testing.T, v *Video, pkts []*pionrtp.Packet, d codecs.VP8Packet) {
	t.Helper()
	f := v.LastFrame()
	bytes := 0
	for _, p := range pkts {
		bytes += len(p.Payload)
	}
	if f.Keyframe != prismrtp.IsKeyframe("video/VP8", pkts[0].Payload) || f.TID != d.TID ||
		f.LayerSync != (d.Y == 1) || f.NonReference != (d.N == 1) || f.PictureID != d.PictureID ||
		f.TL0PICIDX != d.TL0PICIDX || f.KeyIdx != d.KEYIDX || f.Timestamp != pkts[0].Timestamp ||
		f.Packets != len(pkts) || f.Bytes != bytes {
		t.Fatalf("LastFrame %+v for descriptor %+v", f, d)
	}
}

func TestVideoTemporalLayerDescriptors(t *testing.T) {
	for _, m := range []layerModel{modelL1T2, modelL1T3} {
		// 10 fps, a keyframe every 7 frames: the pattern is cut short by
		// each keyframe, and 400 frames wrap TL0PICIDX and KEYIDX.
		v := NewVideo(VideoConfig{TemporalLayers: m.layers, FPS: 10, KeyframeInterval: 700 * time.Millisecond})
		var s frameState
		for frame := range 400 {
			pkts, key := v.NextFrame(t0)
			if want := frame%7 == 0; key != want {
				t.Fatalf("L1T%d frame %d: keyframe %v, want %v", m.layers, frame, key, want)
			}
			checkLastFrame(t, v, pkts, checkLayerFrame(t, m, pkts, key, &s))
		}
	}
}

func TestVideoTemporalLayerForcedKeyframe(t *testing.T) {
	for _, m := range []layerModel{modelL1T2, modelL1T3} {
		v := NewVideo(VideoConfig{TemporalLayers: m.layers})
		var s frameState
		for frame := range 20 {
			if frame == 6 || frame == 11 {
				v.ForceKeyframe()
			}
			pkts, key := v.NextFrame(t0)
			if want := frame == 0 || frame == 6 || frame == 11; key != want {
				t.Fatalf("L1T%d frame %d: keyframe %v, want %v", m.layers, frame, key, want)
			}
			checkLastFrame(t, v, pkts, checkLayerFrame(t, m, pkts, key, &s))
		}
	}
}

func TestVideoTemporalLayersSeenBySFU(t *testing.T) {
	v := NewVideo(VideoConfig{TemporalLayers: 3, Width: 640, Height: 360})
	parser := prismrtp.Parser{Codec: prismrtp.CodecVP8}
	for frame := range 8 {
		pkts, key := v.NextFrame(t0)
		f := v.LastFrame()
		for i, p := range pkts {
			b, err := p.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			var meta prismrtp.Meta
			if err := parser.Parse(b, 0, &meta); err != nil {
				t.Fatal(err)
			}
			wantKey := key && i == 0
			if meta.Temporal != f.TID || meta.Is(prismrtp.FlagLayerSync) != f.LayerSync ||
				meta.Is(prismrtp.FlagDiscardable) != f.NonReference || meta.Is(prismrtp.FlagKeyframe) != wantKey {
				t.Fatalf("frame %d packet %d: Meta %+v for %+v", frame, i, meta, f)
			}
			if wantKey && (meta.Width != 640 || meta.Height != 360) {
				t.Fatalf("keyframe announces %dx%d", meta.Width, meta.Height)
			}
			if _, _, ok := ParseStamp("video/VP8", p.Payload); !ok {
				t.Fatalf("frame %d packet %d: no stamp", frame, i)
			}
		}
	}
}

func TestVideoTemporalLayerSizes(t *testing.T) {
	configs := []VideoConfig{
		{TemporalLayers: 2},
		{TemporalLayers: 3},
		{TemporalLayers: 3, Bitrate: 150_000, KeyframeInterval: 3 * time.Second},
		{TemporalLayers: 3, Bitrate: 2_500_000, FPS: 60, MTU: 1000},
		{TemporalLayers: 2, Bitrate: 500_000, FPS: 15, KeyframeInterval: 1100 * time.Millisecond},
	}
	for _, cfg := range configs {
		v := NewVideo(cfg)
		cfg = v.Config()
		gop := int(math.Round(cfg.KeyframeInterval.Seconds() * float64(cfg.FPS)))
		var bytes, deltas, deltaBytes int
		var tidBytes, tidFrames [MaxTemporalLayers]int
		const intervals = 3
		for range intervals * gop {
			v.NextFrame(t0)
			f := v.LastFrame()
			bytes += f.Bytes
			if !f.Keyframe {
				deltas, deltaBytes = deltas+1, deltaBytes+f.Bytes
				tidFrames[f.TID]++
				tidBytes[f.TID] += f.Bytes
			}
		}
		seconds := float64(intervals*gop) / float64(cfg.FPS)
		if rate := float64(bytes*8) / seconds; math.Abs(rate/float64(cfg.Bitrate)-1) > 0.02 {
			t.Errorf("%+v: bitrate %.0f, want %d ±2%%", cfg, rate, cfg.Bitrate)
		}
		mean := float64(deltaBytes) / float64(deltas)
		base := float64(tidBytes[0]) / float64(tidFrames[0]) / mean
		top := float64(tidBytes[cfg.TemporalLayers-1]) / float64(tidFrames[cfg.TemporalLayers-1]) / mean
		wantBase := 1.5
		if cfg.TemporalLayers == 2 {
			wantBase = 1.25
		}
		if math.Abs(base-wantBase) > 0.05 || math.Abs(top-0.75) > 0.05 {
			t.Errorf("%+v: TID 0 frames %.2f and top frames %.2f times the mean delta frame, want %.2f and 0.75",
				cfg, base, top, wantBase)
		}
	}
}

func TestVideoTemporalLayersNextFrameDoesNotAllocate(t *testing.T) {
	v := NewVideo(VideoConfig{TemporalLayers: 3, KeyframeInterval: 100 * time.Millisecond})
	allocs := testing.AllocsPerRun(100, func() { v.NextFrame(t0) })
	if allocs != 0 {
		t.Fatalf("NextFrame allocates %v times per frame", allocs)
	}
}
