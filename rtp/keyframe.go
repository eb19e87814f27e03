package rtp

// IsKeyframe reports whether payload, the RTP payload of a packet of the
// codec named by mimeType (compared case-insensitively), is the first packet
// of a keyframe: the packet at which a decoder that has seen nothing before
// can start (for H.264, given the parameter sets, which the SPS packet or
// STAP-A normally carries). Continuation packets of a keyframe, inter
// frames, malformed or truncated payloads, unknown codecs and audio all
// report false.
//
// The rules per codec:
//   - VP8: the payload descriptor has S=1 and partition index 0, and the VP8
//     frame header that follows has P=0 (key frame) and the 0x9d 0x01 0x2a
//     start code.
//   - VP9: the payload descriptor has B=1 (begin of frame), P=0 (not
//     inter-picture predicted) and spatial layer 0, and is complete.
//   - H.264: a single IDR (5) or SPS (7) NAL unit, a STAP-A holding one, or
//     the first fragment of an FU-A whose NAL unit is one.
//   - AV1: the aggregation header has N=1 (new coded video sequence) and Z=0.
//
// The forwarding path does not call it: Parser.Parse applies the same rules
// once per packet. IsKeyframe does not allocate and never reads outside
// payload.
func IsKeyframe(mimeType string, payload []byte) bool {
	switch CodecFromMime(mimeType) {
	case CodecVP8:
		return isVP8Keyframe(payload)
	case CodecVP9:
		return isVP9Keyframe(payload)
	case CodecH264:
		return isH264Keyframe(payload)
	case CodecAV1:
		return isAV1Keyframe(payload)
	default:
		return false
	}
}
