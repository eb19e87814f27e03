package synth

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"
)

// fixVideo replaces the random parts of v's state with fixed values, so
// that its output is the same on every run.
func fixVideo(v *Video) {
	v.seq, v.ts0, v.pictureID, v.cfg.SSRC = 65000, 4_000_000_000, 32000, 0x01020304
}

// videoDigest returns a SHA-256 over the headers and payloads of the first
// frames of a fixed Video made from cfg, one of them a forced keyframe.
func videoDigest(t *testing.T, cfg VideoConfig, frames int) string {
	t.Helper()
	v := NewVideo(cfg)
	fixVideo(v)
	h := sha256.New()
	for frame := range frames {
		if frame == frames/2 {
			v.ForceKeyframe()
		}
		pkts, _ := v.NextFrame(t0.Add(time.Duration(frame) * v.FrameInterval()))
		for _, p := range pkts {
			b, err := p.Header.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			h.Write(b)
			h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(p.Payload))))
			h.Write(p.Payload)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TestVideoOutputIsPinned pins the bytes Video sends without temporal
// layers: receivers, recorded captures and benchmarks depend on them, so a
// change to them must be deliberate.
func TestVideoOutputIsPinned(t *testing.T) {
	cases := []struct {
		cfg  VideoConfig
		want string
	}{
		{VideoConfig{}, "486e12dedb6c4189659a454a654a098993ad12d7c41f3f83b6f9be7c958a0747"},
		{VideoConfig{TemporalLayers: 1}, "486e12dedb6c4189659a454a654a098993ad12d7c41f3f83b6f9be7c958a0747"},
		{VideoConfig{Bitrate: 300_000, FPS: 15, MTU: 500, Width: 320, Height: 180}, "ae9fe5d675f9dd1cdffee52d6a8b7b631a59299ccf321db002799303d464a39a"},
	}
	for _, c := range cases {
		if got := videoDigest(t, c.cfg, 150); got != c.want {
			t.Errorf("%+v: digest %s, want %s", c.cfg, got, c.want)
		}
	}
}
