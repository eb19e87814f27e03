package synth

import (
	"math/rand/v2"
	"time"

	pionrtp "github.com/pion/rtp"
)

// Opus stream parameters.
const (
	// AudioPayloadType is the RTP payload type of Audio's packets.
	AudioPayloadType = 111
	// AudioPacketInterval is the time one Audio packet covers.
	AudioPacketInterval = 20 * time.Millisecond
	// OpusTOC is the TOC byte (RFC 6716 section 3.1) that starts every
	// Audio payload: configuration 15 (hybrid SILK+CELT, fullband, 20 ms
	// frames), mono, code 0 (one frame in the packet).
	OpusTOC = 0x78

	opusTOCSize        = 1
	opusSamplesPerTick = 960 // 20 ms at 48 kHz
	opusMinPayload     = 60
	opusMaxPayload     = 160
)

// Audio generates an Opus RTP stream: one packet every 20 ms whose RTP
// timestamp grows by 960 (48 kHz clock) and whose payload of 60 to 160
// bytes, like a voice encoder's, starts with OpusTOC and a stamp. The first
// packet has the marker bit set, as after silence.
//
// An Audio is not safe for concurrent use.
type Audio struct {
	pkt      pionrtp.Packet
	buf      [opusMaxPayload]byte
	seq      uint16
	ts       uint32
	stampSeq uint64
	rng      uint32 // xorshift state choosing payload sizes
	ssrc     uint32
}

// NewAudio returns a generator for an Opus stream with a random SSRC,
// sequence number and timestamp.
func NewAudio() *Audio {
	a := &Audio{
		seq: uint16(rand.Uint32()),
		ts:  rand.Uint32(),
		rng: rand.Uint32() | 1,
	}
	for a.ssrc == 0 {
		a.ssrc = rand.Uint32()
	}
	return a
}

// NextPacket generates the next packet, stamped with send time now. The
// packet and its payload belong to a and are overwritten by the next call
// to NextPacket or Run: copy whatever must outlive that.
func (a *Audio) NextPacket(now time.Time) *pionrtp.Packet {
	size := opusMinPayload + int(a.nextRand()%(opusMaxPayload-opusMinPayload+1))
	a.pkt.Header = pionrtp.Header{
		Version:        2,
		Marker:         a.stampSeq == 0,
		PayloadType:    AudioPayloadType,
		SequenceNumber: a.seq,
		Timestamp:      a.ts,
		SSRC:           a.ssrc,
	}
	a.pkt.Payload = a.buf[:size]
	a.buf[0] = OpusTOC
	putStamp(a.buf[opusTOCSize:], now, a.stampSeq)
	a.seq++
	a.ts += opusSamplesPerTick
	a.stampSeq++
	return &a.pkt
}

// nextRand advances the xorshift32 generator that picks payload sizes.
func (a *Audio) nextRand() uint32 {
	x := a.rng
	x ^= x << 13
	x ^= x >> 17
	x ^= x << 5
	a.rng = x
	return x
}
