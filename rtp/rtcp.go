package rtp

import (
	"encoding/binary"
	"errors"
)

// RTCP packet types (RFC 3550, RFC 4585) and feedback formats Prism reads
// from subscribers. Everything here reads a subscriber's RTCP without
// allocating: it arrives dozens of times a second per subscriber.
const (
	RTCPSenderReport   = 200
	RTCPReceiverReport = 201
	RTCPTransportFB    = 205 // FMT 1: NACK; FMT 15: transport-wide CC
	RTCPPayloadFB      = 206 // FMT 1: PLI; FMT 4: FIR; FMT 15: REMB (application)

	FMTNACK = 1
	FMTTWCC = 15
	FMTPLI  = 1
	FMTFIR  = 4
	FMTAFB  = 15
)

// ErrRTCP is returned for RTCP that is malformed or truncated.
var ErrRTCP = errors.New("malformed RTCP")

// NextRTCP splits the first packet off a compound RTCP packet. It returns
// the packet's type, its count or format field, the packet itself and
// what follows; ok is false when b holds no whole packet.
func NextRTCP(b []byte) (pt, count uint8, pkt, rest []byte, ok bool) {
	if len(b) < 4 || b[0]>>6 != 2 {
		return 0, 0, nil, nil, false
	}
	size := 4 * (int(binary.BigEndian.Uint16(b[2:])) + 1)
	if size > len(b) {
		return 0, 0, nil, nil, false
	}
	return b[1], b[0] & 0x1f, b[:size], b[size:], true
}

// MediaSSRC returns the media source SSRC of a feedback packet (RFC 4585:
// bytes 8 to 12), or false when pkt is too short.
func MediaSSRC(pkt []byte) (uint32, bool) {
	if len(pkt) < 12 {
		return 0, false
	}
	return binary.BigEndian.Uint32(pkt[8:]), true
}

// NACKs calls fn for each sequence number a generic NACK packet (RFC 4585
// section 6.2.1) asks for, until fn returns false.
func NACKs(pkt []byte, fn func(seq uint16) bool) {
	for fci := pkt[min(12, len(pkt)):]; len(fci) >= 4; fci = fci[4:] {
		pid, blp := binary.BigEndian.Uint16(fci), binary.BigEndian.Uint16(fci[2:])
		if !fn(pid) {
			return
		}
		for i := range uint16(16) {
			if blp&(1<<i) != 0 && !fn(pid+i+1) {
				return
			}
		}
	}
}

// ReceptionReport is one report block of a sender or receiver report.
type ReceptionReport struct {
	SSRC         uint32
	FractionLost uint8
	TotalLost    uint32
	HighestSeq   uint32
	Jitter       uint32
	LastSR       uint32
	DelaySinceSR uint32 // in 1/65536 s
}

// ReceptionReports calls fn for each report block of a sender or receiver
// report packet.
func ReceptionReports(pkt []byte, fn func(ReceptionReport)) {
	if len(pkt) < 8 {
		return
	}
	blocks := pkt[8:]
	if pkt[1] == RTCPSenderReport {
		if len(pkt) < 28 {
			return
		}
		blocks = pkt[28:]
	}
	for n := int(pkt[0] & 0x1f); n > 0 && len(blocks) >= 24; n-- {
		b := blocks
		fn(ReceptionReport{
			SSRC: binary.BigEndian.Uint32(b), FractionLost: b[4],
			TotalLost:  uint32(b[5])<<16 | uint32(b[6])<<8 | uint32(b[7]),
			HighestSeq: binary.BigEndian.Uint32(b[8:]), Jitter: binary.BigEndian.Uint32(b[12:]),
			LastSR: binary.BigEndian.Uint32(b[16:]), DelaySinceSR: binary.BigEndian.Uint32(b[20:]),
		})
		blocks = blocks[24:]
	}
}

// FIRs calls fn for each SSRC a full intra request (RFC 5104) names.
func FIRs(pkt []byte, fn func(ssrc uint32)) {
	for fci := pkt[min(12, len(pkt)):]; len(fci) >= 8; fci = fci[8:] {
		fn(binary.BigEndian.Uint32(fci))
	}
}

