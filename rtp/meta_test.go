package rtp

import (
	"testing"

	pionrtp "github.com/pion/rtp"
)

// rtpPacket marshals an RTP packet; exts maps extension IDs to values.
func rtpPacket(t testing.TB, seq uint16, ts uint32, marker bool, payload []byte, exts map[uint8][]byte) []byte {
	t.Helper()
	p := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: ts, SSRC: 7, Marker: marker}, Payload: payload}
	for id, v := range exts {
		if err := p.Header.SetExtension(id, v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vp8Payload returns a VP8 payload: a descriptor with a 15-bit picture id,
// TL0PICIDX and TID/Y/KEYIDX, then a key or inter frame header when start.
func vp8Payload(pid uint16, tl0, tid uint8, y, start, key bool) []byte {
	d := VP8Descriptor{Start: start, HasPictureID: true, LongID: true, PictureID: pid,
		HasTL0PICIDX: true, TL0PICIDX: tl0, HasTID: true, TID: tid, LayerSync: y, HasKeyIdx: true, KeyIdx: 3}
	b := make([]byte, 64)
	n := d.MarshalTo(b)
	if start {
		if key {
			copy(b[n:], kfVP8Key)
		} else {
			copy(b[n:], kfVP8Delta)
		}
	}
	return b[:n+20]
}

func TestParserVP8(t *testing.T) {
	p := Parser{Codec: CodecVP8, ExtIDs: [NumForwardedExts]uint8{ExtVideoOrientation: 4}}
	var m Meta
	// A keyframe in two packets, then an inter frame of temporal layer 1.
	pkts := [][]byte{
		rtpPacket(t, 65535, 9000, false, vp8Payload(100, 5, 0, false, true, true), map[uint8][]byte{4: {0x02}, 9: {1, 2}}),
		rtpPacket(t, 0, 9000, true, vp8Payload(100, 5, 0, false, false, false), nil),
		rtpPacket(t, 1, 12000, true, vp8Payload(101, 5, 1, true, true, false), nil),
	}
	want := []struct {
		flags Flags
		tid   uint8
		pid   uint16
	}{
		{FlagKeyframe | FlagFrameStart, 0, 100},
		{FlagMarker | FlagFrameEnd, 0, 100},
		{FlagFrameStart | FlagMarker | FlagFrameEnd | FlagLayerSync, 1, 101},
	}
	var exts []uint64
	for i, pkt := range pkts {
		if err := p.Parse(pkt, 1, &m); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if m.Flags != want[i].flags || m.Temporal != want[i].tid || m.VP8.PictureID != want[i].pid || m.VP8.TL0PICIDX != 5 {
			t.Fatalf("packet %d: flags %b tid %d pid %d tl0 %d, want %b %d %d 5", i, m.Flags, m.Temporal, m.VP8.PictureID, m.VP8.TL0PICIDX, want[i].flags, want[i].tid, want[i].pid)
		}
		if int(m.Size) != len(pkt) || m.PayloadStart() != int(m.HeaderSize)+6 || m.Timestamp == 0 {
			t.Fatalf("packet %d: size %d header %d start %d", i, m.Size, m.HeaderSize, m.PayloadStart())
		}
		exts = append(exts, m.Ext)
	}
	if exts[1] != exts[0]+1 || exts[2] != exts[0]+2 {
		t.Fatalf("extended numbers across the wrap: %v", exts)
	}
	// The first packet carried the video orientation; the unknown extension is not kept.
	fresh := Parser{Codec: CodecVP8, ExtIDs: p.ExtIDs}
	if err := fresh.Parse(pkts[0], 1, &m); err != nil || m.ExtMask != 1<<ExtVideoOrientation || m.ExtValue[ExtVideoOrientation] != 0x02 {
		t.Fatalf("extensions: %v mask %b values %v", err, m.ExtMask, m.ExtValue)
	}
}

func TestParserExtensionsAndPadding(t *testing.T) {
	p := Parser{Codec: CodecOpus, ExtIDs: [NumForwardedExts]uint8{ExtAudioLevel: 1}}
	pkt := rtpPacket(t, 5, 960, false, []byte{0xfc, 1, 2, 3}, map[uint8][]byte{1: {0x80 | 30}, 3: {9, 9}})
	var m Meta
	if err := p.Parse(pkt, 1, &m); err != nil {
		t.Fatal(err)
	}
	if m.ExtMask != 1<<ExtAudioLevel || m.ExtValue[ExtAudioLevel] != 0x80|30 || !m.Is(FlagFrameStart|FlagFrameEnd) {
		t.Fatalf("audio: mask %b value %x flags %b", m.ExtMask, m.ExtValue[ExtAudioLevel], m.Flags)
	}
	// Padding: three bytes, the last one says so.
	padded := append(rtpPacket(t, 6, 1920, false, []byte{1, 2, 3, 4}, nil), 0, 0, 3)
	padded[0] |= 0x20
	if err := p.Parse(padded, 1, &m); err != nil || m.PaddingSize != 3 || m.PayloadEnd() != len(padded)-3 {
		t.Fatalf("padding: %v size %d end %d", err, m.PaddingSize, m.PayloadEnd())
	}
	bad := append([]byte(nil), padded...)
	bad[len(bad)-1] = 200
	if err := p.Parse(bad, 1, &m); err != ErrMalformed {
		t.Fatalf("padding longer than the payload: %v", err)
	}
	if err := p.Parse([]byte{0x80, 1, 2}, 1, &m); err != ErrMalformed {
		t.Fatalf("short packet: %v", err)
	}
}

// H.264's parameter sets and IDR slice arrive in separate packets of one
// access unit; only the first starts the keyframe.
func TestParserH264KeyframeOncePerFrame(t *testing.T) {
	p := Parser{Codec: CodecH264}
	var m Meta
	sps := rtpPacket(t, 1, 3000, false, []byte{0x67, 0x42, 0xc0, 0x1f}, nil)
	idr := rtpPacket(t, 2, 3000, true, []byte{0x65, 0x88, 0x84}, nil)
	next := rtpPacket(t, 3, 6000, true, []byte{0x41, 0x9a, 0x00}, nil)
	for i, tc := range []struct {
		pkt   []byte
		flags Flags
	}{
		{sps, FlagKeyframe | FlagFrameStart},
		{idr, FlagMarker | FlagFrameEnd},
		{next, FlagFrameStart | FlagMarker | FlagFrameEnd},
	} {
		if err := p.Parse(tc.pkt, 1, &m); err != nil || m.Flags != tc.flags {
			t.Fatalf("packet %d: %v flags %b, want %b", i, err, m.Flags, tc.flags)
		}
	}
}

func TestParserVP9Layers(t *testing.T) {
	p := Parser{Codec: CodecVP9}
	var m Meta
	// I, L, B, E; 15-bit picture id; TID 2, U, SID 1; TL0PICIDX.
	pkt := rtpPacket(t, 1, 3000, true, []byte{0xac, 0x81, 0x23, 2<<5 | 0x10 | 1<<1, 0x07, 0xaa}, nil)
	if err := p.Parse(pkt, 1, &m); err != nil {
		t.Fatal(err)
	}
	if m.Temporal != 2 || m.Spatial != 1 || !m.Is(FlagFrameStart|FlagFrameEnd|FlagLayerSync) || m.Is(FlagKeyframe) {
		t.Fatalf("VP9: tid %d sid %d flags %b", m.Temporal, m.Spatial, m.Flags)
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	p := Parser{Codec: CodecVP8, ExtIDs: [NumForwardedExts]uint8{1, 2}}
	pkt := rtpPacket(t, 1, 3000, true, vp8Payload(7, 1, 0, false, true, true), map[uint8][]byte{1: {1}, 2: {2}})
	var m Meta
	_ = p.Parse(pkt, 1, &m)
	if n := testing.AllocsPerRun(1000, func() { _ = p.Parse(pkt, 1, &m) }); n != 0 {
		t.Fatalf("Parse allocates %.1f times per packet", n)
	}
}

func TestVP8DescriptorRoundTrip(t *testing.T) {
	for _, d := range []VP8Descriptor{
		{Start: true},
		{Start: true, NonReference: true, PartID: 2},
		{HasPictureID: true, LongID: true, PictureID: 0x7fff},
		{HasPictureID: true, LongID: true, PictureID: 5, HasTL0PICIDX: true, TL0PICIDX: 255, HasTID: true, TID: 2, LayerSync: true, HasKeyIdx: true, KeyIdx: 31},
		{HasKeyIdx: true, KeyIdx: 4},
		{HasTID: true, TID: 1},
	} {
		b := make([]byte, 8)
		n := d.MarshalTo(b)
		if n != d.MarshalSize() {
			t.Fatalf("%+v: wrote %d, size %d", d, n, d.MarshalSize())
		}
		var got VP8Descriptor
		if !got.Unmarshal(b[:n]) {
			t.Fatalf("%+v: does not parse back", d)
		}
		d.Len = uint8(n)
		if got != d {
			t.Fatalf("round trip: %+v, want %+v", got, d)
		}
	}
	// A 7-bit picture id is written back in its 15-bit form.
	var d VP8Descriptor
	if !d.Unmarshal([]byte{0x90, 0x80, 0x05}) || d.PictureID != 5 || d.LongID || d.Len != 3 {
		t.Fatalf("7-bit id: %+v", d)
	}
	b := make([]byte, 8)
	if n := d.MarshalTo(b); n != 4 || b[2] != 0x80 || b[3] != 0x05 {
		t.Fatalf("7-bit id written as % x", b[:n])
	}
	if d.MarshalTo(make([]byte, 3)) != 0 {
		t.Fatal("MarshalTo into a short buffer")
	}
}

// A keyframe's first packet tells the picture size: VP8's frame header,
// VP9's scalability structure (the highest layer's).
func TestParserPictureSize(t *testing.T) {
	var m Meta
	p := Parser{Codec: CodecVP8}
	key := vp8Payload(1, 1, 0, false, true, true) // kfVP8Key: 1280x720
	if err := p.Parse(rtpPacket(t, 1, 1, true, key, nil), 1, &m); err != nil || m.Width != 1280 || m.Height != 720 {
		t.Fatalf("VP8: %v %dx%d", err, m.Width, m.Height)
	}
	if err := p.Parse(rtpPacket(t, 2, 2, true, vp8Payload(2, 1, 0, false, true, false), nil), 1, &m); err != nil || m.Width != 0 {
		t.Fatalf("VP8 inter frame: %dx%d", m.Width, m.Height)
	}
	// VP9: I, B, V; picture id; SS with three layers (N_S=2, Y=1).
	ss := []byte{0x8a, 0x05, 2<<5 | 0x10, 0x01, 0x40, 0x00, 0xb4, 0x02, 0x80, 0x01, 0x68, 0x05, 0x00, 0x02, 0xd0, 0xaa}
	p9 := Parser{Codec: CodecVP9}
	if err := p9.Parse(rtpPacket(t, 1, 1, true, ss, nil), 1, &m); err != nil || m.Width != 1280 || m.Height != 720 {
		t.Fatalf("VP9: %v %dx%d", err, m.Width, m.Height)
	}
	var sizes [MaxSpatialLayers][2]uint16
	if n := VP9LayerSizes(ss, &sizes); n != 3 || sizes[0] != [2]uint16{320, 180} || sizes[1] != [2]uint16{640, 360} {
		t.Fatalf("VP9 layers: %d %v", n, sizes[:n])
	}
	if n := testing.AllocsPerRun(100, func() { VP9LayerSizes(ss, &sizes) }); n != 0 {
		t.Fatalf("VP9LayerSizes allocates %.1f", n)
	}
}
