package signaling_test

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"

	"github.com/prismsfu/prism/internal/synth"
	"github.com/prismsfu/prism/internal/testenv"
	"github.com/prismsfu/prism/signaling/client"
)

// clockPoint is one sender report's mapping: RTP time rtp at NTP time ntp.
type clockPoint struct {
	ntp float64 // seconds
	rtp uint32
}

// srSpy records the sender reports a publisher sends, by SSRC: it sits
// nearest the network in the publisher's interceptor chain.
type srSpy struct {
	interceptor.NoOp
	mu  sync.Mutex
	srs map[uint32][]clockPoint
}

func (s *srSpy) NewInterceptor(string) (interceptor.Interceptor, error) { return s, nil }

func (s *srSpy) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, a interceptor.Attributes) (int, error) {
		for _, p := range pkts {
			if sr, ok := p.(*rtcp.SenderReport); ok {
				s.mu.Lock()
				s.srs[sr.SSRC] = append(s.srs[sr.SSRC], clockPoint{ntpSeconds(sr.NTPTime), sr.RTPTime})
				s.mu.Unlock()
			}
		}
		return w.Write(pkts, a)
	})
}

func ntpSeconds(ntp uint64) float64 { return float64(ntp>>32) + float64(ntp&0xffffffff)/(1<<32) }

// A subscriber syncs one publisher's audio and video from the sender
// reports it receives. Every forwarded track carries them, for its own
// SSRC, with packet counts that grow and never exceed what arrived; and
// they map RTP to NTP time as the publisher's own reports do (once the
// down-track's timestamp offset is taken off), within a few milliseconds,
// for audio and video alike: then the two play in sync, as the publisher
// timed them.
func TestSenderReportsKeepThePublishersSync(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	spy := &srSpy{srs: map[uint32][]clockPoint{}}
	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true, Interceptors: func(r *interceptor.Registry) error {
		r.Add(spy)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	pub := startPublisher(t, srv, "sync", "pub", client.Config{API: api})

	type track struct {
		mu      sync.Mutex
		kind    string
		ssrc    uint32
		clock   float64
		offset  uint32 // received RTP time minus sent, from the stamps
		haveOff bool
		packets uint32
		srs     []clockPoint
		bad     []string // what was wrong with a report
		count   uint32   // the last report's packet count
	}
	var mu sync.Mutex
	tracks := map[string]*track{}
	srv.Join(t, "sync", "sub", client.Config{OnTrack: func(rt *client.RemoteTrack) {
		tr := &track{kind: rt.Kind().String(), ssrc: uint32(rt.SSRC()), clock: float64(rt.Codec().ClockRate)}
		mu.Lock()
		tracks[tr.kind] = tr
		mu.Unlock()
		go func() {
			for {
				pkts, _, err := rt.Receiver.ReadRTCP()
				if err != nil {
					return
				}
				for _, p := range pkts {
					if sr, ok := p.(*rtcp.SenderReport); ok {
						tr.mu.Lock()
						tr.srs = append(tr.srs, clockPoint{ntpSeconds(sr.NTPTime), sr.RTPTime})
						switch {
						case sr.SSRC != tr.ssrc:
							tr.bad = append(tr.bad, "a report for another SSRC")
						case sr.PacketCount <= tr.count || sr.PacketCount > tr.packets:
							tr.bad = append(tr.bad, fmt.Sprintf("packet count %d after %d, with %d received", sr.PacketCount, tr.count, tr.packets))
						}
						tr.count = sr.PacketCount
						tr.mu.Unlock()
					}
				}
			}
		}()
		log := pub.videoLog
		if tr.kind == "audio" {
			log = pub.audioLog
		}
		buf := make([]byte, 1500)
		var pkt pionrtp.Packet
		for {
			n, _, err := rt.Read(buf)
			if err != nil {
				return
			}
			if pkt.Unmarshal(buf[:n]) != nil {
				continue
			}
			tr.mu.Lock()
			tr.packets++
			tr.mu.Unlock()
			if _, seq, ok := synth.ParseStamp(rt.Codec().MimeType, pkt.Payload); ok {
				if sent, ok := log.timestamp(seq); ok {
					tr.mu.Lock()
					tr.offset, tr.haveOff = pkt.Timestamp-sent, true
					tr.mu.Unlock()
				}
			}
		}
	}})

	waitFor(t, 10*time.Second, "four sender reports on each track", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(tracks) < 2 {
			return false
		}
		for _, tr := range tracks {
			tr.mu.Lock()
			n, ok := len(tr.srs), tr.haveOff
			tr.mu.Unlock()
			if n < 4 || !ok {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	spy.mu.Lock()
	defer spy.mu.Unlock()
	ssrcs := map[string]uint32{"video": pub.videoSSRC(), "audio": pub.audioSSRC()}
	for kind, tr := range tracks {
		tr.mu.Lock()
		if len(tr.bad) > 0 {
			t.Errorf("%s: %v", kind, tr.bad)
		}
		theirs := spy.srs[ssrcs[kind]]
		if len(theirs) == 0 {
			t.Fatalf("%s: the publisher sent no sender reports", kind)
		}
		var worst float64
		for _, sr := range tr.srs[1:] {
			// The publisher's report last sent before this one, and the NTP
			// time it gives the same instant.
			ref := theirs[0]
			for _, p := range theirs {
				if p.ntp <= sr.ntp {
					ref = p
				}
			}
			rtpAtPublisher := sr.rtp - tr.offset
			want := ref.ntp + float64(int32(rtpAtPublisher-ref.rtp))/tr.clock
			worst = math.Max(worst, math.Abs(want-sr.ntp))
		}
		t.Logf("%s: %d reports, at most %.2f ms from the publisher's mapping", kind, len(tr.srs), worst*1000)
		if worst > 0.005 {
			t.Errorf("%s: a subscriber's sender report is %.1f ms off the publisher's own mapping", kind, worst*1000)
		}
		tr.mu.Unlock()
	}
}
