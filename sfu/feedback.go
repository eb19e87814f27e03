package sfu

import (
	"time"

	"github.com/pion/rtcp"
)

// receiveSRTCP decrypts and handles one SRTCP packet from the subscriber.
// It runs on the socket goroutine that read it.
func (t *Transport) receiveSRTCP(b []byte) {
	t.rmu.Lock()
	if t.rctx == nil {
		t.rmu.Unlock()
		return
	}
	plain, err := t.rctx.DecryptRTCP(t.rbuf[:0], b, nil)
	if err != nil {
		t.rmu.Unlock()
		return
	}
	// Unmarshal allocates; RTCP arrives a few dozen times a second per
	// subscriber, not once per packet.
	pkts, err := rtcp.Unmarshal(plain)
	t.rmu.Unlock()
	if err != nil {
		return
	}
	t.handleRTCP(pkts)
}

// handleRTCP acts on the subscriber's RTCP: reports and keyframe requests
// at once, NACKs and congestion feedback on the worker, which owns what
// they need.
func (t *Transport) handleRTCP(pkts []rtcp.Packet) {
	now := time.Now()
	for _, p := range pkts {
		switch p := p.(type) {
		case *rtcp.ReceiverReport:
			t.onReports(p.Reports, now)
		case *rtcp.SenderReport:
			t.onReports(p.Reports, now)
		case *rtcp.PictureLossIndication:
			t.keyframeRequest(p.MediaSSRC)
		case *rtcp.FullIntraRequest:
			for _, e := range p.FIR {
				t.keyframeRequest(e.SSRC)
			}
		case *rtcp.TransportLayerNack:
			t.stats.nacks.Add(1)
			t.w.feedback(t, p)
		case *rtcp.TransportLayerCC:
			t.stats.twccFeedback.Add(1)
			t.w.feedback(t, p)
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			t.stats.remb.Store(uint64(p.Bitrate))
		}
	}
}

func (t *Transport) onReports(reports []rtcp.ReceptionReport, now time.Time) {
	for i := range reports {
		if dt := t.downTrack(reports[i].SSRC); dt != nil {
			dt.onReceptionReport(&reports[i], now)
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
func (t *Transport) onNACK(n *rtcp.TransportLayerNack) {
	dt := t.downTrack(n.MediaSSRC)
	if dt == nil {
		return
	}
	budget := maxRetransmitsPerNACK
	for _, pair := range n.Nacks {
		pair.Range(func(seq uint16) bool {
			if dt.retransmit(seq) {
				t.stats.retransmits.Add(1)
			}
			budget--
			return budget > 0
		})
	}
}

// onTWCC matches transport-wide feedback against what was sent: where the
// bandwidth estimator of the congestion-control work will sit. For now it
// counts the packets the subscriber reports received and lost. Called on
// the worker.
func (t *Transport) onTWCC(fb *rtcp.TransportLayerCC) {
	seq := fb.BaseSequenceNumber
	count := func(status uint16, n int) {
		for range n {
			if _, ok := t.history.get(seq); ok {
				if status == rtcp.TypeTCCPacketNotReceived {
					t.stats.twccLost.Add(1)
				} else {
					t.stats.twccAcked.Add(1)
				}
			}
			seq++
		}
	}
	left := int(fb.PacketStatusCount)
	for _, chunk := range fb.PacketChunks {
		switch c := chunk.(type) {
		case *rtcp.RunLengthChunk:
			n := min(int(c.RunLength), left)
			count(c.PacketStatusSymbol, n)
			left -= n
		case *rtcp.StatusVectorChunk:
			for _, s := range c.SymbolList {
				if left == 0 {
					break
				}
				count(s, 1)
				left--
			}
		}
	}
}
