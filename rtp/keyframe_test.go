package rtp

import (
	"testing"

	"github.com/pion/rtp/codecs"
)

// kfJoin joins byte slices into a new slice.
func kfJoin(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var (
	// kfVP8Key is a VP8 key frame header: frame tag (key, version 0, shown),
	// start code, 1280x720.
	kfVP8Key = []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02}
	// kfVP8Delta is a VP8 inter frame tag (P=1, shown).
	kfVP8Delta = []byte{0x11, 0x02, 0x00}
	// kfFiller stands for the rest of a frame's data.
	kfFiller = []byte{0xaa, 0xbb, 0xcc, 0xdd}
)

type kfCase struct {
	name    string
	mime    string
	payload []byte
	want    bool
}

var kfVP8Cases = []kfCase{
	{"no extension", mimeVP8, kfJoin([]byte{0x10}, kfVP8Key, kfFiller), true},
	{"7-bit picture ID", mimeVP8, kfJoin([]byte{0x90, 0x80, 0x05}, kfVP8Key), true},
	{"15-bit picture ID", mimeVP8, kfJoin([]byte{0x90, 0x80, 0x81, 0x23}, kfVP8Key), true},
	{"I L T K", mimeVP8, kfJoin([]byte{0x90, 0xf0, 0x81, 0x23, 0x07, 0x40}, kfVP8Key), true},
	{"L only", mimeVP8, kfJoin([]byte{0x90, 0x40, 0x07}, kfVP8Key), true},
	{"T only", mimeVP8, kfJoin([]byte{0x90, 0x20, 0x40}, kfVP8Key), true},
	{"K only", mimeVP8, kfJoin([]byte{0x90, 0x10, 0x05}, kfVP8Key), true},
	{"X without extensions", mimeVP8, kfJoin([]byte{0x90, 0x00}, kfVP8Key), true},
	{"N bit set", mimeVP8, kfJoin([]byte{0xb0, 0x80, 0x05}, kfVP8Key), true},
	{"lower-case mime", "video/vp8", kfJoin([]byte{0x10}, kfVP8Key), true},
	{"inter frame", mimeVP8, kfJoin([]byte{0x90, 0x80, 0x81, 0x23}, kfVP8Delta, kfFiller), false},
	{"continuation", mimeVP8, kfJoin([]byte{0x80, 0x80, 0x81, 0x23}, kfVP8Key), false},
	{"partition 1", mimeVP8, kfJoin([]byte{0x91, 0x80, 0x81, 0x23}, kfVP8Key), false},
	{"no start code", mimeVP8, kfJoin([]byte{0x10, 0x10, 0x02, 0x00, 0x00, 0x00, 0x00}, kfFiller), false},
	// Read as a 7-bit picture ID, the second ID byte would shift a start code
	// into place; read correctly, the frame is an inter frame.
	{"15-bit ID not read as 7-bit", mimeVP8,
		[]byte{0x90, 0x80, 0x80, 0x00, 0x01, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05}, false},
	{"empty", mimeVP8, nil, false},
	{"X but no extension byte", mimeVP8, []byte{0x90}, false},
	{"I but no picture ID", mimeVP8, []byte{0x90, 0x80}, false},
	{"M but one picture ID byte", mimeVP8, []byte{0x90, 0x80, 0x81}, false},
	{"L but no TL0PICIDX", mimeVP8, []byte{0x90, 0x40}, false},
	{"descriptor only", mimeVP8, []byte{0x90, 0x80, 0x81, 0x23}, false},
	{"frame header cut short", mimeVP8, kfJoin([]byte{0x10}, kfVP8Key[:5]), false},
}

