package main

import (
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/internal/synth"
)

// readBufSize holds any RTP packet that fits an Ethernet MTU. Each reader
// goroutine owns one buffer for its whole life: nothing is allocated per
// packet.
const readBufSize = 1500

// onTrack reads one remote track until it ends. The client library calls it
// in a goroutine of its own per track.
func (p *participant) onTrack(tr *webrtc.TrackRemote, publisherID string) {
	buf := make([]byte, readBufSize)
	kind := tr.Kind().String()
	pt := p.st.pubByTrackID(tr.ID())
	if pt == nil {
		pt = p.st.pubByOwner(publisherID, kind)
	}
	if pt == nil {
		p.st.unknownTracks.Add(1)
	}
	if pt == nil || !p.subscribes || pt.owner == p {
		// Not ours to measure (another client in the room, or a publisher
		// of a fan-out test): drain it so pion's buffers do not fill.
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
			p.st.unknownIn.Add(1)
		}
	}
	r := p.recvTrackFor(pt)
	mime := tr.Codec().MimeType
	if mime == "" {
		mime = pt.mime
	}
	st := p.st
	for {
		n, _, err := tr.Read(buf)
		if err != nil {
			return
		}
		now := time.Now()
		payload, ok := rtpPayload(buf[:n])
		if !ok {
			st.badStamp.Add(1)
			continue
		}
		sent, seq, ok := synth.ParseStamp(mime, payload)
		if !ok {
			st.badStamp.Add(1)
			continue
		}
		st.received(r, seq, n, now, now.Sub(sent))
	}
}

// recvTrackFor returns the receive state of pt for p, creating it once: a
// track that is renegotiated keeps its counters.
func (p *participant) recvTrackFor(pt *pubTrack) *recvTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.recv[pt]; r != nil {
		return r
	}
	r := &recvTrack{pt: pt, sub: p}
	p.recv[pt] = r
	return r
}

// rtpPayload returns the payload of an RTP packet without parsing it into
// structures: it skips the fixed header, CSRCs and the extension, and drops
// padding.
func rtpPayload(b []byte) ([]byte, bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return nil, false
	}
	off := 12 + 4*int(b[0]&0x0f)
	if b[0]&0x10 != 0 { // extension
		if len(b) < off+4 {
			return nil, false
		}
		off += 4 + 4*(int(b[off+2])<<8|int(b[off+3]))
	}
	end := len(b)
	if b[0]&0x20 != 0 { // padding: the last byte counts it
		end -= int(b[end-1])
	}
	if off > end {
		return nil, false
	}
	return b[off:end], true
}
