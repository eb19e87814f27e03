package signaling_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/internal/testenv"
	"github.com/prismsfu/prism/signaling/client"
)

// lossy is an interceptor that drops every nth video RTP packet, incoming
// or outgoing, and counts the NACKs and PLIs that arrive. Registered first,
// it sits nearest the network: the NACK machinery above it sees the loss.
type lossy struct {
	interceptor.NoOp
	every    int64 // drop every nth video packet; 0 keeps all
	incoming bool  // drop on receive rather than on send
	seen     atomic.Int64
	dropped  atomic.Int64
	nacksIn  atomic.Int64
	plisIn   atomic.Int64
}

func (l *lossy) factory() func(*interceptor.Registry) error {
	return func(r *interceptor.Registry) error {
		r.Add(lossyFactory{l})
		return nil
	}
}

type lossyFactory struct{ l *lossy }

func (f lossyFactory) NewInterceptor(string) (interceptor.Interceptor, error) { return f.l, nil }

func (l *lossy) drop(info *interceptor.StreamInfo) bool {
	if l.every == 0 || !strings.HasPrefix(info.MimeType, "video/") {
		return false
	}
	return l.seen.Add(1)%l.every == 0
}

func (l *lossy) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	if !l.incoming {
		return reader
	}
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attr, err := reader.Read(b, a)
			if err != nil || !l.drop(info) {
				return n, attr, err
			}
			l.dropped.Add(1)
		}
	})
}

func (l *lossy) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	if l.incoming {
		return writer
	}
	return interceptor.RTPWriterFunc(func(h *pionrtp.Header, p []byte, a interceptor.Attributes) (int, error) {
		if l.drop(info) {
			l.dropped.Add(1)
			return len(p), nil
		}
		return writer.Write(h, p, a)
	})
}

func (l *lossy) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attr, err := reader.Read(b, a)
		if err == nil {
			if pkts, perr := rtcp.Unmarshal(b[:n]); perr == nil {
				for _, p := range pkts {
					switch p.(type) {
					case *rtcp.TransportLayerNack:
						l.nacksIn.Add(1)
					case *rtcp.PictureLossIndication:
						l.plisIn.Add(1)
					}
				}
			}
		}
		return n, attr, err
	})
}

func lossyAPI(t *testing.T, l *lossy) client.Config {
	t.Helper()
	// The injector drops packets after SRTP has seen them; real loss happens
	// before. Without replay protection SRTP accepts the retransmission
	// of a packet it saw, as it would one lost on the wire.
	api, err := client.NewAPI(client.APIOptions{
		LoopbackOnly: true, Interceptors: l.factory(),
		Settings: func(se *webrtc.SettingEngine) { se.DisableSRTPReplayProtection(true) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return client.Config{API: api}
}

// videoLoss returns the fraction of video packets, by stamp sequence, that
// never arrived at s, ignoring the last few that may still be in flight.
func videoLoss(s *subscriber) (lost, total int) {
	for _, r := range s.snapshot() {
		if !strings.HasPrefix(r.mime, "video/") {
			continue
		}
		var lo, hi uint64 = ^uint64(0), 0
		for seq := range r.seen {
			lo, hi = min(lo, seq), max(hi, seq)
		}
		hi -= 30
		for seq := lo; seq <= hi; seq++ {
			total++
			if !r.seen[seq] {
				lost++
			}
		}
	}
	return lost, total
}

// 5% loss between Prism and one subscriber is repaired from Prism's cache:
// the subscriber loses under 0.5% end to end and the publisher is never
// asked.
func TestNACKFromSubscriberServedFromCache(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	pubLoss := &lossy{}
	pub := startPublisher(t, srv, "nack", "pub", lossyAPI(t, pubLoss))
	subLoss := &lossy{every: 20, incoming: true}
	sub := startSubscriber(t, srv, "nack", "sub", lossyAPI(t, subLoss), nil)
	waitFor(t, 5*time.Second, "media to flow", func() bool { return flowing(sub, 2) })
	time.Sleep(4 * time.Second)
	pub.stop()
	time.Sleep(300 * time.Millisecond)

	lost, total := videoLoss(sub)
	t.Logf("injected %d drops of %d video packets; end-to-end lost %d of %d; publisher got %d NACKs",
		subLoss.dropped.Load(), subLoss.seen.Load(), lost, total, pubLoss.nacksIn.Load())
	if subLoss.dropped.Load() < 3 {
		t.Fatalf("loss injector dropped only %d packets", subLoss.dropped.Load())
	}
	if float64(lost) > 0.005*float64(total) {
		t.Errorf("end-to-end loss %d of %d (%.2f%%), want under 0.5%%", lost, total, 100*float64(lost)/float64(total))
	}
	if n := pubLoss.nacksIn.Load(); n != 0 {
		t.Errorf("publisher received %d NACKs; the subscriber's loss should be repaired from Prism's cache", n)
	}
}

// 5% loss between the publisher and Prism is repaired by Prism's NACKs to
// the publisher.
func TestNACKToPublisherRepairsUpstreamLoss(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	pubLoss := &lossy{every: 20}
	pub := startPublisher(t, srv, "nack-up", "pub", lossyAPI(t, pubLoss))
	sub := startSubscriber(t, srv, "nack-up", "sub", clientConfig(), nil)
	waitFor(t, 5*time.Second, "media to flow", func() bool { return flowing(sub, 2) })
	time.Sleep(4 * time.Second)
	pub.stop()
	time.Sleep(300 * time.Millisecond)

	lost, total := videoLoss(sub)
	t.Logf("publisher dropped %d of %d video packets; got %d NACKs; subscriber lost %d of %d",
		pubLoss.dropped.Load(), pubLoss.seen.Load(), pubLoss.nacksIn.Load(), lost, total)
	if pubLoss.nacksIn.Load() == 0 {
		t.Fatal("Prism sent the publisher no NACKs")
	}
	if float64(lost) > 0.005*float64(total) {
		t.Errorf("end-to-end loss %d of %d (%.2f%%), want under 0.5%%", lost, total, 100*float64(lost)/float64(total))
	}
}
