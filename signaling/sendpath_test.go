package signaling_test

import (
	"math"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/internal/testenv"
	"github.com/prismsfu/prism/signaling/client"
)

// Prism writes media on its own path (SRTP keys caught from the DTLS
// handshake, sent straight to its UDP socket) when it is the DTLS server,
// and through pion when a client makes it the DTLS client. Media reaches
// the subscriber either way.
func TestWritePaths(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	startPublisher(t, srv, "paths", "pub", clientConfig())

	direct := startSubscriber(t, srv, "paths", "direct", clientConfig(), nil)
	waitFor(t, 5*time.Second, "media on Prism's own path", func() bool { return flowing(direct, 2) })
	if m := srv.SFU.Stats().Transports; m["udp"] != 1 || m["pion"] != 0 {
		t.Fatalf("Prism as DTLS server: transports by mode %v, want the subscriber's on udp", m)
	}

	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true, Settings: func(se *webrtc.SettingEngine) {
		// Answer a=setup:passive: Prism becomes the DTLS client and
		// never sees the server's random, so it cannot derive keys.
		if err := se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
			t.Fatal(err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	viaPion := startSubscriber(t, srv, "paths", "via-pion", client.Config{API: api}, nil)
	waitFor(t, 5*time.Second, "media through pion", func() bool { return flowing(viaPion, 2) })
	if m := srv.SFU.Stats().Transports; m["pion"] != 1 {
		t.Errorf("Prism as DTLS client: transports by mode %v, want one through pion", m)
	}
	// Its congestion feedback reaches Prism through pion's reader, the
	// other's through the tap.
	waitFor(t, 5*time.Second, "RTCP on both paths", func() bool {
		m := srv.SFU.Stats().ByMode
		return m["pion"].TWCCFeedback > 0 && m["udp"].TWCCFeedback > 0
	})
}

// srTrack is what a subscriber saw of one track: the RTP packets'
// timestamps against their arrival, and the sender reports.
type srTrack struct {
	mu        sync.Mutex
	ssrc      uint32
	clock     uint32
	packets   uint32
	lastTS    uint32
	lastAt    time.Time
	reports   []*rtcp.SenderReport
	predicted []float64 // SR RTP time minus the time predicted from RTP, in ms
}

// Every forwarded track carries RTCP sender reports whose RTP time maps to
// wall-clock time the way the stream's own timestamps do: a subscriber
// needs this to keep audio and video in sync.
func TestSenderReports(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	startPublisher(t, srv, "sr", "pub", clientConfig())

	var mu sync.Mutex
	tracks := map[string]*srTrack{}
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	srv.Join(t, "sr", "sub", client.Config{OnTrack: func(rt *client.RemoteTrack) {
		tr := &srTrack{ssrc: uint32(rt.SSRC()), clock: rt.Codec().ClockRate}
		mu.Lock()
		tracks[rt.Kind().String()] = tr
		mu.Unlock()
		go readReports(rt.Receiver, tr)
		var pkt pionrtp.Packet
		buf := make([]byte, 1500)
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
			tr.lastTS, tr.lastAt = pkt.Timestamp, time.Now()
			tr.mu.Unlock()
		}
	}})

	waitFor(t, 8*time.Second, "three sender reports on each track", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(tracks) < 2 {
			return false
		}
		for _, tr := range tracks {
			tr.mu.Lock()
			n := len(tr.reports)
			tr.mu.Unlock()
			if n < 3 {
				return false
			}
		}
		return true
	})
	mu.Lock()
	defer mu.Unlock()
	for kind, tr := range tracks {
		tr.mu.Lock()
		for i, sr := range tr.reports {
			if sr.SSRC != tr.ssrc {
				t.Errorf("%s: report for SSRC %d, track is %d", kind, sr.SSRC, tr.ssrc)
			}
			if i > 0 && sr.PacketCount <= tr.reports[i-1].PacketCount {
				t.Errorf("%s: packet count %d after %d, want growth", kind, sr.PacketCount, tr.reports[i-1].PacketCount)
			}
			if sr.PacketCount == 0 || sr.PacketCount > tr.packets {
				t.Errorf("%s: report counts %d packets, subscriber has received %d", kind, sr.PacketCount, tr.packets)
			}
		}
		for _, off := range tr.predicted {
			// The report's time is when the packet reached Prism; the
			// subscriber's is when it arrived here: a few ms apart.
			if math.Abs(off) > 25 {
				t.Errorf("%s: report RTP time is %.1f ms off the stream's clock", kind, off)
			}
		}
		t.Logf("%s: %d reports, offsets from the stream's clock (ms): %.1f", kind, len(tr.reports), tr.predicted)
		tr.mu.Unlock()
	}
}

// readReports records the sender reports for tr and how far each report's
// RTP time is from the one the last received packet predicts.
func readReports(r *webrtc.RTPReceiver, tr *srTrack) {
	for {
		pkts, _, err := r.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			sr, ok := p.(*rtcp.SenderReport)
			if !ok {
				continue
			}
			at := ntpToTime(sr.NTPTime)
			tr.mu.Lock()
			tr.reports = append(tr.reports, sr)
			if !tr.lastAt.IsZero() {
				want := float64(tr.lastTS) + at.Sub(tr.lastAt).Seconds()*float64(tr.clock)
				diff := float64(int32(sr.RTPTime - uint32(int64(want))))
				tr.predicted = append(tr.predicted, diff*1000/float64(tr.clock))
			}
			tr.mu.Unlock()
		}
	}
}

func ntpToTime(ntp uint64) time.Time {
	const unixToNTP = 2208988800
	secs := int64(ntp>>32) - unixToNTP
	nanos := int64((ntp & 0xffffffff) * 1e9 >> 32)
	return time.Unix(secs, nanos)
}
