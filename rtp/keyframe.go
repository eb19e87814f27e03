package rtp

import "strings"

// Codec MIME types that IsKeyframe understands; they are compared with
// strings.EqualFold.
const (
	mimeVP8  = "video/VP8"
	mimeVP9  = "video/VP9"
	mimeH264 = "video/H264"
	mimeAV1  = "video/AV1"
)

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
// IsKeyframe does not allocate and never reads outside payload.
func IsKeyframe(mimeType string, payload []byte) bool {
	switch keyframeCodec(mimeType) {
	case mimeVP8:
		return isVP8Keyframe(payload)
	case mimeVP9:
		return isVP9Keyframe(payload)
	case mimeH264:
		return isH264Keyframe(payload)
	case mimeAV1:
		return isAV1Keyframe(payload)
	default:
		return false
	}
}

// keyframeCodec returns the canonical spelling of mimeType if IsKeyframe
// knows the codec, and "" otherwise. The exact spelling, which pion uses,
// is matched first because it is the cheapest.
func keyframeCodec(mimeType string) string {
	switch mimeType {
	case mimeVP8, mimeVP9, mimeH264, mimeAV1:
		return mimeType
	}
	for _, m := range [...]string{mimeVP8, mimeVP9, mimeH264, mimeAV1} {
		if strings.EqualFold(mimeType, m) {
			return m
		}
	}
	return ""
}

// VP8 payload descriptor bits (RFC 7741 section 4.2).
const (
	vp8X       = 0x80 // first byte: extended control bits present
	vp8S       = 0x10 // first byte: start of partition
	vp8PIDMask = 0x07 // first byte: partition index
	vp8I       = 0x80 // extension byte: picture ID present
	vp8L       = 0x40 // extension byte: TL0PICIDX present
	vp8TK      = 0x30 // extension byte: TID/Y/KEYIDX byte present
	vp8M       = 0x80 // picture ID byte: 15-bit picture ID
)

// vp8KeyHeaderLen is the length of a VP8 key frame's header: a 3-byte frame
// tag and a 3-byte start code (RFC 6386 section 9.1), up to the start code.
const vp8KeyHeaderLen = 6

// isVP8Keyframe reports whether p begins a VP8 key frame.
func isVP8Keyframe(p []byte) bool {
	if len(p) == 0 || p[0]&vp8S == 0 || p[0]&vp8PIDMask != 0 {
		return false
	}
	n, ok := VP8DescriptorLen(p)
	if !ok || len(p)-n < vp8KeyHeaderLen {
		return false
	}
	h := p[n:]
	return h[0]&0x01 == 0 && h[3] == 0x9d && h[4] == 0x01 && h[5] == 0x2a
}

// VP8DescriptorLen returns the length of the VP8 payload descriptor (RFC
// 7741) at the start of an RTP payload, and false when p is too short to
// hold it: the VP8 data starts that many bytes in.
func VP8DescriptorLen(p []byte) (int, bool) {
	if len(p) == 0 {
		return 0, false
	}
	if p[0]&vp8X == 0 {
		return 1, true
	}
	if len(p) < 2 {
		return 0, false
	}
	ext, n := p[1], 2
	if ext&vp8I != 0 {
		if n >= len(p) {
			return 0, false
		}
		n++
		if p[n-1]&vp8M != 0 {
			n++
		}
	}
	if ext&vp8L != 0 {
		n++
	}
	if ext&vp8TK != 0 {
		n++
	}
	return n, n <= len(p)
}

// VP9 payload descriptor bits (RFC 9628 section 4.2).
const (
	vp9I = 0x80 // picture ID present
	vp9P = 0x40 // inter-picture predicted
	vp9L = 0x20 // layer indices present
	vp9F = 0x10 // flexible mode
	vp9B = 0x08 // start of a frame
	vp9V = 0x02 // scalability structure present
	vp9M = 0x80 // picture ID byte: 15-bit picture ID
)

// isVP9Keyframe reports whether p begins a VP9 frame of spatial layer 0
// that uses no inter-picture prediction.
func isVP9Keyframe(p []byte) bool {
	if len(p) == 0 || p[0]&vp9B == 0 || p[0]&vp9P != 0 {
		return false
	}
	flags, n := p[0], 1
	if flags&vp9I != 0 {
		if n >= len(p) {
			return false
		}
		n++
		if p[n-1]&vp9M != 0 {
			n++
		}
	}
	if flags&vp9L != 0 {
		if n >= len(p) || p[n]>>1&0x07 != 0 {
			return false
		}
		n++
		if flags&vp9F == 0 {
			n++ // TL0PICIDX
		}
	}
	// With P=0 a flexible-mode descriptor carries no reference indices.
	if flags&vp9V != 0 {
		var ok bool
		if n, ok = skipVP9SS(p, n); !ok {
			return false
		}
	}
	return n < len(p)
}

// skipVP9SS returns the offset just past the scalability structure that
// starts at p[n], and false when p is too short to hold it.
func skipVP9SS(p []byte, n int) (int, bool) {
	if n >= len(p) {
		return 0, false
	}
	hdr := p[n]
	n++
	if hdr&0x10 != 0 { // Y: width and height of every spatial layer
		n += 4 * (int(hdr>>5) + 1)
	}
	if hdr&0x08 == 0 { // G: no picture group description
		return n, n <= len(p)
	}
	if n >= len(p) {
		return 0, false
	}
	groups := int(p[n])
	n++
	for range groups {
		if n >= len(p) {
			return 0, false
		}
		n += 1 + int(p[n]>>2&0x03) // TID/U/R byte, then R P_DIFF bytes
	}
	return n, n <= len(p)
}

// H.264 NAL unit types (RFC 6184 section 5.2, ITU-T H.264 table 7-1).
const (
	h264TypeMask = 0x1f
	h264IDR      = 5
	h264SPS      = 7
	h264STAPA    = 24
	h264FUA      = 28
	h264FUStart  = 0x80 // FU header: start of a fragmented NAL unit
)

// isH264Keyframe reports whether p carries an IDR slice or a sequence
// parameter set at its start.
func isH264Keyframe(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	switch t := p[0] & h264TypeMask; t {
	case h264STAPA:
		return stapAHasKey(p[1:])
	case h264FUA:
		return len(p) >= 3 && p[1]&h264FUStart != 0 && isH264KeyType(p[1]&h264TypeMask)
	default:
		return isH264KeyType(t)
	}
}

// stapAHasKey reports whether the aggregation units of a STAP-A (without its
// one-byte header) hold an IDR or SPS NAL unit before any malformed unit.
func stapAHasKey(p []byte) bool {
	for len(p) >= 2 {
		size := int(p[0])<<8 | int(p[1])
		p = p[2:]
		if size == 0 || size > len(p) {
			return false
		}
		if size >= 2 && isH264KeyType(p[0]&h264TypeMask) {
			return true
		}
		p = p[size:]
	}
	return false
}

// isH264KeyType reports whether a NAL unit of type t lets a decoder start.
func isH264KeyType(t byte) bool {
	return t == h264IDR || t == h264SPS
}

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
