package rtp

// VP9 payload descriptor bits (RFC 9628 section 4.2).
const (
	vp9I = 0x80 // picture ID present
	vp9P = 0x40 // inter-picture predicted
	vp9L = 0x20 // layer indices present
	vp9F = 0x10 // flexible mode
	vp9B = 0x08 // start of a frame
	vp9E = 0x04 // end of a frame
	vp9V = 0x02 // scalability structure present
	vp9M = 0x80 // picture ID byte: 15-bit picture ID
	vp9U = 0x10 // layer byte: switching up point
)

// parseVP9 fills the VP9 part of m from an RTP payload: frame start and
// end (of the packet's layer), the layer ids, the switching-up point and
// keyframes.
func parseVP9(p []byte, m *Meta) {
	if len(p) == 0 {
		return
	}
	if p[0]&vp9B != 0 {
		m.Flags |= FlagFrameStart
	}
	if p[0]&vp9E != 0 {
		m.Flags |= FlagFrameEnd
	}
	if n, ok := vp9LayerByte(p); ok {
		m.Temporal, m.Spatial = p[n]>>5, p[n]>>1&0x07
		if p[n]&vp9U != 0 {
			m.Flags |= FlagLayerSync
		}
	}
	if isVP9Keyframe(p) {
		m.Flags |= FlagKeyframe
	}
	var sizes [MaxSpatialLayers][2]uint16
	if n := VP9LayerSizes(p, &sizes); n > 0 {
		m.Width, m.Height = sizes[n-1][0], sizes[n-1][1]
	}
}

// MaxSpatialLayers is the most spatial layers a VP9 stream describes.
const MaxSpatialLayers = 8

// VP9LayerSizes writes the width and height of each spatial layer that the
// scalability structure of p (a VP9 payload) lists, lowest first, into
// sizes, and returns how many there are: 0 when p carries none.
func VP9LayerSizes(p []byte, sizes *[MaxSpatialLayers][2]uint16) int {
	if len(p) == 0 || p[0]&vp9V == 0 {
		return 0
	}
	n, ok := skipVP9PictureID(p)
	if !ok {
		return 0
	}
	if p[0]&vp9L != 0 {
		n++
		if p[0]&vp9F == 0 {
			n++ // TL0PICIDX
		}
	}
	if p[0]&vp9F != 0 && p[0]&vp9P != 0 {
		for n < len(p) && p[n]&0x01 != 0 { // P_DIFF with N: another follows
			n++
		}
		n++
	}
	if n >= len(p) || p[n]&0x10 == 0 { // Y: sizes present
		return 0
	}
	layers := int(p[n]>>5) + 1
	n++
	if n+4*layers > len(p) {
		return 0
	}
	for i := range layers {
		sizes[i] = [2]uint16{uint16(p[n])<<8 | uint16(p[n+1]), uint16(p[n+2])<<8 | uint16(p[n+3])}
		n += 4
	}
	return layers
}

// vp9LayerByte returns the offset of the layer-indices byte, and false
// when the descriptor has none or is too short.
func vp9LayerByte(p []byte) (int, bool) {
	if len(p) == 0 || p[0]&vp9L == 0 {
		return 0, false
	}
	n, ok := skipVP9PictureID(p)
	return n, ok && n < len(p)
}

// skipVP9PictureID returns the offset just past the flags byte and the
// picture ID, if any.
func skipVP9PictureID(p []byte) (int, bool) {
	n := 1
	if p[0]&vp9I != 0 {
		if n >= len(p) {
			return 0, false
		}
		n++
		if p[n-1]&vp9M != 0 {
			n++
		}
	}
	return n, n <= len(p)
}

// isVP9Keyframe reports whether p begins a VP9 frame of spatial layer 0
// that uses no inter-picture prediction.
func isVP9Keyframe(p []byte) bool {
	if len(p) == 0 || p[0]&vp9B == 0 || p[0]&vp9P != 0 {
		return false
	}
	flags := p[0]
	n, ok := skipVP9PictureID(p)
	if !ok {
		return false
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