var kfVP9Cases = []kfCase{
	{"B only", mimeVP9, kfJoin([]byte{0x08}, kfFiller), true},
	{"7-bit picture ID", mimeVP9, kfJoin([]byte{0x88, 0x05}, kfFiller), true},
	{"15-bit picture ID", mimeVP9, kfJoin([]byte{0x8c, 0x81, 0x23}, kfFiller), true},
	{"non-flexible layer 0", mimeVP9, kfJoin([]byte{0xa8, 0x81, 0x23, 0x00, 0x11}, kfFiller), true},
	{"flexible layer 0", mimeVP9, kfJoin([]byte{0xb8, 0x05, 0x00}, kfFiller), true},
	{"SS with sizes and group", mimeVP9,
		kfJoin([]byte{0x8a, 0x05, 0x18, 0x05, 0x00, 0x02, 0xd0, 0x01, 0x14, 0x01}, kfFiller), true},
	{"SS with three layers", mimeVP9,
		kfJoin([]byte{0xaa, 0x05, 0x00, 0x11, 0x50, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, kfFiller), true},
	{"SS without sizes or groups", mimeVP9, kfJoin([]byte{0x0a, 0x00}, kfFiller), true},
	{"upper-case mime", "VIDEO/VP9", kfJoin([]byte{0x08}, kfFiller), true},
	{"inter frame", mimeVP9, kfJoin([]byte{0xc8, 0x05}, kfFiller), false},
	{"not begin of frame", mimeVP9, kfJoin([]byte{0x84, 0x05}, kfFiller), false},
	{"spatial layer 1", mimeVP9, kfJoin([]byte{0xa8, 0x05, 0x02, 0x11}, kfFiller), false},
	{"flexible spatial layer 2", mimeVP9, kfJoin([]byte{0xb8, 0x05, 0x04}, kfFiller), false},
	{"empty", mimeVP9, nil, false},
	{"descriptor only", mimeVP9, []byte{0xa8, 0x81, 0x23, 0x00, 0x11}, false},
	{"I but no picture ID", mimeVP9, []byte{0x88}, false},
	{"M but one picture ID byte", mimeVP9, []byte{0x88, 0x81}, false},
	{"L but no layer byte", mimeVP9, []byte{0xa8, 0x05}, false},
	{"V but no SS", mimeVP9, []byte{0x8a, 0x05}, false},
	{"SS sizes cut short", mimeVP9, []byte{0x8a, 0x05, 0x18, 0x05, 0x00, 0x02}, false},
	{"SS three layers then no payload", mimeVP9,
		[]byte{0xaa, 0x05, 0x00, 0x11, 0x50, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, false},
	{"SS then no payload", mimeVP9, []byte{0x8a, 0x05, 0x18, 0x05, 0x00, 0x02, 0xd0, 0x01, 0x14, 0x01}, false},
	{"SS two groups then no payload", mimeVP9, []byte{0x0a, 0x08, 0x02, 0x08, 0x01, 0x02, 0x24, 0x01}, false},
	{"SS two groups", mimeVP9, kfJoin([]byte{0x0a, 0x08, 0x02, 0x08, 0x01, 0x02, 0x24, 0x01}, kfFiller), true},
	{"SS group cut short", mimeVP9, []byte{0x8a, 0x05, 0x18, 0x05, 0x00, 0x02, 0xd0, 0x01, 0x14}, false},
}

var kfH264Cases = []kfCase{
	{"IDR", mimeH264, []byte{0x65, 0x88, 0x84}, true},
	{"SPS", mimeH264, []byte{0x67, 0x42, 0xc0, 0x1f}, true},
	{"STAP-A SPS PPS", mimeH264,
		[]byte{0x78, 0x00, 0x04, 0x67, 0x42, 0xc0, 0x1f, 0x00, 0x02, 0x68, 0xce}, true},
	{"STAP-A PPS IDR", mimeH264,
		[]byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x03, 0x65, 0x88, 0x84}, true},
	{"FU-A IDR start", mimeH264, []byte{0x7c, 0x85, 0xb8, 0x00}, true},
	{"FU-A SPS start", mimeH264, []byte{0x7c, 0x87, 0x42}, true},
	{"lower-case mime", "video/h264", []byte{0x65, 0x88}, true},
	{"PPS", mimeH264, []byte{0x68, 0xce, 0x38, 0x80}, false},
	{"non-IDR slice", mimeH264, []byte{0x41, 0x9a, 0x00}, false},
	{"SEI", mimeH264, []byte{0x06, 0x05, 0x10}, false},
	{"STAP-A PPS non-IDR", mimeH264,
		[]byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x02, 0x41, 0x9a}, false},
	{"STAP-A SPS overruns", mimeH264, []byte{0x78, 0x00, 0x10, 0x67, 0x42}, false},
	{"STAP-A zero size", mimeH264, []byte{0x78, 0x00, 0x00, 0x67, 0x42}, false},
	{"STAP-A zero size then SPS", mimeH264, []byte{0x78, 0x00, 0x00, 0x00, 0x02, 0x67, 0x42}, false},
	{"STAP-A header only", mimeH264, []byte{0x78, 0x00}, false},
	{"STAP-A one-byte SPS", mimeH264, []byte{0x78, 0x00, 0x01, 0x67}, false},
	{"FU-A IDR middle", mimeH264, []byte{0x7c, 0x05, 0xb8}, false},
	{"FU-A IDR end", mimeH264, []byte{0x7c, 0x45, 0xb8}, false},
	{"FU-A non-IDR start", mimeH264, []byte{0x5c, 0x81, 0x9a}, false},
	{"FU-A no data", mimeH264, []byte{0x7c, 0x85}, false},
	{"FU-B", mimeH264, []byte{0x7d, 0x85, 0x00, 0x01, 0xb8}, false},
	{"IDR header only", mimeH264, []byte{0x65}, false},
	{"empty", mimeH264, nil, false},
}

