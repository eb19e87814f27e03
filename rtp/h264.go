package rtp

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
