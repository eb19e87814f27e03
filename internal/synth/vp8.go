package synth

// VP8 payload descriptor bits (RFC 7741 section 4.2).
const (
	vp8X          = 0x80 // first byte: extended control bits present
	vp8N          = 0x20 // first byte: non-reference frame
	vp8S          = 0x10 // first byte: start of partition
	vp8PIDMask    = 0x07 // first byte: partition index
	vp8I          = 0x80 // extension byte: picture ID present
	vp8L          = 0x40 // extension byte: TL0PICIDX present
	vp8T          = 0x20 // extension byte: TID and Y present
	vp8K          = 0x10 // extension byte: KEYIDX present
	vp8M          = 0x80 // picture ID byte: 15-bit picture ID
	vp8Y          = 0x20 // TID/Y/KEYIDX byte: layer sync
	vp8KeyIdxMask = 0x1f // TID/Y/KEYIDX byte: KEYIDX
)

// VP8 frame header (RFC 6386 section 9.1).
const (
	vp8InterFrame      = 0x01 // frame tag: P bit, 1 for inter frames
	vp8ShowFrame       = 0x10 // frame tag: show_frame
	vp8InterHeaderSize = 3    // frame tag
	vp8KeyHeaderSize   = 10   // frame tag, start code, width, height
	vp8MaxPartSize     = 1<<19 - 1
)

// Sizes of the descriptors Video writes: X=1, I=1 and a 15-bit picture ID,
// and with temporal layers also L=1, T=1, K=1, TL0PICIDX and
// TID/Y/KEYIDX.
const (
	vp8DescriptorSize      = 4
	vp8LayerDescriptorSize = 6
)

// putVP8Descriptor writes a payload descriptor with a 15-bit picture ID and
// partition index 0 to b, with S set when start is true.
func putVP8Descriptor(b []byte, start bool, pictureID uint16) {
	b[0] = vp8X
	if start {
		b[0] |= vp8S
	}
	b[1] = vp8I
	b[2] = vp8M | byte(pictureID>>8&0x7f)
	b[3] = byte(pictureID)
}

// putVP8LayerDescriptor writes a payload descriptor for the frame f of a
// stream with temporal layers to b: putVP8Descriptor's, with N, TL0PICIDX,
// TID, Y and KEYIDX added.
func putVP8LayerDescriptor(b []byte, start bool, f *FrameInfo) {
	putVP8Descriptor(b, start, f.PictureID)
	if f.NonReference {
		b[0] |= vp8N
	}
	b[1] |= vp8L | vp8T | vp8K
	b[4] = f.TL0PICIDX
	b[5] = f.TID<<6 | f.KeyIdx&vp8KeyIdxMask
	if f.LayerSync {
		b[5] |= vp8Y
	}
}

// putVP8FrameHeader writes the header of a shown, version-0 frame to b and
// returns its length. partSize is the first partition's size; key frames
// also carry the start code and the picture size. Followed by zero bytes,
// the header makes a frame every decoder accepts: a boolean decoder reading
// zeros decodes every flag and tree branch as 0, which asks for no
// segmentation, no loop filter, one token partition and no probability
// updates, DC prediction in every macroblock and an empty first token in
// every block: a flat grey picture.
func putVP8FrameHeader(b []byte, key bool, partSize, width, height int) int {
	tag := uint32(min(max(partSize, 0), vp8MaxPartSize))<<5 | vp8ShowFrame
	if !key {
		tag |= vp8InterFrame
	}
	b[0], b[1], b[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	if !key {
		return vp8InterHeaderSize
	}
	b[3], b[4], b[5] = 0x9d, 0x01, 0x2a
	b[6], b[7] = byte(width), byte(width>>8&0x3f)
	b[8], b[9] = byte(height), byte(height>>8&0x3f)
	return vp8KeyHeaderSize
}
