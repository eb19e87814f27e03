package sfu

import (
	"sync/atomic"
	"time"

	prtp "github.com/prismsfu/prism/rtp"
)

// maxTemporal is the highest temporal layer id a codec can signal (VP9's
// three bits).
const maxTemporal = 7

// statsWindow is how long a stream's bitrate and frame rates are measured
// over.
const statsWindow = time.Second

// A stream stays live for liveFrames frame intervals after its last
// packet, within [minLive, maxLive]: a layer that sent nothing for longer
// was paused (by dynacast, or by its publisher's own congestion control)
// and its subscribers move to another. At 30 frames/s that is 300 ms.
const (
	liveFrames = 9
	minLive    = 300 * time.Millisecond
	maxLive    = time.Second
)

// layerStats is what a stream's read loop measures of it, for layer
// selection: when its last packet came, the picture size its keyframes
// announce, and, over the last window, its bitrate and the frame rate up to
// each temporal layer. The read loop writes it; anyone may read it.
type layerStats struct {
	last    atomic.Int64  // arrival of the newest packet, Unix ns; 0 before the first
	size    atomic.Uint32 // width<<16 | height; 0 until a keyframe says
	bitrate atomic.Uint32 // bits/s over the last window
	// fps[t] is the frame rate, in hundredths of frames/s, of the frames
	// of temporal layers 0..t (of the base spatial layer).
	fps [maxTemporal + 1]atomic.Uint32

	// The window being measured; owned by the read loop. The first is a
	// quarter as long, so a new stream's rates are known quickly.
	start   int64
	bytes   int
	frames  [maxTemporal + 1]int
	settled bool
}

// observe accounts one packet. It reports whether the picture size changed
// or a window closed, either of which may reorder a track's layers.
func (s *layerStats) observe(m *prtp.Meta) bool {
	s.last.Store(m.Arrival)
	changed := false
	if m.Width != 0 && m.Height != 0 {
		size := uint32(m.Width)<<16 | uint32(m.Height)
		changed = s.size.Swap(size) != size
	}
	if s.start == 0 {
		s.start = m.Arrival
	}
	window := statsWindow
	if !s.settled {
		window /= 4
	}
	if elapsed := m.Arrival - s.start; elapsed >= int64(window) {
		s.close(elapsed)
		s.start, s.settled = m.Arrival, true
		changed = true
	}
	s.bytes += int(m.Size)
	if m.Is(prtp.FlagFrameStart) && m.Spatial == 0 && int(m.Temporal) <= maxTemporal {
		s.frames[m.Temporal]++
	}
	return changed
}

// close publishes the window's rates and starts the next.
func (s *layerStats) close(elapsed int64) {
	s.bitrate.Store(uint32(int64(s.bytes) * 8 * int64(time.Second) / elapsed))
	sum := 0
	for t := range s.frames {
		sum += s.frames[t]
		s.fps[t].Store(uint32(int64(sum) * 100 * int64(time.Second) / elapsed))
	}
	s.bytes = 0
	s.frames = [maxTemporal + 1]int{}
}

// live reports whether a packet came recently enough, for the stream's
// frame rate.
func (s *layerStats) live(now int64) bool {
	last := s.last.Load()
	if last == 0 {
		return false
	}
	limit := maxLive
	if fps := s.fps[maxTemporal].Load(); fps > 0 {
		limit = min(max(time.Duration(liveFrames*100*int64(time.Second)/int64(fps)), minLive), maxLive)
	}
	return now-last <= int64(limit)
}

// picture returns the width and height, 0 when unknown.
func (s *layerStats) picture() (w, h int) {
	v := s.size.Load()
	return int(v >> 16), int(v & 0xffff)
}

// temporalFor returns the lowest temporal layer whose frames, with those of
// the layers below, come at fps or more, and AllTemporal when none does or
// fps is 0 (no cap).
func (s *layerStats) temporalFor(fps int) int {
	if fps <= 0 {
		return AllTemporal
	}
	want := uint32(fps) * 90 // within 10 %: 30 fps encoders deliver 29.x
	for t := range s.fps {
		if s.fps[t].Load() >= want {
			return t
		}
	}
	return AllTemporal
}
