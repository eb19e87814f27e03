package sfu

import (
	"slices"
	"strings"
	"time"
)

// Layer describes one stream of a track: a simulcast encoding, or the
// single stream.
type Layer struct {
	// Stream is the stream's index in its track (Track.Stream).
	Stream int
	RID    string
	// Width and Height are the picture size its keyframes announce; 0
	// until the first.
	Width, Height int
	// Bitrate is in bits/s, over the last second.
	Bitrate int
	// FPS is the frame rate, over the last second.
	FPS float64
	// Live is true while packets arrive; Wanted is false once dynacast has
	// asked the publisher to stop sending it.
	Live, Wanted bool
}

// Layers returns the track's streams, lowest quality first.
func (t *Track) Layers() []Layer {
	var order [maxStreams]int
	n := t.ordered(&order)
	now := time.Now().UnixNano()
	out := make([]Layer, 0, n)
	for _, i := range order[:n] {
		st := t.Stream(i)
		w, h := st.stats.picture()
		out = append(out, Layer{
			Stream: i, RID: st.rid, Width: w, Height: h, Bitrate: int(st.stats.bitrate.Load()),
			FPS:  float64(st.stats.fps[maxTemporal].Load()) / 100,
			Live: st.stats.live(now), Wanted: t.dyn.wanted(i),
		})
	}
	return out
}

// ordered writes the indices of the track's streams into order, lowest
// quality first, and returns how many there are.
func (t *Track) ordered(order *[maxStreams]int) int {
	v := t.order.Load()
	n := int(v >> 8)
	for k := range n {
		order[k] = int(v >> (2 * k) & 3)
	}
	return n
}

// reorder sorts the track's streams by quality: by picture size once their
// keyframes say it, else by bitrate, else by the rid names browsers and
// OBS use, else in arrival order. Called when a stream is added and when
// its measurements change.
func (t *Track) reorder() {
	t.orderMu.Lock()
	defer t.orderMu.Unlock()
	n := t.Streams()
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return compareLayers(t.Stream(a), t.Stream(b)) })
	v := uint32(n) << 8
	for k, i := range idx {
		v |= uint32(i) << (2 * k)
	}
	t.order.Store(v)
}

// compareLayers orders two streams of one track, lower quality first.
func compareLayers(a, b *Stream) int {
	aw, ah := a.stats.picture()
	bw, bh := b.stats.picture()
	if aw*ah != 0 && bw*bh != 0 && aw*ah != bw*bh {
		return aw*ah - bw*bh
	}
	ar, br := int(a.stats.bitrate.Load()), int(b.stats.bitrate.Load())
	if ar != 0 && br != 0 && (ar > 2*br || br > 2*ar) {
		// Only a clear difference: two layers' bitrates cross for a moment
		// when a keyframe lands.
		return ar - br
	}
	return ridOrder(a.rid, b.rid)
}

// ridNames are the rids publishers commonly give their encodings, lowest
// quality first within each family.
var ridNames = [][]string{{"q", "h", "f"}, {"l", "m", "h"}, {"low", "mid", "high"}, {"0", "1", "2"}}

// ridOrder compares two rids by their places in the first family that
// names both, and returns 0 when none does (arrival order then decides).
func ridOrder(a, b string) int {
	a, b = strings.ToLower(a), strings.ToLower(b)
	for _, names := range ridNames {
		if i, j := slices.Index(names, a), slices.Index(names, b); i >= 0 && j >= 0 {
			return i - j
		}
	}
	return 0
}
