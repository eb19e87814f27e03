package synth

// MaxTemporalLayers is the largest number of temporal layers Video makes.
const MaxTemporalLayers = 3

// temporalFrame is one frame of a temporal layer pattern.
type temporalFrame struct {
	tid    uint8
	sync   bool // references the TID-0 frame only (Y)
	nonRef bool // referenced by no later frame (N)
}

// temporalPattern returns libvpx's repeating frame pattern for the given
// number of temporal layers, which starts at each keyframe, or nil for
// fewer than two layers. L1T2 alternates TID 0 and 1, every TID-1 frame
// referencing the TID-0 frame before it. L1T3 is TID 0, 2, 1, 2: the first
// TID-2 frame and the TID-1 frame reference the TID-0 frame, the second
// TID-2 frame the TID-1 frame. Frames of the top layer are referenced by
// none.
func temporalPattern(layers int) []temporalFrame {
	switch layers {
	case 2:
		return []temporalFrame{
			{tid: 0},
			{tid: 1, sync: true, nonRef: true},
		}
	case 3:
		return []temporalFrame{
			{tid: 0},
			{tid: 2, sync: true, nonRef: true},
			{tid: 1, sync: true},
			{tid: 2, nonRef: true},
		}
	default:
		return nil
	}
}

// layerWeight returns the size of a delta frame of temporal layer tid,
// relative to the mean delta frame, in a stream of the given number of
// layers. Encoders spend more bits on the frames that others reference:
// TID 0 gets 1.5 times the mean (1.25 in L1T2) and the top layer 0.75
// times, so that one pattern's frames average 1. (libwebrtc gives L1T3's
// layers 40, 20 and 40 % of the bitrate, 1.6, 0.8 and 0.8 times the mean,
// and L1T2's 60 and 40 %, 1.2 and 0.8 times.)
func layerWeight(layers int, tid uint8) float64 {
	switch {
	case layers < 2:
		return 1
	case tid == 0 && layers == 2:
		return 1.25
	case tid == 0:
		return 1.5
	case int(tid) == layers-1:
		return 0.75
	default:
		return 1
	}
}

// patternTID returns the TID of the frame n frames after a keyframe.
func patternTID(pattern []temporalFrame, n int) uint8 {
	if len(pattern) == 0 {
		return 0
	}
	return pattern[n%len(pattern)].tid
}

// nextLayer fills in the temporal layer fields of f, the next frame, and
// advances v's place in the pattern. A keyframe restarts the pattern and
// takes the next KEYIDX; each TID-0 frame takes the next TL0PICIDX.
func (v *Video) nextLayer(f *FrameInfo) {
	if len(v.pattern) == 0 {
		return
	}
	if f.Keyframe {
		v.patternPos = 0
		v.keyIdx = (v.keyIdx + 1) & vp8KeyIdxMask
	}
	t := v.pattern[v.patternPos]
	v.patternPos = (v.patternPos + 1) % len(v.pattern)
	if t.tid == 0 {
		v.tl0PicIdx++
	}
	f.TID = t.tid
	f.LayerSync = f.Keyframe || t.sync
	f.NonReference = t.nonRef
	f.TL0PICIDX = v.tl0PicIdx
	f.KeyIdx = v.keyIdx
}
