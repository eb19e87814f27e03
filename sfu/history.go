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

// sentPacket is one remembered packet.
type sentPacket struct {
	at    int64 // Unix nanoseconds
	size  uint16
	seq   uint16
	valid bool
}

// add records packet seq, sent at at with size bytes.
func (h *sendHistory) add(seq uint16, at int64, size int) {
	h.e[seq%historySize] = sentPacket{at: at, size: uint16(size), seq: seq, valid: true}
}

// get returns packet seq, if it is still remembered.
func (h *sendHistory) get(seq uint16) (sentPacket, bool) {
	p := h.e[seq%historySize]
	return p, p.valid && p.seq == seq
}
