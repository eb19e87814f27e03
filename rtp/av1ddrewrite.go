package rtp

import "io"

// DDRewrite is how a down-track changes the dependency descriptors it
// forwards: its state, kept across packets and changed when it switches
// layers or source streams.
type DDRewrite struct {
	// FrameOffset is added to every frame number (modulo 2^16): after a
	// switch between simulcast streams, it makes the new stream's frame
	// numbers follow the old one's. Frame and chain diffs are relative and
	// stay as they are.
	FrameOffset uint16
	// SetActive makes ActiveDecodeTargets, limited to the structure's
	// decode targets, the active_decode_targets_bitmask of every packet
	// written. Without it a packet keeps the mask it carries, if any.
	//
	// A down-track that forwards only some decode targets must set it on
	// at least every packet that attaches a structure (Appendix A.4.4),
	// and until the receiver has surely seen it.
	SetActive           bool
	ActiveDecodeTargets uint32
}

// Rewrite parses src, a dependency descriptor extension value, into d as
// ParseDependencyDescriptor does with latest, changes it as rw says, and
// writes it to dst: the frame number plus rw.FrameOffset and, with
// rw.SetActive, the active decode targets rw gives. An attached structure
// is written again, and custom values are kept. It returns the length
// written, or the parse error, or io.ErrShortBuffer when dst is too
// short. d is left as written.
//
// d is the down-track's own, reused from packet to packet: after its first
// keyframe, Rewrite allocates nothing.
func (d *DependencyDescriptor) Rewrite(dst, src []byte, latest *DDStructure, rw DDRewrite) (int, error) {
	if err := ParseDependencyDescriptor(src, latest, d); err != nil {
		return 0, err
	}
	s := latest
	if d.HasStructure {
		s = d.Structure
	}
	d.FrameNumber += rw.FrameOffset
	if rw.SetActive {
		d.HasActiveDecodeTargets = true
		d.ActiveDecodeTargets = rw.ActiveDecodeTargets & s.AllDecodeTargets()
	}
	n := d.MarshalTo(dst, s)
	if n == 0 {
		return 0, io.ErrShortBuffer
	}
	return n, nil
}
