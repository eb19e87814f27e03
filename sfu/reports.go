package sfu

import (
	"encoding/binary"
	"time"
)

// reportInterval is the time between two sender reports per transport.
const reportInterval = time.Second

// srSize is the size of a sender report without reception blocks.
const srSize = 28

// maxRTCPSize keeps a compound RTCP packet, encrypted, under the MTU.
const maxRTCPSize = 1200

// report sends the transport's sender reports when they are due: one SR
// per down-track that has sent media, in as few compound packets as fit.
// Called on the worker.
func (t *Transport) report(now time.Time) {
	if t.mode == modeNone || now.Before(t.nextReport) {
		return
	}
	t.nextReport = now.Add(reportInterval)
	b := t.w.rtcp[:0]
	for _, dt := range t.live {
		if len(b)+srSize > maxRTCPSize {
			t.sendRTCP(b)
			b = b[:0]
		}
		b = dt.appendSenderReport(b, now.UnixNano())
	}
	if len(b) > 0 {
		t.sendRTCP(b)
	}
}

// appendSenderReport appends the down-track's sender report to b. Its
// RTP-to-NTP mapping is the publisher's own for the stream forwarded (or,
// for a publisher that sends none, arrival times), moved by the
// down-track's timestamp offset: a subscriber syncs one publisher's audio
// and video exactly as the publisher timed them. Called on the worker.
func (dt *DownTrack) appendSenderReport(b []byte, now int64) []byte {
	f := &dt.fwd
	st := dt.track.Stream(f.last)
	if f.packets == 0 || st == nil {
		return b
	}
	m, ok := st.clock(now)
	if !ok {
		return b
	}
	ntp := m.ntpAt(now)
	rtpTime := m.tsAt(now, st.clockRate) + f.tsOffset
	dt.lastSR.Store(uint64(uint32(ntp>>16))<<32 | uint64(uint32(now/int64(time.Millisecond))))
	return appendSR(b, dt.hdr.SSRC, ntp, rtpTime, f.packets, f.octets)
}

// appendSR appends an RTCP sender report without reception blocks.
func appendSR(b []byte, ssrc uint32, ntp uint64, rtpTime, packets, octets uint32) []byte {
	var sr [srSize]byte
	sr[0], sr[1] = 0x80, 200
	binary.BigEndian.PutUint16(sr[2:], srSize/4-1)
	binary.BigEndian.PutUint32(sr[4:], ssrc)
	binary.BigEndian.PutUint64(sr[8:], ntp)
	binary.BigEndian.PutUint32(sr[16:], rtpTime)
	binary.BigEndian.PutUint32(sr[20:], packets)
	binary.BigEndian.PutUint32(sr[24:], octets)
	return append(b, sr[:]...)
}
