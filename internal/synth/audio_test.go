package synth

import (
	"testing"
	"time"

	"github.com/pion/rtp/codecs"
)

func TestAudioPackets(t *testing.T) {
	a := NewAudio()
	var prevSeq uint16
	var prevTS, ssrc uint32
	minSize, maxSize := 1<<30, 0
	for i := range 1000 {
		now := t0.Add(time.Duration(i) * AudioPacketInterval)
		p := a.NextPacket(now)
		var opus codecs.OpusPacket
		if _, err := opus.Unmarshal(p.Payload); err != nil {
			t.Fatalf("packet %d: pion cannot parse: %v", i, err)
		}
		if n := len(p.Payload); n < 60 || n > 160 {
			t.Fatalf("packet %d: payload %d bytes, want 60-160", i, n)
		}
		minSize, maxSize = min(minSize, len(p.Payload)), max(maxSize, len(p.Payload))
		if p.Payload[0] != OpusTOC {
			t.Fatalf("packet %d: TOC %#x", i, p.Payload[0])
		}
		if p.Marker != (i == 0) || p.Version != 2 || p.PayloadType != AudioPayloadType || p.SSRC == 0 {
			t.Fatalf("packet %d: header %+v", i, p.Header)
		}
		if i > 0 && (p.SequenceNumber != prevSeq+1 || p.Timestamp != prevTS+960 || p.SSRC != ssrc) {
			t.Fatalf("packet %d: seq %d ts %d ssrc %d after seq %d ts %d ssrc %d",
				i, p.SequenceNumber, p.Timestamp, p.SSRC, prevSeq, prevTS, ssrc)
		}
		sent, seq, ok := ParseStamp("audio/opus", p.Payload)
		if !ok || !sent.Equal(now) || seq != uint64(i) {
			t.Fatalf("packet %d: stamp (%v, %d, %v)", i, sent, seq, ok)
		}
		prevSeq, prevTS, ssrc = p.SequenceNumber, p.Timestamp, p.SSRC
	}
	if maxSize-minSize < 50 {
		t.Fatalf("payload sizes only span %d-%d bytes", minSize, maxSize)
	}
}

func TestAudioNextPacketDoesNotAllocate(t *testing.T) {
	a := NewAudio()
	allocs := testing.AllocsPerRun(100, func() { a.NextPacket(t0) })
	if allocs != 0 {
		t.Fatalf("NextPacket allocates %v times per packet", allocs)
	}
}
