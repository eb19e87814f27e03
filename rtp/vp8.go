package rtp

// VP8 payload descriptor bits (RFC 7741 section 4.2).
const (
	vp8X       = 0x80 // first byte: extended control bits present
	vp8N       = 0x20 // first byte: non-reference frame
	vp8S       = 0x10 // first byte: start of partition
	vp8PIDMask = 0x07 // first byte: partition index
	vp8I       = 0x80 // extension byte: picture ID present
	vp8L       = 0x40 // extension byte: TL0PICIDX present
	vp8T       = 0x20 // extension byte: TID (and Y) present
	vp8K       = 0x10 // extension byte: KEYIDX present
	vp8TK      = vp8T | vp8K
	vp8M       = 0x80 // picture ID byte: 15-bit picture ID
	vp8Y       = 0x20 // TID/Y/KEYIDX byte: layer sync
)

// vp8KeyHeaderLen is the length of a VP8 key frame's header: a 3-byte frame
// tag and a 3-byte start code (RFC 6386 section 9.1), up to the start code.
const vp8KeyHeaderLen = 6

// VP8Descriptor is a parsed VP8 payload descriptor. The fields whose Has
// flag is false are absent from the packet.
type VP8Descriptor struct {
	// Len is the descriptor's length in the payload; 0 when the payload is
	// not VP8 or its descriptor is malformed.
	Len uint8
	// First byte.
	NonReference bool // N
	Start        bool // S: start of a partition
	PartID       uint8
	// Extensions.
	HasPictureID bool
	LongID       bool // M: the picture ID has 15 bits, not 7
	PictureID    uint16
	HasTL0PICIDX bool
	TL0PICIDX    uint8
	HasTID       bool
	TID          uint8
	LayerSync    bool // Y
	HasKeyIdx    bool
	KeyIdx       uint8
}

// VP8DescriptorLen returns the length of the VP8 payload descriptor (RFC
// 7741) at the start of an RTP payload, and false when p is too short to
// hold it: the VP8 data starts that many bytes in.
func VP8DescriptorLen(p []byte) (int, bool) {
	var d VP8Descriptor
	if !d.Unmarshal(p) {
		return 0, false
	}
	return int(d.Len), true
}

// Unmarshal parses the descriptor at the start of p and reports whether it
// was complete. It never reads outside p.
func (d *VP8Descriptor) Unmarshal(p []byte) bool {
	*d = VP8Descriptor{}
	if len(p) == 0 {
		return false
	}
	d.NonReference, d.Start, d.PartID = p[0]&vp8N != 0, p[0]&vp8S != 0, p[0]&vp8PIDMask
	if p[0]&vp8X == 0 {
		d.Len = 1
		return true
	}
	if len(p) < 2 {
		return false
	}
	ext, n := p[1], 2
	if ext&vp8I != 0 {
		if n >= len(p) {
			return false
		}
		d.HasPictureID = true
		d.PictureID = uint16(p[n] & 0x7f)
		if p[n]&vp8M != 0 {
			if n+1 >= len(p) {
				return false
			}
			d.LongID = true
			d.PictureID = d.PictureID<<8 | uint16(p[n+1])
			n++
		}
		n++
	}
	if ext&vp8L != 0 {
		if n >= len(p) {
			return false
		}
		d.HasTL0PICIDX, d.TL0PICIDX = true, p[n]
		n++
	}
	if ext&vp8TK != 0 {
		if n >= len(p) {
			return false
		}
		d.HasTID, d.HasKeyIdx = ext&vp8T != 0, ext&vp8K != 0
		if d.HasTID {
			d.TID, d.LayerSync = p[n]>>6, p[n]&vp8Y != 0
		}
		if d.HasKeyIdx {
			d.KeyIdx = p[n] & 0x1f
		}
		n++
	}
	d.Len = uint8(n)
	return true
}

// MarshalSize returns the length MarshalTo writes: a picture ID is always
// written in its 15-bit form, so that munged IDs never change the length
// of one stream's descriptors (mediasoup normalises the same way).
func (d *VP8Descriptor) MarshalSize() int {
	if !d.HasPictureID && !d.HasTL0PICIDX && !d.HasTID && !d.HasKeyIdx {
		return 1
	}
	n := 2
	if d.HasPictureID {
		n += 2
	}
	if d.HasTL0PICIDX {
		n++
	}
	if d.HasTID || d.HasKeyIdx {
		n++
	}
	return n
}

// MarshalTo writes the descriptor at the start of b and returns its length,
// or 0 when b is too short.
func (d *VP8Descriptor) MarshalTo(b []byte) int {
	size := d.MarshalSize()
	if len(b) < size {
		return 0
	}
	b[0] = d.PartID & vp8PIDMask
	if d.NonReference {
		b[0] |= vp8N
	}
	if d.Start {
		b[0] |= vp8S
	}
	if size == 1 {
		return 1
	}
	b[0] |= vp8X
	ext, n := byte(0), 2
	if d.HasPictureID {
		ext |= vp8I
		b[n], b[n+1] = vp8M|byte(d.PictureID>>8)&0x7f, byte(d.PictureID)
		n += 2
	}
	if d.HasTL0PICIDX {
		ext |= vp8L
		b[n] = d.TL0PICIDX
		n++
	}
	if d.HasTID || d.HasKeyIdx {
		var tk byte
		if d.HasTID {
			ext |= vp8T
			tk = d.TID << 6
			if d.LayerSync {
				tk |= vp8Y
			}
		}
		if d.HasKeyIdx {
			ext |= vp8K
			tk |= d.KeyIdx & 0x1f
		}
		b[n] = tk
		n++
	}
	b[1] = ext
	return n
}

// parseVP8 fills the VP8 part of m from an RTP payload.
func parseVP8(p []byte, m *Meta) {
	d := &m.VP8
	if !d.Unmarshal(p) {
		return
	}
	if d.Start && d.PartID == 0 {
		m.Flags |= FlagFrameStart
		if h := p[d.Len:]; isVP8KeyHeader(h) {
			m.Flags |= FlagKeyframe
			if len(h) >= vp8KeyHeaderLen+4 {
				// RFC 6386 section 9.1: 14 bits of width and of height.
				m.Width = uint16(h[6]) | uint16(h[7]&0x3f)<<8
				m.Height = uint16(h[8]) | uint16(h[9]&0x3f)<<8
			}
		}
	}
	if d.HasTID {
		m.Temporal = d.TID
		if d.LayerSync {
			m.Flags |= FlagLayerSync
		}
	}
	if d.NonReference {
		m.Flags |= FlagDiscardable
	}
}

// isVP8Keyframe reports whether p begins a VP8 key frame.
func isVP8Keyframe(p []byte) bool {
	if len(p) == 0 || p[0]&vp8S == 0 || p[0]&vp8PIDMask != 0 {
		return false
	}
	n, ok := VP8DescriptorLen(p)
	return ok && isVP8KeyHeader(p[n:])
}

// isVP8KeyHeader reports whether h, the VP8 data of a frame's first
// packet, starts a key frame: P=0 and the start code.
func isVP8KeyHeader(h []byte) bool {
	return len(h) >= vp8KeyHeaderLen && h[0]&0x01 == 0 && h[3] == 0x9d && h[4] == 0x01 && h[5] == 0x2a
}
