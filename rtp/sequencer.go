package rtp

// Sequencer numbers the packets one down-track sends, so that its
// subscriber sees one continuous stream whatever the down-track chose not
// to send, and maps a subscriber's NACK back to the packet it asks for.
//
// Output numbers follow the source's: within an epoch (a run of packets
// from one source stream) a packet's output number is its source number
// plus an offset. A gap in the source (a packet lost before Prism) stays a
// gap in the output, which the subscriber sees and NACKs. A packet the
// down-track skips on purpose (another layer's, a dropped temporal
// layer's) lowers the offset of every packet after it, so it leaves no
// gap. The offsets are kept as a short history of ranges, so a packet that
// arrives late (reordered, or repaired by a NACK to the publisher) still
// gets the number its place in the stream calls for.
//
// A new epoch starts at each Start: the next packet continues the output
// numbering whatever its source number.
//
// A Sequencer is owned by one goroutine; it is not safe for concurrent use.
type Sequencer struct {
	ring []SeqEntry
	mask uint64

	// nextOut is the extended output number the next new packet gets.
	nextOut uint64
	started bool

	// The current epoch.
	stream     uint8
	epochStart uint64
	highestSrc uint64
	// ranges are offsets by source number, oldest first: the offset of a
	// packet is that of the last range whose from is at most its number.
	ranges  [maxRanges]seqRange
	nRanges int
}

// maxRanges bounds the offset history. A late packet older than the oldest
// range is not forwarded.
const maxRanges = 32

type seqRange struct {
	from   uint64
	offset uint64 // out = src + offset, modulo 2^64
}

// SeqEntry is what a Sequencer remembers of one packet it numbered: enough
// to send it again exactly as it was sent the first time. It is 16 bytes:
// a sequencer of 512 entries is 8 KB per down-track.
type SeqEntry struct {
	// Src is the low 32 bits of the packet's extended sequence number in
	// its stream; ExtendFrom gives the whole number back.
	Src uint32
	// Timestamp is the output RTP timestamp.
	Timestamp uint32
	// Out is the output sequence number.
	Out uint16
	// PictureID, TL0PICIDX and KeyIdx are the munged VP8 fields.
	PictureID uint16
	TL0PICIDX uint8
	KeyIdx    uint8
	// Stream is the index of the source stream within its track.
	Stream uint8
	valid  bool
}

// NewSequencer returns a Sequencer that remembers the last size packets
// (rounded up to a power of two) for NACKs, and whose first packet gets
// output number first.
func NewSequencer(size int, first uint16) *Sequencer {
	n := 1
	for n < size {
		n <<= 1
	}
	return &Sequencer{ring: make([]SeqEntry, n), mask: uint64(n - 1), nextOut: firstExtended + uint64(first)}
}

// Start begins a new epoch: the packet srcExt of stream gets the next
// output number, and later packets of that stream follow it.
func (s *Sequencer) Start(stream uint8, srcExt uint64) {
	s.stream, s.epochStart, s.highestSrc = stream, srcExt, srcExt-1
	s.ranges[0] = seqRange{from: srcExt, offset: s.nextOut - srcExt}
	s.nRanges = 1
	s.started = true
}

// Started reports whether Start was called.
func (s *Sequencer) Started() bool { return s.started }

// Stream returns the stream of the current epoch.
func (s *Sequencer) Stream() uint8 { return s.stream }

// Next returns the output number of srcExt, a packet of the current
// epoch's stream that the down-track sends, and false when the packet
// belongs to an older epoch or is too late to place.
func (s *Sequencer) Next(srcExt uint64) (uint16, bool) {
	if !s.started || srcExt < s.epochStart {
		return 0, false
	}
	off, ok := s.offsetOf(srcExt)
	if !ok {
		return 0, false
	}
	out := srcExt + off
	if srcExt > s.highestSrc {
		s.highestSrc = srcExt
	}
	if out >= s.nextOut {
		s.nextOut = out + 1
	}
	return uint16(out), true
}

// Skip records that the down-track chose not to send srcExt: packets after
// it are numbered as if it had never existed. A late packet's skip changes
// nothing; its place in the output stays a gap.
func (s *Sequencer) Skip(srcExt uint64) {
	if !s.started || srcExt <= s.highestSrc {
		return
	}
	s.highestSrc = srcExt
	last := &s.ranges[s.nRanges-1]
	if last.from == srcExt {
		// The range begins at this very packet (a run of skips): move it.
		last.from, last.offset = srcExt+1, last.offset-1
		return
	}
	s.push(seqRange{from: srcExt + 1, offset: last.offset - 1})
}

func (s *Sequencer) push(r seqRange) {
	if s.nRanges == maxRanges {
		copy(s.ranges[:], s.ranges[1:])
		s.nRanges--
		s.epochStart = s.ranges[0].from
	}
	s.ranges[s.nRanges] = r
	s.nRanges++
}

// offsetOf returns the offset for srcExt.
func (s *Sequencer) offsetOf(srcExt uint64) (uint64, bool) {
	for i := s.nRanges - 1; i >= 0; i-- {
		if s.ranges[i].from <= srcExt {
			return s.ranges[i].offset, true
		}
	}
	return 0, false
}

// Record remembers e, a packet just numbered e.Out, for Lookup.
func (s *Sequencer) Record(e SeqEntry) {
	ext := Extend(s.nextOut-1, e.Out)
	e.valid = true
	s.ring[ext&s.mask] = e
}

// Lookup returns the entry of the packet sent as out, and false when no
// packet was sent under that number among the last ones remembered.
func (s *Sequencer) Lookup(out uint16) (SeqEntry, bool) {
	if !s.started {
		return SeqEntry{}, false
	}
	ext := Extend(s.nextOut-1, out)
	if ext >= s.nextOut || s.nextOut-ext > uint64(len(s.ring)) {
		return SeqEntry{}, false
	}
	e := s.ring[ext&s.mask]
	if !e.valid || e.Out != out {
		return SeqEntry{}, false
	}
	return e, true
}

// ROC returns the SRTP rollover counter of the packet sent as out, counted
// from the first packet this sequencer numbered (RFC 3711 section 3.3.1:
// the receiver's counter starts at 0 with the first packet it sees).
func (s *Sequencer) ROC(out uint16) uint32 {
	return uint32(Extend(s.nextOut-1, out)>>16) - 1
}

// LastOut returns the output number of the newest packet numbered.
func (s *Sequencer) LastOut() uint16 { return uint16(s.nextOut - 1) }

// ExtendFrom returns the extended sequence number of the packet src stands
// for, given highest, the newest extended number of its stream: the packet
// must be less than 2^31 packets older.
func (e SeqEntry) ExtendFrom(highest uint64) uint64 {
	return highest - uint64(uint32(highest)-e.Src)
}
