package rtp

import "math/bits"

// bitReader reads a bit stream most significant bit first, as the AV1
// dependency descriptor lays it out. Reading past the end yields zeros and
// marks the reader short; the caller checks short before it trusts what
// it read, and loops that end on a zero stop by themselves.
type bitReader struct {
	b     []byte
	pos   int // bits consumed
	short bool
}

// read returns the next n bits (n <= 32) as an unsigned number: the
// spec's f(n).
func (r *bitReader) read(n int) uint32 {
	var v uint32
	for n > 0 {
		i := r.pos >> 3
		if i >= len(r.b) {
			r.short = true
			return 0
		}
		avail := 8 - r.pos&7
		take := min(avail, n)
		v = v<<take | uint32(r.b[i]>>(avail-take))&(1<<take-1)
		n -= take
		r.pos += take
	}
	return v
}

// flag reads one bit.
func (r *bitReader) flag() bool { return r.read(1) == 1 }

// ns reads a non-symmetric unsigned number in 0..n-1 (n >= 1): the spec's
// ns(n), which spends one bit less on the lower values when n is not a
// power of two.
func (r *bitReader) ns(n uint32) uint32 {
	w := bits.Len32(n)
	m := uint32(1)<<w - n
	v := r.read(w - 1)
	if v < m {
		return v
	}
	return v<<1 - m + r.read(1)
}

// bitWriter writes a bit stream most significant bit first. With b nil it
// only counts, so that one encoding routine serves both for the size and
// for the bytes. It never writes outside b: past its end it marks itself
// short and drops the bits.
type bitWriter struct {
	b     []byte
	bits  int    // bits written or counted
	i     int    // bytes stored in b
	acc   uint64 // bits not yet stored: the low nacc bits
	nacc  int
	short bool
}

// write appends the low n bits (n <= 32) of v: the spec's f(n).
func (w *bitWriter) write(v uint32, n int) {
	w.bits += n
	if w.b == nil {
		return
	}
	w.acc = w.acc<<n | uint64(v)&(1<<n-1)
	w.nacc += n
	for w.nacc >= 8 {
		w.nacc -= 8
		w.put(byte(w.acc >> w.nacc))
	}
}

// flag appends one bit.
func (w *bitWriter) flag(f bool) {
	var v uint32
	if f {
		v = 1
	}
	w.write(v, 1)
}

// ns appends v (< n) as the spec's ns(n) reads it.
func (w *bitWriter) ns(v, n uint32) {
	width := bits.Len32(n)
	m := uint32(1)<<width - n
	if v < m {
		w.write(v, width-1)
		return
	}
	w.write(v+m, width)
}

// flush stores the last partial byte, padded with zero bits.
func (w *bitWriter) flush() {
	if w.b == nil || w.nacc == 0 {
		return
	}
	w.put(byte(w.acc << (8 - w.nacc)))
	w.nacc = 0
}

// put stores one byte, or marks the writer short when b is full.
func (w *bitWriter) put(c byte) {
	if w.i >= len(w.b) {
		w.short = true
		return
	}
	w.b[w.i] = c
	w.i++
}

// size returns the length in bytes of what was written or counted.
func (w *bitWriter) size() int { return (w.bits + 7) / 8 }
