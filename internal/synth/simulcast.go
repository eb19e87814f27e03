package synth

import (
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// MaxSimulcastLayers is the largest number of layers a Simulcast sends.
const MaxSimulcastLayers = 3

// SimulcastConfig describes a synthetic simulcast publisher. Zero fields
// take defaults: those of VideoConfig, and for the layers roughly what
// Chromium sends at 720p.
type SimulcastConfig struct {
	// Width and Height are the picture size of the top layer; layer i of
	// n is scaled down by 2^(n-1-i) in both.
	Width, Height int
	// FPS is the frame rate of every layer.
	FPS int
	// TemporalLayers is the number of temporal layers of every layer, as
	// in VideoConfig.
	TemporalLayers int
	// Layers is the number of layers, 1 to MaxSimulcastLayers; others
	// become MaxSimulcastLayers.
	Layers int
	// Bitrates are the layers' bitrates, lowest layer first. A zero entry
	// takes Chromium's for the layer's scale: 1.7 Mbit/s for the top
	// layer, 500 kbit/s for half its size, 150 kbit/s for a quarter.
	Bitrates [MaxSimulcastLayers]int
	// RIDs are the layers' RTP stream IDs, lowest layer first. An empty
	// entry takes the name for the layer's scale: "f" for the top layer,
	// "h" for half its size, "q" for a quarter.
	RIDs [MaxSimulcastLayers]string
	// KeyframeInterval, MTU and PayloadType apply to every layer, as in
	// VideoConfig.
	KeyframeInterval time.Duration
	MTU              int
	PayloadType      uint8
}

// withDefaults returns c with zero or invalid fields replaced, and the
// entries of Bitrates and RIDs past Layers cleared.
func (c SimulcastConfig) withDefaults() SimulcastConfig {
	base := c.videoConfig().withDefaults()
	c.Width, c.Height, c.FPS, c.TemporalLayers = base.Width, base.Height, base.FPS, base.TemporalLayers
	c.KeyframeInterval, c.MTU, c.PayloadType = base.KeyframeInterval, base.MTU, base.PayloadType
	if c.Layers <= 0 || c.Layers > MaxSimulcastLayers {
		c.Layers = MaxSimulcastLayers
	}
	for i := range MaxSimulcastLayers {
		if i >= c.Layers {
			c.Bitrates[i], c.RIDs[i] = 0, ""
			continue
		}
		if c.Bitrates[i] <= 0 {
			c.Bitrates[i] = defaultLayerBitrate(c.Layers - 1 - i)
		}
		if c.RIDs[i] == "" {
			c.RIDs[i] = defaultRID(c.Layers - 1 - i)
		}
	}
	return c
}

// videoConfig returns the VideoConfig fields every layer shares, with a
// placeholder SSRC.
func (c SimulcastConfig) videoConfig() VideoConfig {
	return VideoConfig{
		FPS:              c.FPS,
		KeyframeInterval: c.KeyframeInterval,
		MTU:              c.MTU,
		Width:            c.Width,
		Height:           c.Height,
		PayloadType:      c.PayloadType,
		SSRC:             1,
		TemporalLayers:   c.TemporalLayers,
	}
}

// layerConfig returns the VideoConfig of layer i of c, which has its
// defaults, with SSRC ssrc.
func (c SimulcastConfig) layerConfig(i int, ssrc uint32) VideoConfig {
	shift := c.Layers - 1 - i
	vc := c.videoConfig()
	vc.Bitrate = c.Bitrates[i]
	vc.Width, vc.Height = max(1, c.Width>>shift), max(1, c.Height>>shift)
	vc.SSRC = ssrc
	return vc
}

// defaultLayerBitrate returns the bitrate of a layer scaled down by
// 2^shift from the top layer of a 720p stream, roughly Chromium's.
func defaultLayerBitrate(shift int) int {
	switch shift {
	case 0:
		return 1_700_000
	case 1:
		return 500_000
	default:
		return 150_000
	}
}

// defaultRID returns the RTP stream ID of a layer scaled down by 2^shift
// from the top layer.
func defaultRID(shift int) string {
	switch shift {
	case 0:
		return "f"
	case 1:
		return "h"
	default:
		return "q"
	}
}

// Simulcast generates the streams of a simulcast publisher, as Chromium
// sends them for VP8 with scalabilityMode L1T1, L1T2 or L1T3: one Video
// per layer, each with its own SSRC, sequence numbers, picture IDs,
// TL0PICIDX and RTP timestamp base, lowest layer first. Run sends every
// active layer's frame of one capture instant at each frame tick.
//
// ForceKeyframe, SetActive and Active are safe to call from any goroutine
// at any time, as are Config, Layers and RID. The Videos that Layer returns
// are Run's while it runs: only their ForceKeyframe may be called then.
type Simulcast struct {
	cfg    SimulcastConfig
	layers []*Video
	paused [MaxSimulcastLayers]atomic.Bool
}

// NewSimulcast returns a generator for the layers cfg describes. Every
// layer is active and starts with a keyframe.
func NewSimulcast(cfg SimulcastConfig) *Simulcast {
	cfg = cfg.withDefaults()
	s := &Simulcast{cfg: cfg}
	for i := range cfg.Layers {
		s.layers = append(s.layers, NewVideo(cfg.layerConfig(i, s.newSSRC())))
	}
	return s
}

// newSSRC returns a random SSRC that no layer of s has yet.
func (s *Simulcast) newSSRC() uint32 {
	for {
		ssrc := rand.Uint32()
		if ssrc != 0 && !s.hasSSRC(ssrc) {
			return ssrc
		}
	}
}

// hasSSRC reports whether a layer of s has SSRC ssrc.
func (s *Simulcast) hasSSRC(ssrc uint32) bool {
	for _, v := range s.layers {
		if v.cfg.SSRC == ssrc {
			return true
		}
	}
	return false
}

// Config returns the configuration s uses, with defaults filled in.
func (s *Simulcast) Config() SimulcastConfig {
	return s.cfg
}

// Layers returns the number of layers.
func (s *Simulcast) Layers() int {
	return len(s.layers)
}

// FrameInterval returns the time between two frames of every layer.
func (s *Simulcast) FrameInterval() time.Duration {
	return s.layers[0].FrameInterval()
}

// Layer returns the generator of layer i, 0 being the lowest, or nil when
// there is no layer i.
func (s *Simulcast) Layer(i int) *Video {
	if !s.has(i) {
		return nil
	}
	return s.layers[i]
}

// RID returns the RTP stream ID of layer i, or "" when there is no layer i.
func (s *Simulcast) RID(i int) string {
	if !s.has(i) {
		return ""
	}
	return s.cfg.RIDs[i]
}

// ForceKeyframe makes layer i's next frame a keyframe, as an encoder does
// when a receiver of that layer sends a PLI or FIR. It does nothing when
// there is no layer i.
func (s *Simulcast) ForceKeyframe(i int) {
	if s.has(i) {
		s.layers[i].ForceKeyframe()
	}
}

// SetActive pauses or resumes layer i, as a browser does when
// encodings[i].active changes. A paused layer sends nothing, though its
// RTP clock runs on; the first frame of a resumed layer is a keyframe.
// Setting a layer's state to the one it has changes nothing. It does
// nothing when there is no layer i.
func (s *Simulcast) SetActive(i int, active bool) {
	if !s.has(i) {
		return
	}
	if !active {
		s.paused[i].Store(true)
		return
	}
	if !s.paused[i].Load() {
		return
	}
	// The keyframe is asked for before the layer is resumed, so Run never
	// sends a resumed layer's delta frame first.
	s.layers[i].ForceKeyframe()
	s.paused[i].Store(false)
}

// Active reports whether layer i is active; false when there is no
// layer i.
func (s *Simulcast) Active(i int) bool {
	return s.has(i) && !s.paused[i].Load()
}

// has reports whether s has layer i.
func (s *Simulcast) has(i int) bool {
	return i >= 0 && i < len(s.layers)
}
