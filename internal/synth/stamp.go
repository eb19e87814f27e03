package synth

import (
	"encoding/binary"
	"strings"
	"time"

	prtp "github.com/prismsfu/prism/rtp"
)

// StampSize is the length in bytes of the stamp in every synthetic payload:
// a 4-byte magic number, the send time as big-endian Unix nanoseconds and
// the stream's packet counter as a big-endian uint64.
const StampSize = 20

// stampMagic marks the start of a stamp: "PrSm".
var stampMagic = [4]byte{0x50, 0x72, 0x53, 0x6d}

// MIME types whose payloads ParseStamp understands.
const (
	mimeVP8  = "video/VP8"
	mimeOpus = "audio/opus"
)

// putStamp writes a stamp at the start of b, which must hold StampSize bytes.
func putStamp(b []byte, sent time.Time, seq uint64) {
	copy(b, stampMagic[:])
	putStampTime(b, sent)
	binary.BigEndian.PutUint64(b[12:StampSize], seq)
}

// putStampTime overwrites the send time of the stamp at the start of b.
func putStampTime(b []byte, sent time.Time) {
	binary.BigEndian.PutUint64(b[4:12], uint64(sent.UnixNano()))
}

// ParseStamp finds the stamp in payload, the RTP payload of a packet of the
// given codec ("video/VP8" or "audio/opus", compared case-insensitively),
// and returns its send time and stream packet sequence. ok is false when the
// codec is another one or the payload holds no stamp where one belongs.
// ParseStamp does not allocate and never reads outside payload.
func ParseStamp(mimeType string, payload []byte) (sent time.Time, seq uint64, ok bool) {
	off, ok := stampOffset(mimeType, payload)
	if !ok || len(payload)-off < StampSize {
		return time.Time{}, 0, false
	}
	b := payload[off : off+StampSize]
	if [4]byte(b[:4]) != stampMagic {
		return time.Time{}, 0, false
	}
	nanos := int64(binary.BigEndian.Uint64(b[4:12]))
	return time.Unix(0, nanos), binary.BigEndian.Uint64(b[12:]), true
}

// stampOffset returns where the stamp starts in payload for the codec.
func stampOffset(mimeType string, payload []byte) (int, bool) {
	switch {
	case mimeType == mimeVP8 || strings.EqualFold(mimeType, mimeVP8):
		return vp8StampOffset(payload)
	case mimeType == mimeOpus || strings.EqualFold(mimeType, mimeOpus):
		return opusTOCSize, len(payload) >= opusTOCSize
	default:
		return 0, false
	}
}

// vp8StampOffset returns where the stamp starts in a VP8 payload: in its
// last StampSize bytes, after the descriptor.
func vp8StampOffset(p []byte) (int, bool) {
	n, ok := prtp.VP8DescriptorLen(p)
	if !ok || len(p)-n < StampSize {
		return 0, false
	}
	return len(p) - StampSize, true
}
