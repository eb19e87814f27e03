package synth

// FrameInfo describes a frame Video generated: what the RTP headers and
// VP8 payload descriptors of its packets carry.
type FrameInfo struct {
	// Timestamp is the RTP timestamp.
	Timestamp uint32
	// PictureID is the 15-bit picture ID.
	PictureID uint16
	// Keyframe reports whether the frame is a keyframe.
	Keyframe bool
	// Packets is the number of packets, Bytes their payload bytes.
	Packets, Bytes int

	// The fields below are zero without temporal layers.

	// TID is the temporal layer, 0 for the base layer.
	TID uint8
	// LayerSync is the Y bit: the frame references the last TID-0 frame
	// only, so a receiver may start forwarding layer TID at it.
	LayerSync bool
	// NonReference is the N bit: no later frame references this one.
	NonReference bool
	// TL0PICIDX counts TID-0 frames, modulo 256.
	TL0PICIDX uint8
	// KeyIdx counts keyframes, modulo 32.
	KeyIdx uint8
}

// LastFrame describes the frame the last call to NextFrame, or Run,
// generated; it is zero before the first. Like NextFrame, it must not be
// called while Run is running.
func (v *Video) LastFrame() FrameInfo {
	return v.last
}
