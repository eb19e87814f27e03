package sfu

import (
	"testing"
	"time"

	prtp "github.com/prismsfu/prism/rtp"
)

// A stream's measurements: the frame rate up to each temporal layer of
// L1T3 at 30 frames/s, the bitrate, the picture size, liveness for its
// frame rate.
func TestLayerStats(t *testing.T) {
	var s layerStats
	start := time.Now().UnixNano()
	const fps, pktSize, perFrame = 30, 1000, 2
	var last int64
	for f := range 2 * fps {
		at := start + int64(f)*int64(time.Second)/fps
		for p := range perFrame {
			m := prtp.Meta{Arrival: at, Size: pktSize, Temporal: [4]uint8{0, 2, 1, 2}[f%4]}
			if p == 0 {
				m.Flags |= prtp.FlagFrameStart
			}
			if f == 0 && p == 0 {
				m.Width, m.Height = 640, 360
			}
			s.observe(&m)
			last = at
		}
	}
	for tid, want := range map[int]float64{0: 7.5, 1: 15, 2: 30, maxTemporal: 30} {
		if got := float64(s.fps[tid].Load()) / 100; got < want*0.9 || got > want*1.1 {
			t.Errorf("frame rate up to layer %d: %.2f, want %.1f", tid, got, want)
		}
	}
	if got, want := float64(s.bitrate.Load()), float64(fps*perFrame*pktSize*8); got < want*0.9 || got > want*1.1 {
		t.Errorf("bitrate %.0f, want %.0f", got, want)
	}
	if w, h := s.picture(); w != 640 || h != 360 {
		t.Errorf("picture %dx%d, want 640x360", w, h)
	}
	if s.temporalFor(15) != 1 || s.temporalFor(30) != 2 || s.temporalFor(0) != AllTemporal || s.temporalFor(60) != AllTemporal {
		t.Errorf("temporalFor: 15 fps %d, 30 fps %d, none %d, 60 fps %d", s.temporalFor(15), s.temporalFor(30), s.temporalFor(0), s.temporalFor(60))
	}
	if !s.live(last + int64(250*time.Millisecond)) {
		t.Error("not live 250 ms after its last packet")
	}
	if s.live(last + int64(400*time.Millisecond)) {
		t.Error("a 30 fps stream still live 400 ms after its last packet")
	}
}