var kfAV1Cases = []kfCase{
	{"new sequence", mimeAV1, []byte{0x18, 0x0a, 0x0b, 0x00}, true},
	{"new sequence, Y set", mimeAV1, []byte{0x58, 0x0a, 0x0b}, true},
	{"lower-case mime", "video/av1", []byte{0x08, 0x0a}, true},
	{"not new sequence", mimeAV1, []byte{0x10, 0x32, 0x00}, false},
	{"continued OBU", mimeAV1, []byte{0x98, 0x32, 0x00}, false},
	{"header only", mimeAV1, []byte{0x18}, false},
	{"empty", mimeAV1, nil, false},
}

var kfOtherCases = []kfCase{
	{"opus", "audio/opus", []byte{0x78, 0x00, 0x01}, false},
	{"unknown video", "video/H265", []byte{0x26, 0x01, 0xaf}, false},
	{"empty mime", "", kfJoin([]byte{0x10}, kfVP8Key), false},
	{"mime prefix", "video/VP8x", kfJoin([]byte{0x10}, kfVP8Key), false},
}

func TestIsKeyframe(t *testing.T) {
	groups := map[string][]kfCase{
		"VP8": kfVP8Cases, "VP9": kfVP9Cases, "H264": kfH264Cases, "AV1": kfAV1Cases, "other": kfOtherCases,
	}
	for group, cases := range groups {
		for _, tc := range cases {
			t.Run(group+"/"+tc.name, func(t *testing.T) {
				if got := IsKeyframe(tc.mime, tc.payload); got != tc.want {
					t.Fatalf("IsKeyframe(%q, % x) = %v, want %v", tc.mime, tc.payload, got, tc.want)
				}
			})
		}
	}
}

// kfFakeVP8Frame returns a VP8 bitstream of size bytes whose frame tag marks it
// as a key frame or an inter frame.
func kfFakeVP8Frame(key bool, size int) []byte {
	frame := make([]byte, size)
	for i := range frame {
		frame[i] = byte(i*7 + 3)
	}
	if !key {
		copy(frame, kfVP8Delta)
		return frame
	}
	copy(frame, kfVP8Key)
	return frame
}

func TestIsKeyframePionVP8Payloader(t *testing.T) {
	for _, pictureID := range []bool{false, true} {
		payloader := &codecs.VP8Payloader{EnablePictureID: pictureID}
		// 200 frames take the picture ID past 127, into two-byte IDs.
		for frame := range 200 {
			key := frame%50 == 0
			packets := payloader.Payload(1200, kfFakeVP8Frame(key, 9000))
			if len(packets) < 2 {
				t.Fatalf("payloader made %d packets, want several", len(packets))
			}
			for i, p := range packets {
				want := key && i == 0
				if got := IsKeyframe("video/VP8", p); got != want {
					t.Fatalf("pictureID=%v frame %d packet %d: IsKeyframe = %v, want %v",
						pictureID, frame, i, got, want)
				}
			}
		}
	}
}

// kfAnnexB joins NAL units into an H.264 Annex B byte stream.
func kfAnnexB(nalus ...[]byte) []byte {
	var out []byte
	for _, n := range nalus {
		out = append(out, 0x00, 0x00, 0x00, 0x01)
		out = append(out, n...)
	}
	return out
}

// kfFilled returns a NAL unit of the given header byte and size whose body
// holds no start-code-like bytes.
func kfFilled(header byte, size int) []byte {
	nalu := make([]byte, size)
	for i := range nalu {
		nalu[i] = 0xaa
	}
	nalu[0] = header
	return nalu
}

func TestIsKeyframePionH264Payloader(t *testing.T) {
	sps := []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8}
	pps := []byte{0x68, 0xce, 0x3c, 0x80}
	idr := kfFilled(0x65, 3000)
	inter := kfFilled(0x41, 3000)
	tests := []struct {
		name    string
		noStapA bool
		// firstTypes are the NAL unit types of the first packets; the FU-A
		// fragments of the IDR follow.
		firstTypes []byte
		// keys are the indices of the packets a decoder can start at: the
		// parameter sets and the first fragment of the IDR.
		keys map[int]bool
	}{
		{"STAP-A", false, []byte{24, 28}, map[int]bool{0: true, 1: true}},
		{"single NAL units", true, []byte{7, 8, 28}, map[int]bool{0: true, 2: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			payloader := &codecs.H264Payloader{DisableStapA: tc.noStapA}
			packets := payloader.Payload(1200, kfAnnexB(sps, pps, idr))
			if len(packets) < len(tc.firstTypes)+2 {
				t.Fatalf("payloader made %d packets", len(packets))
			}
			for i, typ := range tc.firstTypes {
				if got := packets[i][0] & h264TypeMask; got != typ {
					t.Fatalf("packet %d has NAL type %d, want %d", i, got, typ)
				}
			}
			for i, p := range packets {
				if got := IsKeyframe(mimeH264, p); got != tc.keys[i] {
					t.Fatalf("key frame packet %d (% x): IsKeyframe = %v", i, p[:2], got)
				}
			}
			for i, p := range payloader.Payload(1200, kfAnnexB(inter)) {
				if IsKeyframe(mimeH264, p) {
					t.Fatalf("inter frame packet %d is a keyframe", i)
				}
			}
		})
	}
}

