package rtp

import "strings"

// Codec names the payload formats Prism parses. Parsing depends on it, so
// it is looked up once per stream from the MIME type, never per packet.
type Codec uint8

// The codecs Prism knows. CodecOther is forwarded without payload parsing:
// every packet is its own frame start, none is a keyframe.
const (
	CodecOther Codec = iota
	CodecOpus
	CodecVP8
	CodecVP9
	CodecH264
	CodecAV1
)

// Codec MIME types as pion spells them; CodecFromMime compares
// case-insensitively.
const (
	mimeOpus = "audio/opus"
	mimeVP8  = "video/VP8"
	mimeVP9  = "video/VP9"
	mimeH264 = "video/H264"
	mimeAV1  = "video/AV1"
)

var codecMimes = [...]struct {
	mime  string
	codec Codec
}{
	{mimeVP8, CodecVP8}, {mimeVP9, CodecVP9}, {mimeH264, CodecH264}, {mimeAV1, CodecAV1}, {mimeOpus, CodecOpus},
}

// CodecFromMime returns the codec of a MIME type such as "video/VP8",
// compared case-insensitively, or CodecOther.
func CodecFromMime(mimeType string) Codec {
	for _, c := range codecMimes {
		if mimeType == c.mime {
			return c.codec
		}
	}
	for _, c := range codecMimes {
		if strings.EqualFold(mimeType, c.mime) {
			return c.codec
		}
	}
	return CodecOther
}

// Video reports whether c is a video codec.
func (c Codec) Video() bool { return c >= CodecVP8 }

// String returns the codec's name.
func (c Codec) String() string {
	switch c {
	case CodecOpus:
		return "opus"
	case CodecVP8:
		return "VP8"
	case CodecVP9:
		return "VP9"
	case CodecH264:
		return "H264"
	case CodecAV1:
		return "AV1"
	default:
		return "other"
	}
}
