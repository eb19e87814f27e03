package sfu

import (
	"time"

	prtp "github.com/prismsfu/prism/rtp"
)

// receiveSRTCP decrypts and handles one SRTCP packet from the subscriber.
// It runs on the socket goroutine that read it.
func (t *Transport) receiveSRTCP(b []byte) {
	t.rmu.Lock()
	defer t.rmu.Unlock()
	if t.rctx == nil {
		return
	}
	plain, err := t.rctx.DecryptRTCP(t.rbuf[:0], b, nil)
	if err != nil {
		return
	}
	t.handleRTCP(plain)
}

// handleRTCP acts on a compound RTCP packet from the subscriber, without
// allocating: reports and keyframe requests at once, NACKs and congestion
// feedback on the worker, which owns what they need.
func (t *Transport) handleRTCP(b []byte) {
	now := time.Now()
	for pt, count, pkt, rest, ok := prtp.NextRTCP(b); ok; pt, count, pkt, rest, ok = prtp.NextRTCP(rest) {
		switch {
		case pt == prtp.RTCPReceiverReport || pt == prtp.RTCPSenderReport:
			prtp.ReceptionReports(pkt, func(r prtp.ReceptionReport) {
				if dt := t.downTrack(r.SSRC); dt != nil {
					dt.onReceptionReport(r, now)
				}
			})
		case pt == prtp.RTCPPayloadFB && count == prtp.FMTPLI:
			if ssrc, ok := prtp.MediaSSRC(pkt); ok {
				t.keyframeRequest(ssrc)
			}
		case pt == prtp.RTCPPayloadFB && count == prtp.FMTFIR:
			prtp.FIRs(pkt, t.keyframeRequest)
		case pt == prtp.RTCPPayloadFB && count == prtp.FMTAFB:
			if bps, ok := prtp.REMB(pkt); ok {
				t.stats.remb.Store(bps)
			}
		case pt == prtp.RTCPTransportFB && count == prtp.FMTNACK:
			t.stats.nacks.Add(1)
			t.w.feedback(t, pkt)
		case pt == prtp.RTCPTransportFB && count == prtp.FMTTWCC:
			t.stats.twccFeedback.Add(1)
			t.w.feedback(t, pkt)
		}
	}
}

func (t *Transport) keyframeRequest(ssrc uint32) {
	if dt := t.downTrack(ssrc); dt != nil {
		t.stats.keyframeReqs.Add(1)
		dt.requestKeyframe()
	}
}

// maxRetransmitAge is the oldest packet a NACK is answered with: older
// ones arrive after the subscriber's jitter buffer has given up on them,
// and under overload answering them feeds a retransmission storm.
const maxRetransmitAge = time.Second

// maxRetransmitsPerNACK bounds what one NACK packet can make Prism send.
const maxRetransmitsPerNACK = 64

// onNACK resends what a subscriber lost, from the publisher's cache.
// Called on the worker.
func (t *Transport) onNACK(pkt []byte) {
	ssrc, _ := prtp.MediaSSRC(pkt)
	dt := t.downTrack(ssrc)
	if dt == nil {
		return
	}
	budget := maxRetransmitsPerNACK
	prtp.NACKs(pkt, func(seq uint16) bool {
		if dt.retransmit(seq) {
			t.stats.retransmits.Add(1)
		}
		budget--
		return budget > 0
	})
}

// onTWCC matches transport-wide feedback against what was sent: where the
// bandwidth estimator of the congestion-control work will sit. For now it
// counts the packets the subscriber reports received and lost. Called on
// the worker.
func (t *Transport) onTWCC(pkt []byte) {
	var err error
	if _, t.w.twcc, err = prtp.ParseTWCC(pkt, t.w.twcc); err != nil {
		return
	}
	for _, p := range t.w.twcc {
		if _, ok := t.history.get(p.Seq); !ok {
			continue
		}
		if p.Received {
			t.stats.twccAcked.Add(1)
		} else {
			t.stats.twccLost.Add(1)
		}
	}
}
