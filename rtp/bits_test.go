package rtp

import (
	"bytes"
	"testing"
)

// The ns(5) table of the AV1 RTP spec, Appendix A.4.1 (v0.5): the lower
// three values take two bits, the upper two take three.
func TestBitsNSTable(t *testing.T) {
	want := []string{"00", "01", "10", "110", "111"}
	for v, code := range want {
		var w bitWriter
		w.ns(uint32(v), 5)
		if w.bits != len(code) {
			t.Fatalf("ns(5) of %d: %d bits, want %q", v, w.bits, code)
		}
		b := bitsFromString(code)
		r := bitReader{b: b}
		if got := r.ns(5); got != uint32(v) || r.pos != len(code) {
			t.Fatalf("ns(5) reading %q: %d after %d bits, want %d", code, got, r.pos, v)
		}
		w = bitWriter{b: make([]byte, 1)}
		w.ns(uint32(v), 5)
		w.flush()
		if !bytes.Equal(w.b, b) {
			t.Fatalf("ns(5) writing %d: %08b, want %08b", v, w.b[0], b[0])
		}
	}
}

// Every value of every ns(n) the descriptor uses reads back as written.
func TestBitsNSRoundTrip(t *testing.T) {
	for n := uint32(1); n <= 33; n++ {
		for v := range n {
			w := bitWriter{b: make([]byte, 2)}
			w.write(1, 3) // start unaligned
			w.ns(v, n)
			w.write(0x5, 3)
			w.flush()
			r := bitReader{b: w.b}
			r.read(3)
			if got := r.ns(n); got != v || r.read(3) != 0x5 || r.short {
				t.Fatalf("ns(%d) of %d read back as %d", n, v, got)
			}
		}
	}
}

func TestBitsFieldsAcrossBytes(t *testing.T) {
	w := bitWriter{b: make([]byte, 9)}
	w.write(1, 1)
	w.write(0x2a, 6)
	w.write(0xbeef, 16)
	w.write(0xdeadbeef, 32)
	w.write(0x3, 2)
	w.flush()
	if w.short || w.size() != 8 || w.i != 8 {
		t.Fatalf("short %v size %d stored %d", w.short, w.size(), w.i)
	}
	r := bitReader{b: w.b[:8]}
	if r.read(1) != 1 || r.read(6) != 0x2a || r.read(16) != 0xbeef || r.read(32) != 0xdeadbeef || r.read(2) != 3 || r.read(7) != 0 || r.short {
		t.Fatal("fields did not read back")
	}
	if r.read(1) != 0 || !r.short {
		t.Fatal("reading past the end must yield zero and mark the reader short")
	}
}

func TestBitsWriterStaysInside(t *testing.T) {
	b := make([]byte, 4)
	w := bitWriter{b: b[:2]}
	w.write(0xffffffff, 32)
	w.flush()
	if !w.short || b[2] != 0 || b[3] != 0 {
		t.Fatalf("wrote past the slice: % x short %v", b, w.short)
	}
}

// bitsFromString packs a string of '0' and '1' into bytes, zero padded.
func bitsFromString(s string) []byte {
	b := make([]byte, (len(s)+7)/8)
	for i, c := range s {
		if c == '1' {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	return b
}
