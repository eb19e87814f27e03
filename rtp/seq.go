package rtp

// SeqLess reports whether RTP sequence number a comes before b, taking
// wrap-around into account (RFC 3550 serial number arithmetic).
func SeqLess(a, b uint16) bool {
	return a != b && b-a < 1<<15
}

// Extend returns the 64-bit extended sequence number of seq that lies
// nearest to ref, an extended sequence number already known.
func Extend(ref uint64, seq uint16) uint64 {
	delta := int64(int16(seq - uint16(ref)))
	ext := int64(ref) + delta
	if ext < 0 {
		return uint64(seq)
	}
	return uint64(ext)
}

// Unwrapper turns the 16-bit sequence numbers of one stream into 64-bit
// extended sequence numbers that never wrap. The zero value is ready to use.
// It is not safe for concurrent use.
type Unwrapper struct {
	highest uint64
	started bool
}

// firstExtended is where extended numbering starts, so that packets which
// arrive late, just before the first one, still get a non-negative number.
const firstExtended = 1 << 16

// Unwrap returns the extended sequence number of seq.
func (u *Unwrapper) Unwrap(seq uint16) uint64 {
	if !u.started {
		u.started = true
		u.highest = firstExtended + uint64(seq)
		return u.highest
	}
	ext := Extend(u.highest, seq)
	if ext > u.highest {
		u.highest = ext
	}
	return ext
}

// Highest returns the highest extended sequence number seen so far.
func (u *Unwrapper) Highest() uint64 { return u.highest }
