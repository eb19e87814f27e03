package rtp

// VP8Munger keeps the VP8 picture ID, TL0PICIDX and KEYIDX of one
// down-track continuous, as a decoder needs them to be: across a switch
// from one source stream to another (each counts on its own) and across
// pictures the down-track drops on purpose (a temporal layer it does not
// forward). The first stream a down-track forwards keeps its own values,
// so its payloads go out byte for byte.
//
// A VP8Munger is owned by one goroutine; it is not safe for concurrent use.
type VP8Munger struct {
	started   bool
	pidOffset uint16 // modulo 2^15
	tl0Offset uint8
	keyOffset uint8 // modulo 2^5

	lastPID uint16
	lastTL0 uint8
	lastKey uint8

	// pics remembers recent source pictures, so that every packet of one
	// picture, late ones included, gets the same answer.
	pics [vp8Pictures]vp8Picture
}

// vp8Pictures is how many recent pictures a munger remembers: more than a
// second of 30 fps video, longer than any reordering it must survive.
const vp8Pictures = 64

type vp8Picture struct {
	src     uint16
	out     uint16
	dropped bool
	valid   bool
}

const (
	pidMask = 1<<15 - 1
	keyMask = 1<<5 - 1
)

// Switch makes the picture of d, the first packet a down-track sends from
// a new source stream (a keyframe), follow the last picture sent.
func (m *VP8Munger) Switch(d *VP8Descriptor) {
	m.pics = [vp8Pictures]vp8Picture{}
	if !m.started {
		m.started = true
		m.lastPID, m.lastTL0, m.lastKey = d.PictureID-1, d.TL0PICIDX-1, d.KeyIdx-1
		return
	}
	m.pidOffset = (m.lastPID + 1 - d.PictureID) & pidMask
	m.tl0Offset = m.lastTL0 + 1 - d.TL0PICIDX
	m.keyOffset = (m.lastKey + 1 - d.KeyIdx) & keyMask
}

// Munge rewrites the fields of d, a packet the down-track sends, in place.
func (m *VP8Munger) Munge(d *VP8Descriptor) {
	if d.HasPictureID {
		p := m.picture(d.PictureID)
		d.PictureID = p.out
		if SeqLess15(m.lastPID, p.out) {
			m.lastPID = p.out
		}
	}
	if d.HasTL0PICIDX {
		d.TL0PICIDX += m.tl0Offset
		if int8(d.TL0PICIDX-m.lastTL0) > 0 {
			m.lastTL0 = d.TL0PICIDX
		}
	}
	if d.HasKeyIdx {
		d.KeyIdx = (d.KeyIdx + m.keyOffset) & keyMask
		m.lastKey = d.KeyIdx
	}
}

// Drop records that the down-track does not send the picture of d:
// pictures after it are numbered as if it had never existed.
func (m *VP8Munger) Drop(d *VP8Descriptor) {
	if !d.HasPictureID {
		return
	}
	slot := &m.pics[d.PictureID%vp8Pictures]
	if slot.valid && slot.src == d.PictureID {
		return
	}
	*slot = vp8Picture{src: d.PictureID, dropped: true, valid: true}
	m.pidOffset = (m.pidOffset - 1) & pidMask
}

// Dropped reports whether the picture of d was dropped: its late packets
// must be dropped too.
func (m *VP8Munger) Dropped(d *VP8Descriptor) bool {
	slot := &m.pics[d.PictureID%vp8Pictures]
	return d.HasPictureID && slot.valid && slot.src == d.PictureID && slot.dropped
}

// picture returns the record of a source picture, numbering it if new.
func (m *VP8Munger) picture(src uint16) vp8Picture {
	slot := &m.pics[src%vp8Pictures]
	if !slot.valid || slot.src != src {
		*slot = vp8Picture{src: src, out: (src + m.pidOffset) & pidMask, valid: true}
	}
	return *slot
}

// SeqLess15 reports whether the 15-bit VP8 picture ID a comes before b.
func SeqLess15(a, b uint16) bool {
	d := (b - a) & pidMask
	return d != 0 && d < 1<<14
}
