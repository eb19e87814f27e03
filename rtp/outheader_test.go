package rtp

import (
	"bytes"
	"testing"

	pionrtp "github.com/pion/rtp"
)

// What WriteTo writes is a valid RTP packet that carries the rewritten
// fields, the forwarded extensions under the subscriber's IDs, the
// transport-wide sequence number, and the source payload byte for byte.
func TestOutHeaderWriteTo(t *testing.T) {
	payload := vp8Payload(300, 9, 1, false, true, false)
	// The source has a CSRC and an extension that is not forwarded.
	p := pionrtp.Packet{Header: pionrtp.Header{Version: 2, SequenceNumber: 77, Timestamp: 1234, SSRC: 7, CSRC: []uint32{99}}, Payload: payload}
	_ = p.Header.SetExtension(2, []byte{0x80 | 40})
	_ = p.Header.SetExtension(6, []byte{1, 2})
	src, _ := p.Marshal()

	parser := Parser{Codec: CodecVP8, ExtIDs: [NumForwardedExts]uint8{ExtAudioLevel: 2}}
	var m Meta
	if err := parser.Parse(src, 1, &m); err != nil {
		t.Fatal(err)
	}
	for _, ids := range []struct {
		level, twcc uint8
	}{{3, 5}, {3, 0}, {0, 0}, {15, 5}} {
		h := OutHeader{SSRC: 4242, PayloadType: 100, Seq: 9, Timestamp: 555, Marker: true, TWCCID: ids.twcc, TWCCSeq: 0xabcd}
		h.ExtIDs[ExtAudioLevel] = ids.level
		d := m.VP8
		d.PictureID = 42
		out := make([]byte, 1500)
		n := h.WriteTo(out, src, &m, &d)
		var got pionrtp.Packet
		if n == 0 || got.Unmarshal(out[:n]) != nil {
			t.Fatalf("ids %+v: wrote %d bytes that do not parse", ids, n)
		}
		if got.SSRC != 4242 || got.PayloadType != 100 || got.SequenceNumber != 9 || got.Timestamp != 555 || !got.Marker || len(got.CSRC) != 0 {
			t.Fatalf("ids %+v: header %+v", ids, got.Header)
		}
		if lvl := got.GetExtension(ids.level); ids.level != 0 && !bytes.Equal(lvl, []byte{0x80 | 40}) {
			t.Fatalf("ids %+v: audio level %x", ids, lvl)
		}
		if tw := got.GetExtension(ids.twcc); ids.twcc != 0 && !bytes.Equal(tw, []byte{0xab, 0xcd}) {
			t.Fatalf("ids %+v: transport-wide seq %x", ids, tw)
		}
		if ids.level == 0 && ids.twcc == 0 && got.Extension {
			t.Fatalf("extension block written with nothing in it")
		}
		var gd VP8Descriptor
		if !gd.Unmarshal(got.Payload) || gd.PictureID != 42 || gd.TID != 1 || !bytes.Equal(got.Payload[gd.Len:], payload[m.VP8.Len:]) {
			t.Fatalf("ids %+v: payload % x", ids, got.Payload[:8])
		}
	}
	// Without a descriptor to write, the payload goes out as it came.
	h := OutHeader{SSRC: 1}
	out := make([]byte, 1500)
	n := h.WriteTo(out, src, &m, nil)
	var got pionrtp.Packet
	if got.Unmarshal(out[:n]) != nil || !bytes.Equal(got.Payload, payload) {
		t.Fatal("payload changed without a descriptor to munge")
	}
	if h.WriteTo(out[:20], src, &m, nil) != 0 {
		t.Fatal("WriteTo into a buffer too small for the payload")
	}
}

func TestOutHeaderDoesNotAllocate(t *testing.T) {
	src := rtpPacket(t, 1, 1, true, vp8Payload(1, 1, 0, false, true, true), map[uint8][]byte{2: {1}})
	p := Parser{Codec: CodecVP8, ExtIDs: [NumForwardedExts]uint8{ExtAudioLevel: 2}}
	var m Meta
	_ = p.Parse(src, 1, &m)
	h := OutHeader{SSRC: 1, TWCCID: 5}
	h.ExtIDs[ExtAudioLevel] = 3
	out := make([]byte, 1500)
	d := m.VP8
	if n := testing.AllocsPerRun(1000, func() { h.WriteTo(out, src, &m, &d) }); n != 0 {
		t.Fatalf("WriteTo allocates %.1f times", n)
	}
}

func BenchmarkOutHeaderWriteTo(b *testing.B) {
	src := rtpPacket(b, 1, 1, true, append(vp8Payload(1, 1, 0, false, true, true), make([]byte, 1100)...), map[uint8][]byte{2: {1}})
	p := Parser{Codec: CodecVP8, ExtIDs: [NumForwardedExts]uint8{ExtAudioLevel: 2}}
	var m Meta
	_ = p.Parse(src, 1, &m)
	h := OutHeader{SSRC: 1, TWCCID: 5}
	out := make([]byte, 1500)
	b.ReportAllocs()
	for b.Loop() {
		d := m.VP8
		h.Seq++
		h.WriteTo(out, src, &m, &d)
	}
}

// FuzzParse feeds arbitrary packets to the parser and writes each one out
// again: whatever the input, Parse never panics, its offsets stay inside
// the packet, and the written packet is valid RTP with the same payload.
func FuzzParse(f *testing.F) {
	f.Add(rtpPacket(f, 1, 1, true, vp8Payload(5, 1, 2, true, true, true), map[uint8][]byte{1: {7}}), uint8(CodecVP8))
	f.Add(rtpPacket(f, 1, 1, false, []byte{0xac, 0x81, 0x23, 0x52, 0x07}, nil), uint8(CodecVP9))
	f.Add(rtpPacket(f, 1, 1, false, []byte{0x78, 0x00, 0x02, 0x68, 0xce}, nil), uint8(CodecH264))
	f.Add([]byte{0xa0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 9, 9, 2}, uint8(CodecAV1))
	f.Fuzz(func(t *testing.T, pkt []byte, codec uint8) {
		p := Parser{Codec: Codec(codec % 6), ExtIDs: [NumForwardedExts]uint8{1, 2}}
		var m Meta
		if p.Parse(pkt, 1, &m) != nil {
			return
		}
		if int(m.HeaderSize) > m.PayloadEnd() || m.PayloadEnd() > len(pkt) || m.PayloadStart() > m.PayloadEnd() {
			t.Fatalf("offsets outside the packet: %+v (len %d)", m, len(pkt))
		}
		h := OutHeader{SSRC: 1, TWCCID: 3, ExtIDs: [NumForwardedExts]uint8{4, 5}}
		var d *VP8Descriptor
		if p.Codec == CodecVP8 && m.VP8.Len > 0 {
			d = &m.VP8
		}
		out := make([]byte, 2*MaxPacketSize)
		n := h.WriteTo(out, pkt, &m, d)
		var got pionrtp.Packet
		if n == 0 || got.Unmarshal(out[:n]) != nil {
			t.Fatalf("written packet does not parse (%d bytes)", n)
		}
		want := pkt[m.PayloadStart():m.PayloadEnd()]
		if d == nil {
			want = pkt[m.HeaderSize:m.PayloadEnd()]
		}
		if !bytes.HasSuffix(got.Payload, want) {
			t.Fatal("payload changed")
		}
	})
}
