package rtp

// AV1 aggregation header bits (AV1 RTP payload format section 4.4).
const (
	av1Z = 0x80 // first OBU element continues an OBU from the previous packet
	av1N = 0x08 // first packet of a coded video sequence
)

// isAV1Keyframe reports whether p is the first packet of a new AV1 coded
// video sequence.
func isAV1Keyframe(p []byte) bool {
	return len(p) >= 2 && p[0]&av1Z == 0 && p[0]&av1N != 0
}
