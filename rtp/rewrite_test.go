package rtp

import (
	"bytes"
	"testing"

	pionrtp "github.com/pion/rtp"
)

func srcPacket(seq uint16, ts uint32) *pionrtp.Packet {
	p := &pionrtp.Packet{
		Header: pionrtp.Header{
			Version: 2, PayloadType: 100, SequenceNumber: seq, Timestamp: ts,
			SSRC: 0xdeadbeef, Marker: seq%3 == 0, CSRC: []uint32{7},
		},
		Payload: []byte{1, 2, 3, byte(seq)},
	}
	_ = p.Header.SetExtension(3, []byte{0x80 | 42})     // audio level: forwarded
	_ = p.Header.SetExtension(5, []byte{1, 2, 3})       // transport-cc: stripped
	_ = p.Header.SetExtension(9, []byte{9, 9, 9, 9, 9}) // unknown: stripped
	return p
}

func newTestRewriter() *Rewriter {
	var m ExtensionMap
	m.Add(3, 1)
	return NewRewriter(1234, 96, m, 500, 90000)
}

func TestRewriterContinuousStream(t *testing.T) {
	r := newTestRewriter()
	// Source starts near a wrap, with a gap and a reordered packet.
	seqs := []uint16{65534, 65535, 0, 2, 1, 3}
	want := []uint16{500, 501, 502, 504, 503, 505}
	for i, s := range seqs {
		p := srcPacket(s, 3000+uint32(s)*10)
		r.Rewrite(&p.Header)
		if p.SSRC != 1234 || p.PayloadType != 96 || len(p.CSRC) != 0 {
			t.Fatalf("packet %d: ssrc %d pt %d csrc %v", i, p.SSRC, p.PayloadType, p.CSRC)
		}
		if p.SequenceNumber != want[i] {
			t.Fatalf("packet %d: seq %d, want %d", i, p.SequenceNumber, want[i])
		}
		if got := p.GetExtension(1); !bytes.Equal(got, []byte{0x80 | 42}) {
			t.Fatalf("audio level under new id 1: %x", got)
		}
		if p.GetExtension(5) != nil || p.GetExtension(9) != nil || p.GetExtension(3) != nil {
			t.Fatal("unmapped extension forwarded")
		}
	}
	// Timestamps keep their spacing from the source.
	a, b := srcPacket(10, 1000), srcPacket(11, 4000)
	r.Rewrite(&a.Header)
	r.Rewrite(&b.Header)
	if b.Timestamp-a.Timestamp != 3000 {
		t.Fatalf("timestamp spacing %d, want 3000", b.Timestamp-a.Timestamp)
	}
}

func TestRewriterResyncAndNACKMapping(t *testing.T) {
	r := newTestRewriter()
	for s := uint16(100); s < 110; s++ {
		p := srcPacket(s, uint32(s)*3000)
		r.Rewrite(&p.Header)
	}
	// Output 500..509 maps back to source 100..109.
	if src, ok := r.Source(505); !ok || src != 105 {
		t.Fatalf("Source(505) = %d %v, want 105", src, ok)
	}
	if _, ok := r.Source(510); ok {
		t.Fatal("Source of a packet not yet written")
	}
	// Retransmission gets the same numbers as the first time.
	p := srcPacket(105, 105*3000)
	first := srcPacket(100, 100*3000)
	r2 := newTestRewriter()
	r2.Rewrite(&first.Header)
	if !r.Retransmit(&p.Header, 505) || p.SequenceNumber != 505 || p.Timestamp != first.Timestamp+5*3000 {
		t.Fatalf("retransmit: seq %d ts %d", p.SequenceNumber, p.Timestamp)
	}

	// A new source with unrelated numbers continues the stream.
	r.Resync(3000)
	q := srcPacket(40000, 7)
	r.Rewrite(&q.Header)
	if q.SequenceNumber != 510 {
		t.Fatalf("after resync seq %d, want 510", q.SequenceNumber)
	}
	if q.Timestamp != first.Timestamp+9*3000+3000+1 {
		t.Fatalf("after resync ts %d, want %d", q.Timestamp, first.Timestamp+9*3000+3001)
	}
	// Packets of the old epoch can no longer be mapped back.
	if _, ok := r.Source(505); ok {
		t.Fatal("old epoch still mapped")
	}
	if src, ok := r.Source(510); !ok || src != 40000 {
		t.Fatalf("Source(510) = %d %v", src, ok)
	}
}

func TestRewriteDoesNotAllocate(t *testing.T) {
	r := newTestRewriter()
	raw, _ := srcPacket(1, 1).Marshal()
	var h pionrtp.Header
	if _, err := h.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		_, _ = h.Unmarshal(raw)
		r.Rewrite(&h)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per rewrite", allocs)
	}
}

func BenchmarkRewrite(b *testing.B) {
	r := newTestRewriter()
	raw, _ := srcPacket(1, 1).Marshal()
	var h pionrtp.Header
	b.ReportAllocs()
	for b.Loop() {
		_, _ = h.Unmarshal(raw)
		r.Rewrite(&h)
	}
}

// FuzzRewrite feeds arbitrary packets through the rewriter and checks that
// the result marshals, parses back with the rewritten fields, keeps only
// mapped extensions and leaves the payload untouched.
func FuzzRewrite(f *testing.F) {
	raw, _ := srcPacket(65535, 1).Marshal()
	f.Add(raw)
	f.Add([]byte{0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x10, 0x00, 0, 1, 0x03, 0x01, 0xaa, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var p pionrtp.Packet
		if err := p.Unmarshal(data); err != nil {
			return
		}
		payload := append([]byte(nil), p.Payload...)
		r := newTestRewriter()
		r.Rewrite(&p.Header)
		out, err := p.Marshal()
		if err != nil {
			t.Fatalf("rewritten packet does not marshal: %v", err)
		}
		var q pionrtp.Packet
		if err := q.Unmarshal(out); err != nil {
			t.Fatalf("rewritten packet does not parse: %v", err)
		}
		if q.SSRC != 1234 || q.PayloadType != 96 || q.SequenceNumber != 500 {
			t.Fatalf("header not rewritten: %+v", q.Header)
		}
		for _, id := range q.GetExtensionIDs() {
			if id != 1 {
				t.Fatalf("extension %d forwarded", id)
			}
		}
		if !bytes.Equal(q.Payload, payload) {
			t.Fatal("payload changed")
		}
		if _, ok := r.Source(500); !ok {
			t.Fatal("written packet cannot be mapped back")
		}
	})
}
