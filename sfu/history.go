package sfu

// historySize is how many sent packets a transport remembers for its
// transport-wide congestion-control feedback: over a second of 1.5 Mbit/s
// video and audio, longer than feedback ever takes to come back.
const historySize = 512

// sendHistory remembers when each recent packet of a transport left, and
// its size, by transport-wide sequence number: what a delay-based
// bandwidth estimator matches feedback against.
type sendHistory struct {
	e [historySize]sentPacket
}

// sentPacket is one remembered packet, in 8 bytes.
type sentPacket struct {
	// at is when it left, in microseconds of Unix time modulo 2^32 (it
	// wraps every 71 minutes; estimators work on differences).
	at uint32
	// size is never 0 for a packet, so 0 marks an empty slot.
	size uint16
	seq  uint16
}

// add records packet seq, sent at at (Unix nanoseconds) with size bytes.
func (h *sendHistory) add(seq uint16, at int64, size int) {
	h.e[seq%historySize] = sentPacket{at: uint32(at / 1000), size: uint16(max(size, 1)), seq: seq}
}

// get returns packet seq, if it is still remembered.
func (h *sendHistory) get(seq uint16) (sentPacket, bool) {
	p := h.e[seq%historySize]
	return p, p.size != 0 && p.seq == seq
}