func TestIsKeyframePionVP9Payloader(t *testing.T) {
	// Profile 0 key frame header: marker, sync code, colour, 1280x720.
	key := append([]byte{0x82, 0x49, 0x83, 0x42, 0x00, 0x4f, 0xf0, 0x2c, 0xf0}, make([]byte, 4000)...)
	// Profile 0 inter frame header.
	inter := append([]byte{0x86, 0x00, 0x00, 0x00}, make([]byte, 4000)...)
	payloader := &codecs.VP9Payloader{InitialPictureIDFn: func() uint16 { return 100 }}
	for frame := range 60 {
		isKey := frame%30 == 0
		data := inter
		if isKey {
			data = key
		}
		packets := payloader.Payload(1200, data)
		if len(packets) < 2 {
			t.Fatalf("payloader made %d packets, want several", len(packets))
		}
		for i, p := range packets {
			want := isKey && i == 0
			if got := IsKeyframe(mimeVP9, p); got != want {
				t.Fatalf("frame %d packet %d (% x): IsKeyframe = %v, want %v", frame, i, p[:4], got, want)
			}
		}
	}
}

func TestIsKeyframePionAV1Payloader(t *testing.T) {
	temporalDelimiter := []byte{0x12, 0x00}
	sequenceHeader := []byte{0x0a, 0x05, 0x00, 0x00, 0x00, 0x24, 0xc4}
	frameOBU := append([]byte{0x32, 0x90, 0x1f}, make([]byte, 4000)...) // type 6, leb128 size 4000
	payloader := &codecs.AV1Payloader{}

	keyPackets := payloader.Payload(1200, kfJoin(temporalDelimiter, sequenceHeader, frameOBU))
	if len(keyPackets) < 2 {
		t.Fatalf("payloader made %d key packets, want several", len(keyPackets))
	}
	for i, p := range keyPackets {
		if got := IsKeyframe(mimeAV1, p); got != (i == 0) {
			t.Fatalf("key packet %d (% x): IsKeyframe = %v", i, p[:2], got)
		}
	}
	for i, p := range payloader.Payload(1200, kfJoin(temporalDelimiter, frameOBU)) {
		if IsKeyframe(mimeAV1, p) {
			t.Fatalf("inter packet %d is a keyframe", i)
		}
	}
}

func TestIsKeyframeDoesNotAllocate(t *testing.T) {
	cases := kfCases(kfVP8Cases, kfVP9Cases, kfH264Cases, kfAV1Cases, kfOtherCases)
	allocs := testing.AllocsPerRun(100, func() {
		for _, tc := range cases {
			IsKeyframe(tc.mime, tc.payload)
		}
	})
	if allocs != 0 {
		t.Fatalf("IsKeyframe allocates %v times per run", allocs)
	}
}

// kfCases joins case tables.
func kfCases(tables ...[]kfCase) []kfCase {
	var out []kfCase
	for _, t := range tables {
		out = append(out, t...)
	}
	return out
}

func BenchmarkIsKeyframe(b *testing.B) {
	benches := []kfCase{
		{"VP8", mimeVP8, kfJoin([]byte{0x90, 0x80, 0x81, 0x23}, kfVP8Key, make([]byte, 1100)), true},
		{"VP9", mimeVP9, kfJoin([]byte{0x8a, 0x05, 0x18, 0x05, 0x00, 0x02, 0xd0, 0x01, 0x14, 0x01}, kfFiller), true},
		{"H264-STAP-A", mimeH264, []byte{0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x03, 0x65, 0x88, 0x84}, true},
		{"AV1", mimeAV1, []byte{0x18, 0x0a, 0x0b, 0x00}, true},
		{"opus", "audio/opus", []byte{0x78, 0x00}, false},
	}
	for _, bc := range benches {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if IsKeyframe(bc.mime, bc.payload) != bc.want {
					b.Fatal("wrong answer")
				}
			}
		})
	}
}
