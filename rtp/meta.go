package rtp

import (
	"errors"

	pionrtp "github.com/pion/rtp"
)

// Flags describe a packet for the forwarding path.
type Flags uint16

const (
	// FlagKeyframe marks the first packet of a keyframe: a subscriber's
	// decoder can start there.
	FlagKeyframe Flags = 1 << iota
	// FlagMarker marks a packet with the RTP marker bit (for video, the last
	// packet of a frame).
	FlagMarker
	// FlagFrameStart marks the first packet of a frame of its layer.
	FlagFrameStart
	// FlagFrameEnd marks the last packet of a frame of its layer.
	FlagFrameEnd
	// FlagLayerSync marks a frame at which a subscriber may start receiving
	// its temporal layer: it references nothing of that layer from before
	// (VP8 Y bit, VP9 U bit).
	FlagLayerSync
	// FlagDiscardable marks a frame no other frame references (VP8 N bit).
	FlagDiscardable
)

// Forwarded header extensions. A publisher's packet may carry them; Prism
// copies their one-byte values into Meta once and writes them into every
// subscriber's packet under that subscriber's IDs. Every other extension
// belongs to one connection and is dropped.
const (
	ExtAudioLevel       = iota // urn:ietf:params:rtp-hdrext:ssrc-audio-level
	ExtVideoOrientation        // urn:3gpp:video-orientation
	NumForwardedExts
)

// ForwardedExtensionURIs are the URIs of the forwarded header extensions,
// indexed by ExtAudioLevel and ExtVideoOrientation.
var ForwardedExtensionURIs = [NumForwardedExts]string{
	"urn:ietf:params:rtp-hdrext:ssrc-audio-level",
	"urn:3gpp:video-orientation",
}

// Meta is what the receiver learns of one RTP packet, once, and stores
// beside it in the packet cache: everything a subscriber needs to forward
// the packet without parsing it again.
type Meta struct {
	// Ext is the extended sequence number; it never wraps.
	Ext uint64
	// Arrival is when the packet reached Prism, in Unix nanoseconds.
	Arrival int64
	// Timestamp is the packet's RTP timestamp.
	Timestamp uint32
	// Size is the packet's length; the payload is the bytes between
	// HeaderSize and Size-PaddingSize.
	Size        uint16
	HeaderSize  uint16
	PaddingSize uint8
	Flags       Flags
	// Spatial and Temporal are the packet's layer ids; 0 when the codec
	// or the stream has no layers.
	Spatial, Temporal uint8
	// ExtMask has bit i set when the packet carries forwarded extension i,
	// whose one-byte value is ExtValue[i].
	ExtMask  uint8
	ExtValue [NumForwardedExts]uint8
	// VP8 is the VP8 payload descriptor, for VP8 streams.
	VP8 VP8Descriptor
	// Width and Height are the picture size a keyframe's first packet
	// announces (VP8's frame header; VP9's scalability structure, for its
	// highest spatial layer); 0 when the packet says none.
	Width, Height uint16
}

// Is reports whether every flag in f is set.
func (m *Meta) Is(f Flags) bool { return m.Flags&f == f }

// PayloadStart returns the offset of the payload in the packet: the RTP
// payload after the header, and for VP8 after the payload descriptor too.
func (m *Meta) PayloadStart() int { return int(m.HeaderSize) + int(m.VP8.Len) }

// PayloadEnd returns the offset where the payload's padding begins.
func (m *Meta) PayloadEnd() int { return int(m.Size) - int(m.PaddingSize) }

// ErrMalformed is returned by Parser.Parse for a packet that is not RTP or
// whose padding does not fit.
var ErrMalformed = errors.New("malformed RTP packet")

// Parser computes the Meta of each packet of one stream. It keeps the
// stream's state (extended sequence numbers, the last timestamp), so there
// is one per stream, owned by its read loop; it is not safe for concurrent
// use. Set Codec and ExtIDs before the first packet.
type Parser struct {
	// Codec selects the payload parsing.
	Codec Codec
	// ExtIDs are the publisher's IDs of the forwarded extensions, 0 where
	// one was not negotiated.
	ExtIDs [NumForwardedExts]uint8

	h       pionrtp.Header
	unwrap  Unwrapper
	lastTS  uint32
	started bool
	keyTS   uint32
	haveKey bool
}

// Parse fills m from pkt and the stream's state. It does not allocate
// once the parser has seen a packet with the stream's largest header, and
// never reads outside pkt.
func (p *Parser) Parse(pkt []byte, arrival int64, m *Meta) error {
	hlen, err := p.h.Unmarshal(pkt)
	if err != nil || len(pkt) > MaxPacketSize {
		return ErrMalformed
	}
	*m = Meta{Arrival: arrival, Timestamp: p.h.Timestamp, Size: uint16(len(pkt)), HeaderSize: uint16(hlen)}
	if p.h.Padding {
		pad := int(pkt[len(pkt)-1])
		if pad == 0 || pad > len(pkt)-hlen {
			return ErrMalformed
		}
		m.PaddingSize = uint8(pad)
	}
	m.Ext = p.unwrap.Unwrap(p.h.SequenceNumber)
	if p.h.Marker {
		m.Flags |= FlagMarker | FlagFrameEnd
	}
	p.readExtensions(m)
	newTS := !p.started || p.h.Timestamp != p.lastTS
	if newTS && p.inOrder(m.Ext) {
		p.lastTS, p.started = p.h.Timestamp, true
	}
	payload := pkt[hlen:m.PayloadEnd()]
	p.parsePayload(payload, newTS, m)
	if m.Is(FlagKeyframe) {
		// Only the first packet of a keyframe starts it, whatever the
		// codec marks on the others (H.264's SPS and IDR packets).
		if p.haveKey && p.keyTS == m.Timestamp {
			m.Flags &^= FlagKeyframe
		}
		p.keyTS, p.haveKey = m.Timestamp, true
	}
	return nil
}

// inOrder reports whether ext is the newest packet of the stream so far.
func (p *Parser) inOrder(ext uint64) bool { return ext == p.unwrap.Highest() }

// readExtensions copies the one-byte values of the forwarded extensions.
func (p *Parser) readExtensions(m *Meta) {
	if !p.h.Extension {
		return
	}
	for i, id := range p.ExtIDs {
		if id == 0 {
			continue
		}
		if v := p.h.GetExtension(id); len(v) >= 1 {
			m.ExtMask |= 1 << i
			m.ExtValue[i] = v[0]
		}
	}
}

// parsePayload sets the codec-specific flags, layer ids and descriptor.
// newTS is true when the packet's timestamp differs from the last one:
// for codecs without a frame-start bit, that is where a frame starts.
func (p *Parser) parsePayload(payload []byte, newTS bool, m *Meta) {
	switch p.Codec {
	case CodecVP8:
		parseVP8(payload, m)
	case CodecVP9:
		parseVP9(payload, m)
	case CodecH264:
		if newTS {
			m.Flags |= FlagFrameStart
		}
		if isH264Keyframe(payload) {
			m.Flags |= FlagKeyframe
		}
	case CodecAV1:
		if newTS {
			m.Flags |= FlagFrameStart
		}
		if isAV1Keyframe(payload) {
			m.Flags |= FlagKeyframe
		}
	default:
		// Audio and unknown codecs: every packet is a frame of its own.
		m.Flags |= FlagFrameStart | FlagFrameEnd
	}
}

// Highest returns the extended sequence number of the newest packet parsed.
func (p *Parser) Highest() uint64 { return p.unwrap.Highest() }
