package rtp

import "encoding/binary"

// OutHeader is the header of a packet as one subscriber receives it: the
// fields a down-track rewrites, the IDs its subscriber's connection gave
// the forwarded header extensions, and the transport-wide sequence number.
type OutHeader struct {
	SSRC        uint32
	PayloadType uint8
	Seq         uint16
	Timestamp   uint32
	Marker      bool
	// ExtIDs are the subscriber's IDs of the forwarded extensions; 0 drops
	// the extension.
	ExtIDs [NumForwardedExts]uint8
	// TWCCID is the subscriber's ID of the transport-wide sequence number
	// extension; 0 writes none.
	TWCCID  uint8
	TWCCSeq uint16
}

// maxOneByteID is the largest ID of a one-byte header extension (RFC 8285).
const maxOneByteID = 14

// WriteTo writes the packet a subscriber receives into dst: this header,
// the forwarded extensions src carries (from m), and src's payload. When
// vp8 is not nil it replaces src's VP8 payload descriptor. The source's
// CSRCs and padding are dropped. It returns the packet's length, or 0 when
// dst is too small. It does not allocate.
func (h *OutHeader) WriteTo(dst, src []byte, m *Meta, vp8 *VP8Descriptor) int {
	if len(dst) < 12 {
		return 0
	}
	dst[0] = 0x80
	dst[1] = h.PayloadType & 0x7f
	if h.Marker {
		dst[1] |= 0x80
	}
	binary.BigEndian.PutUint16(dst[2:], h.Seq)
	binary.BigEndian.PutUint32(dst[4:], h.Timestamp)
	binary.BigEndian.PutUint32(dst[8:], h.SSRC)
	n := 12
	if ext := h.writeExtensions(dst[n:], m); ext < 0 {
		return 0
	} else if ext > 0 {
		dst[0] |= 0x10
		n += ext
	}
	payload := src[m.PayloadStart():m.PayloadEnd()]
	if vp8 != nil {
		w := vp8.MarshalTo(dst[n:])
		if w == 0 {
			return 0
		}
		n += w
	} else {
		payload = src[m.HeaderSize:m.PayloadEnd()]
	}
	if len(dst)-n < len(payload) {
		return 0
	}
	return n + copy(dst[n:], payload)
}

// writeExtensions writes the header-extension block and returns its
// length: 0 when there is none, -1 when b is too short.
func (h *OutHeader) writeExtensions(b []byte, m *Meta) int {
	var ids [NumForwardedExts + 1]uint8
	var vals [NumForwardedExts + 1][2]byte
	var lens [NumForwardedExts + 1]int
	count, twoByte := 0, false
	for i, id := range h.ExtIDs {
		if id != 0 && m.ExtMask&(1<<i) != 0 {
			ids[count], vals[count][0], lens[count] = id, m.ExtValue[i], 1
			twoByte = twoByte || id > maxOneByteID
			count++
		}
	}
	if h.TWCCID != 0 {
		ids[count], lens[count] = h.TWCCID, 2
		binary.BigEndian.PutUint16(vals[count][:], h.TWCCSeq)
		twoByte = twoByte || h.TWCCID > maxOneByteID
		count++
	}
	if count == 0 {
		return 0
	}
	// The block: profile, length in words, then the elements, padded.
	size := 4
	for i := 0; i < count; i++ {
		size += 1 + lens[i]
		if twoByte {
			size++
		}
	}
	words := (size - 4 + 3) / 4
	total := 4 + 4*words
	if len(b) < total {
		return -1
	}
	profile := uint16(0xbede)
	if twoByte {
		profile = 0x1000
	}
	binary.BigEndian.PutUint16(b, profile)
	binary.BigEndian.PutUint16(b[2:], uint16(words))
	n := 4
	for i := 0; i < count; i++ {
		if twoByte {
			b[n], b[n+1] = ids[i], byte(lens[i])
			n += 2
		} else {
			b[n] = ids[i]<<4 | byte(lens[i]-1)
			n++
		}
		n += copy(b[n:], vals[i][:lens[i]])
	}
	clear(b[n:total])
	return total
}
