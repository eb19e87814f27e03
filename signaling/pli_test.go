package signaling_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/internal/testenv"
	"github.com/prismsfu/prism/signaling/client"
)

// Twenty subscribers send PLIs at once, again and again: the publisher sees
// at most one keyframe request per throttle window.
func TestPLIStormIsCoalesced(t *testing.T) {
	const window = 500 * time.Millisecond
	srv := testenv.StartServer(t, testenv.Options{KeyframeInterval: window})
	var mu sync.Mutex
	var requests []time.Time
	cfg := client.Config{OnKeyframeRequest: func(string) {
		mu.Lock()
		requests = append(requests, time.Now())
		mu.Unlock()
	}}
	pub := startPublisher(t, srv, "storm", "pub", cfg)
	var subs []*subscriber
	for i := 0; i < 20; i++ {
		subs = append(subs, startSubscriber(t, srv, "storm", fmt.Sprintf("s%d", i), clientConfig(), nil))
	}
	for i, s := range subs {
		deadline := time.Now().Add(10 * time.Second)
		for !flowing(s, 2) {
			if time.Now().After(deadline) {
				for k, r := range s.snapshot() {
					t.Logf("s%d %s: %d packets", i, k, r.packets)
				}
				t.Fatalf("s%d never received media: subscribe connection %s, publish %s, %d transceivers",
					i, s.c.SubscribeConnection().ConnectionState(), s.c.PublishConnection().ConnectionState(),
					len(s.c.SubscribeConnection().GetTransceivers()))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(window + 100*time.Millisecond) // let the joins' own requests pass

	mu.Lock()
	t.Logf("joins caused %d keyframe requests", len(requests))
	requests = nil
	mu.Unlock()
	start := time.Now()
	const storms = 10 // one every 100 ms, 20 PLIs each
	for k := 0; k < storms; k++ {
		var wg sync.WaitGroup
		for _, s := range subs {
			wg.Add(1)
			go func(s *subscriber) {
				defer wg.Done()
				pli := &rtcp.PictureLossIndication{MediaSSRC: videoSSRC(t, s.c, pub.videoID)}
				if err := s.c.SubscribeConnection().WriteRTCP([]rtcp.Packet{pli}); err != nil {
					t.Errorf("send PLI: %v", err)
				}
			}(s)
		}
		wg.Wait()
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(window + 200*time.Millisecond)
	elapsed := time.Since(start)

	mu.Lock()
	got := append([]time.Time(nil), requests...)
	mu.Unlock()
	t.Logf("%d PLIs over %v reached the publisher as %d keyframe requests", storms*len(subs), elapsed.Round(time.Millisecond), len(got))
	if len(got) == 0 {
		t.Fatal("the publisher got no keyframe request at all")
	}
	maxAllowed := int(elapsed/window) + 1
	if len(got) > maxAllowed {
		t.Errorf("publisher got %d keyframe requests in %v; at most one per %v allows %d", len(got), elapsed, window, maxAllowed)
	}
	for i := 1; i < len(got); i++ {
		// Allow for RTCP delivery jitter on the way to the publisher.
		if gap := got[i].Sub(got[i-1]); gap < window-50*time.Millisecond {
			t.Errorf("keyframe requests %d and %d only %v apart, want ≥ %v", i-1, i, gap, window)
		}
	}
}

// videoSSRC finds the SSRC under which c receives the track trackID.
func videoSSRC(t *testing.T, c *client.Client, trackID string) uint32 {
	t.Helper()
	for _, tr := range c.SubscribeConnection().GetTransceivers() {
		r := tr.Receiver()
		if r == nil || r.Track() == nil || tr.Kind() != webrtc.RTPCodecTypeVideo {
			continue
		}
		if r.Track().ID() == trackID {
			return uint32(r.Track().SSRC())
		}
	}
	t.Fatalf("no video track %s on the subscribe connection", trackID)
	return 0
}
