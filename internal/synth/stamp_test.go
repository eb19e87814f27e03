package synth

import (
	"testing"
	"time"
)

// stamped returns header followed by a stamp of sent and seq and a tail.
func stamped(header []byte, sent time.Time, seq uint64) []byte {
	out := append([]byte{}, header...)
	stamp := make([]byte, StampSize)
	putStamp(stamp, sent, seq)
	return append(append(out, stamp...), 0xee, 0xff)
}

// tailStamped returns header, some codec data and then a stamp of sent and
// seq in the last StampSize bytes, as Video lays out VP8 payloads.
func tailStamped(header []byte, sent time.Time, seq uint64) []byte {
	out := append(append([]byte{}, header...), 0xee, 0xff, 0x00)
	stamp := make([]byte, StampSize)
	putStamp(stamp, sent, seq)
	return append(out, stamp...)
}

func TestParseStamp(t *testing.T) {
	vp8Key := []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02}
	vp8Inter := []byte{0x11, 0x02, 0x00}
	tests := []struct {
		name    string
		mime    string
		payload []byte
		ok      bool
	}{
		{"opus", "audio/opus", stamped([]byte{0x78}, t0, 7), true},
		{"opus upper case", "AUDIO/OPUS", stamped([]byte{0xfc}, t0, 7), true},
		{"VP8 key, 15-bit ID", "video/VP8", tailStamped(append([]byte{0x90, 0x80, 0x81, 0x02}, vp8Key...), t0, 7), true},
		{"VP8 inter, 7-bit ID", "video/vp8", tailStamped(append([]byte{0x90, 0x80, 0x11}, vp8Inter...), t0, 7), true},
		{"VP8 inter, no X", "video/VP8", tailStamped(append([]byte{0x10}, vp8Inter...), t0, 7), true},
		{"VP8 continuation, L T K", "video/VP8", tailStamped([]byte{0x80, 0xf0, 0x05, 0x01, 0x40}, t0, 7), true},
		{"VP8 continuation, no X", "video/VP8", tailStamped([]byte{0x00}, t0, 7), true},
		{"VP8 partition 1", "video/VP8", tailStamped([]byte{0x91, 0x80, 0x05}, t0, 7), true},
		{"unknown codec", "video/VP9", stamped([]byte{0x00}, t0, 7), false},
		{"VP8 key header, stamp cut short", "video/VP8", tailStamped(append([]byte{0x10}, vp8Key...), t0, 7)[:30], false},
		{"VP8 stamp cut short", "video/VP8", tailStamped([]byte{0x00}, t0, 7)[:20], false},
		{"VP8 descriptor only", "video/VP8", []byte{0x90, 0x80, 0x81}, false},
		{"VP8 first packet, no header", "video/VP8", []byte{0x90, 0x80, 0x81, 0x02}, false},
		{"opus without stamp", "audio/opus", append([]byte{0x78}, make([]byte, 100)...), false},
		{"opus empty", "audio/opus", nil, false},
		{"opus TOC only", "audio/opus", []byte{0x78}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sent, seq, ok := ParseStamp(tc.mime, tc.payload)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if ok && (!sent.Equal(t0) || seq != 7) {
				t.Fatalf("stamp (%v, %d), want (%v, 7)", sent, seq, t0)
			}
			if !ok && (!sent.IsZero() || seq != 0) {
				t.Fatalf("failed parse returned (%v, %d)", sent, seq)
			}
		})
	}
}

func TestParseStampDoesNotAllocate(t *testing.T) {
	v := NewVideo(VideoConfig{})
	pkts, _ := v.NextFrame(t0)
	audio := NewAudio().NextPacket(t0).Payload
	allocs := testing.AllocsPerRun(100, func() {
		for _, p := range pkts {
			ParseStamp("video/VP8", p.Payload)
		}
		ParseStamp("audio/opus", audio)
		ParseStamp("Audio/Opus", audio)
	})
	if allocs != 0 {
		t.Fatalf("ParseStamp allocates %v times per run", allocs)
	}
}

// FuzzParseStamp checks that ParseStamp never panics on arbitrary payloads,
// and that a stamp written after an arbitrary VP8 descriptor and frame
// header, or after a TOC byte, reads back unchanged.
func FuzzParseStamp(f *testing.F) {
	f.Add([]byte{0x90, 0x80, 0x81, 0x02, 0x11, 0x02, 0x00}, int64(0), uint64(0))
	f.Add([]byte{0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x05, 0xd0, 0x02}, t0.UnixNano(), uint64(1)<<40)
	f.Add([]byte{0x78}, int64(-1), uint64(7))
	f.Add([]byte{}, int64(1), uint64(1))
	f.Fuzz(func(t *testing.T, payload []byte, nanos int64, seq uint64) {
		for _, mime := range []string{"video/VP8", "audio/opus", "video/H264"} {
			ParseStamp(mime, payload)
		}
		for _, mime := range []string{"video/VP8", "audio/opus"} {
			off, ok := stampOffset(mime, payload)
			if !ok || off > len(payload) {
				continue
			}
			p := stamped(payload[:off], time.Unix(0, nanos), seq)
			sent, gotSeq, ok := ParseStamp(mime, p)
			if !ok || sent.UnixNano() != nanos || gotSeq != seq {
				t.Fatalf("%s: header % x: stamp (%v, %d, %v), want (%d, %d)", mime, payload[:off], sent, gotSeq, ok, nanos, seq)
			}
		}
	})
}

func BenchmarkParseStamp(b *testing.B) {
	v := NewVideo(VideoConfig{})
	pkts, _ := v.NextFrame(t0)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := ParseStamp("video/VP8", pkts[0].Payload); !ok {
			b.Fatal("no stamp")
		}
	}
}