// REMB returns the bitrate of a receiver-estimated maximum bitrate packet
// (draft-alvestrand-rmcat-remb), and false when pkt is not one.
func REMB(pkt []byte) (uint64, bool) {
	if len(pkt) < 20 || string(pkt[12:16]) != "REMB" {
		return 0, false
	}
	exp := pkt[17] >> 2
	mantissa := uint64(pkt[17]&0x03)<<16 | uint64(pkt[18])<<8 | uint64(pkt[19])
	return mantissa << exp, true
}

// TWCC is the header of a transport-wide congestion-control feedback
// packet (draft-holmer-rmcat-transport-wide-cc-extensions-01).
type TWCC struct {
	MediaSSRC uint32
	BaseSeq   uint16
	Count     uint16
	// ReferenceTime is in multiples of 64 ms; FeedbackCount counts the
	// feedback packets the subscriber sent.
	ReferenceTime uint32
	FeedbackCount uint8
}

// TWCCPacket is one packet a TWCC feedback reports on: received or not,
// and when it arrived, in microseconds after the reference time.
type TWCCPacket struct {
	Seq      uint16
	Received bool
	Arrival  int64
}

// TWCC packet status symbols.
const (
	twccNotReceived = 0
	twccSmallDelta  = 1
	twccLargeDelta  = 2
)

// ParseTWCC parses a TWCC feedback packet, appending each packet it
// reports on to out[:0]; it allocates only when out is too small, so a
// caller that keeps out allocates nothing after the first large feedback.
func ParseTWCC(pkt []byte, out []TWCCPacket) (TWCC, []TWCCPacket, error) {
	out = out[:0]
	if len(pkt) < 20 {
		return TWCC{}, out, ErrRTCP
	}
	fb := TWCC{
		MediaSSRC: binary.BigEndian.Uint32(pkt[8:]), BaseSeq: binary.BigEndian.Uint16(pkt[12:]),
		Count:         binary.BigEndian.Uint16(pkt[14:]),
		ReferenceTime: uint32(pkt[16])<<16 | uint32(pkt[17])<<8 | uint32(pkt[18]), FeedbackCount: pkt[19],
	}
	// The chunks give every packet a status; the deltas follow them.
	b, seq, left := pkt[20:], fb.BaseSeq, int(fb.Count)
	for left > 0 {
		if len(b) < 2 {
			return fb, out, ErrRTCP
		}
		chunk := binary.BigEndian.Uint16(b)
		b = b[2:]
		switch {
		case chunk&0x8000 == 0: // run length: one symbol, many packets
			sym, run := uint8(chunk>>13&0x03), min(int(chunk&0x1fff), left)
			for range run {
				out = append(out, TWCCPacket{Seq: seq, Received: sym != twccNotReceived, Arrival: int64(sym)})
				seq++
			}
			left -= run
		case chunk&0x4000 == 0: // status vector of 14 one-bit symbols
			for i := 13; i >= 0 && left > 0; i-- {
				sym := uint8(chunk >> i & 0x01)
				out = append(out, TWCCPacket{Seq: seq, Received: sym != 0, Arrival: int64(sym)})
				seq, left = seq+1, left-1
			}
		default: // status vector of 7 two-bit symbols
			for i := 6; i >= 0 && left > 0; i-- {
				sym := uint8(chunk >> (2 * i) & 0x03)
				out = append(out, TWCCPacket{Seq: seq, Received: sym != twccNotReceived, Arrival: int64(sym)})
				seq, left = seq+1, left-1
			}
		}
	}
	// Each received packet's delta, in 250 µs units, from the reference
	// time for the first and from the previous packet for the others.
	at := int64(0)
	for i := range out {
		switch sym := out[i].Arrival; {
		case !out[i].Received:
			out[i].Arrival = 0
			continue
		case sym == twccSmallDelta:
			if len(b) < 1 {
				return fb, out, ErrRTCP
			}
			at += int64(b[0]) * 250
			b = b[1:]
		case sym == twccLargeDelta:
			if len(b) < 2 {
				return fb, out, ErrRTCP
			}
			at += int64(int16(binary.BigEndian.Uint16(b))) * 250
			b = b[2:]
		default:
			return fb, out, ErrRTCP // symbol 3 is reserved
		}
		out[i].Arrival = at
	}
	return fb, out, nil
}
