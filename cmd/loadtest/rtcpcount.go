package main

import (
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// rtcpCounter is an interceptor that counts the NACKs and PLIs the bot's
// peer connections send, and notices when a published track's sender first
// carries a packet. It sits first in the chain, nearest
// the network, so it sees what pion's NACK generator and the client library
// write.
type rtcpCounter struct {
	interceptor.NoOp
	st *stats
}

type rtcpCounterFactory struct{ st *stats }

func (f rtcpCounterFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &rtcpCounter{st: f.st}, nil
}

// BindLocalStream is called when a sender starts; the first packet written
// through it marks the track bound (see stats.streamFlowing).
func (c *rtcpCounter) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	ssrc := info.SSRC
	var flowing atomic.Bool
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, attrs interceptor.Attributes) (int, error) {
		n, err := w.Write(h, payload, attrs)
		if err == nil && !flowing.Load() {
			flowing.Store(true)
			c.st.streamFlowing(ssrc)
		}
		return n, err
	})
}

func (c *rtcpCounter) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, attrs interceptor.Attributes) (int, error) {
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.TransportLayerNack:
				c.st.nacksSent.Add(1)
				var n uint64
				for _, pair := range p.Nacks {
					n += uint64(len(pair.PacketList()))
				}
				c.st.nackedSeqs.Add(n)
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				c.st.plisSent.Add(1)
			}
		}
		return w.Write(pkts, attrs)
	})
}
