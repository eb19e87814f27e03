package rtp

import (
	"reflect"
	"testing"

	"github.com/pion/rtcp"
)

// marshal is pion's encoding of pkts, which Prism's reader must agree with.
func marshal(t testing.TB, pkts ...rtcp.Packet) []byte {
	t.Helper()
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRTCPCompoundAndFeedback(t *testing.T) {
	lost := []uint16{65534, 65535, 3, 17, 100}
	b := marshal(t,
		&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{
			{SSRC: 10, FractionLost: 25, TotalLost: 300, LastSequenceNumber: 70000, Jitter: 7, LastSenderReport: 0xabcd, Delay: 65536},
			{SSRC: 11, FractionLost: 1},
		}},
		&rtcp.TransportLayerNack{MediaSSRC: 10, Nacks: rtcp.NackPairsFromSequenceNumbers(lost)},
		&rtcp.PictureLossIndication{MediaSSRC: 11},
		&rtcp.FullIntraRequest{FIR: []rtcp.FIREntry{{SSRC: 12}, {SSRC: 13}}},
		&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: 1_500_000, SSRCs: []uint32{10}},
		&rtcp.SenderReport{SSRC: 2, Reports: []rtcp.ReceptionReport{{SSRC: 14, LastSenderReport: 9}}},
	)
	var types []uint8
	var reports []ReceptionReport
	var nacks []uint16
	var firs []uint32
	var remb uint64
	for pt, count, pkt, rest, ok := NextRTCP(b); ok; pt, count, pkt, rest, ok = NextRTCP(rest) {
		types = append(types, pt)
		switch {
		case pt == RTCPReceiverReport || pt == RTCPSenderReport:
			ReceptionReports(pkt, func(r ReceptionReport) { reports = append(reports, r) })
		case pt == RTCPTransportFB && count == FMTNACK:
			NACKs(pkt, func(seq uint16) bool { nacks = append(nacks, seq); return true })
		case pt == RTCPPayloadFB && count == FMTPLI:
			if ssrc, _ := MediaSSRC(pkt); ssrc != 11 {
				t.Fatalf("PLI for %d", ssrc)
			}
		case pt == RTCPPayloadFB && count == FMTFIR:
			FIRs(pkt, func(s uint32) { firs = append(firs, s) })
		case pt == RTCPPayloadFB && count == FMTAFB:
			remb, _ = REMB(pkt)
		}
	}
	if !reflect.DeepEqual(types, []uint8{201, 205, 206, 206, 206, 200}) {
		t.Fatalf("types %v", types)
	}
	want := []ReceptionReport{
		{SSRC: 10, FractionLost: 25, TotalLost: 300, HighestSeq: 70000, Jitter: 7, LastSR: 0xabcd, DelaySinceSR: 65536},
		{SSRC: 11, FractionLost: 1}, {SSRC: 14, LastSR: 9},
	}
	if !reflect.DeepEqual(reports, want) {
		t.Fatalf("reports %+v", reports)
	}
	if !reflect.DeepEqual(nacks, lost) || !reflect.DeepEqual(firs, []uint32{12, 13}) || remb != 1_500_000 {
		t.Fatalf("nacks %v firs %v remb %d", nacks, firs, remb)
	}
}

// A TWCC feedback as Chromium and pion write it: run-length and both kinds
// of status vector, small and large deltas, lost packets.
func TestParseTWCC(t *testing.T) {
	fb := &rtcp.TransportLayerCC{
		SenderSSRC: 1, MediaSSRC: 2, BaseSequenceNumber: 65530, PacketStatusCount: 3 + 14 + 7,
		ReferenceTime: 1234, FbPktCount: 9,
		PacketChunks: []rtcp.PacketStatusChunk{
			&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 3},
			&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeOneBit, SymbolList: []uint16{1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0}},
			&rtcp.StatusVectorChunk{SymbolSize: rtcp.TypeTCCSymbolSizeTwoBit, SymbolList: []uint16{2, 1, 0, 2, 1, 1, 0}},
		},
	}
	var deltas []*rtcp.RecvDelta
	var want []TWCCPacket
	statuses := []uint16{1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 0, 2, 1, 0, 2, 1, 1, 0}
	at := int64(0)
	for i, s := range statuses {
		p := TWCCPacket{Seq: 65530 + uint16(i), Received: s != 0}
		switch s {
		case 1:
			d := int64(i%5) * 250
			deltas = append(deltas, &rtcp.RecvDelta{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: d})
			at += d
		case 2:
			d := int64(-1000)
			deltas = append(deltas, &rtcp.RecvDelta{Type: rtcp.TypeTCCPacketReceivedLargeDelta, Delta: d})
			at += d
		}
		if p.Received {
			p.Arrival = at
		}
		want = append(want, p)
	}
	fb.RecvDeltas = deltas
	pkt := marshal(t, fb)
	h, got, err := ParseTWCC(pkt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if h.MediaSSRC != 2 || h.BaseSeq != 65530 || h.Count != 24 || h.ReferenceTime != 1234 || h.FeedbackCount != 9 {
		t.Fatalf("header %+v", h)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("packets\n got %+v\nwant %+v", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { _, got, _ = ParseTWCC(pkt, got) }); n != 0 {
		t.Fatalf("ParseTWCC allocates %.1f times with a buffer", n)
	}
	if _, _, err := ParseTWCC(pkt[:len(pkt)-6], got); err == nil {
		t.Fatal("truncated deltas parsed")
	}
}

// FuzzRTCP reads arbitrary compound RTCP as the tap does: nothing panics,
// and a TWCC feedback that pion also reads gives the same statuses.
func FuzzRTCP(f *testing.F) {
	f.Add(marshal(f, &rtcp.TransportLayerNack{MediaSSRC: 1, Nacks: []rtcp.NackPair{{PacketID: 5, LostPackets: 3}}}, &rtcp.PictureLossIndication{MediaSSRC: 2}))
	f.Add(marshal(f, &rtcp.TransportLayerCC{MediaSSRC: 2, PacketStatusCount: 2, PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: 1, RunLength: 2}},
		RecvDeltas: []*rtcp.RecvDelta{{Type: 1, Delta: 250}, {Type: 1, Delta: 500}}}))
	f.Add(marshal(f, &rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{{SSRC: 3}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var out []TWCCPacket
		for pt, count, pkt, rest, ok := NextRTCP(b); ok; pt, count, pkt, rest, ok = NextRTCP(rest) {
			ReceptionReports(pkt, func(ReceptionReport) {})
			NACKs(pkt, func(uint16) bool { return true })
			FIRs(pkt, func(uint32) {})
			REMB(pkt)
			MediaSSRC(pkt)
			if pt != RTCPTransportFB || count != FMTTWCC {
				continue
			}
			_, mine, err := ParseTWCC(pkt, out)
			var theirs rtcp.TransportLayerCC
			if err != nil || theirs.Unmarshal(pkt) != nil {
				continue
			}
			received := 0
			for _, p := range mine {
				if p.Received {
					received++
				}
			}
			if received != len(theirs.RecvDeltas) || len(mine) != int(theirs.PacketStatusCount) {
				t.Fatalf("%d received of %d, pion: %d of %d", received, len(mine), len(theirs.RecvDeltas), theirs.PacketStatusCount)
			}
			out = mine
		}
	})
}
