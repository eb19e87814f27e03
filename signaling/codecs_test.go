package signaling_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/internal/testenv"
	prtp "github.com/prismsfu/prism/rtp"
	"github.com/prismsfu/prism/signaling/client"
)

// Every video codec Prism negotiates is forwarded: the subscriber gets the
// publisher's codec, and its first packet is a keyframe, byte for byte.
func TestVideoCodecsForwarded(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	for _, tc := range []struct {
		cap        webrtc.RTPCodecCapability
		key, delta []byte
	}{
		{webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
			[]byte{0x65, 0x88, 0x84, 0x00}, []byte{0x41, 0x9a, 0x02, 0x00}},
		{webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0"},
			[]byte{0x0c, 0x82, 0x49, 0x83}, []byte{0x4c, 0x86, 0x00, 0x40}},
		{webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeAV1, ClockRate: 90000},
			[]byte{0x18, 0x0a, 0x0b, 0x00}, []byte{0x10, 0x32, 0x00, 0x10}},
	} {
		t.Run(tc.cap.MimeType, func(t *testing.T) {
			room := "codec-" + tc.cap.MimeType[6:]
			var forceKey atomic.Bool
			pub := srv.Join(t, room, "pub", client.Config{OnKeyframeRequest: func(string) { forceKey.Store(true) }})
			track, err := webrtc.NewTrackLocalStaticRTP(tc.cap, "v", "pub")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pub.Publish(track, "camera"); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				sendFrames(ctx, track, tc.key, tc.delta, &forceKey)
			}()
			defer func() { cancel(); wg.Wait() }()

			var mu sync.Mutex
			var mime string
			var first []byte
			got := make(chan struct{})
			srv.Join(t, room, "sub", client.Config{OnTrack: func(rt *client.RemoteTrack) {
				var p pionrtp.Packet
				buf := make([]byte, 1500)
				n, _, err := rt.Read(buf)
				if err != nil || p.Unmarshal(buf[:n]) != nil {
					return
				}
				mu.Lock()
				mime, first = rt.Codec().MimeType, append([]byte(nil), p.Payload...)
				mu.Unlock()
				close(got)
				drainTrack(rt)
			}})
			joined := time.Now()
			select {
			case <-got:
				d := time.Since(joined)
				t.Logf("first packet %v after the subscriber joined", d.Round(time.Millisecond))
				if d > time.Second {
					t.Errorf("first packet took %v, want under 1s", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no packet arrived")
			}
			mu.Lock()
			defer mu.Unlock()
			if mime != tc.cap.MimeType {
				t.Errorf("subscriber got %s, want %s", mime, tc.cap.MimeType)
			}
			if !prtp.IsKeyframe(mime, first) || !bytes.HasPrefix(first, tc.key) {
				t.Errorf("first packet %x is not the keyframe %x", first, tc.key)
			}
		})
	}
}

// sendFrames sends one-packet frames at 30 fps, a keyframe every 30 and
// whenever forceKey is set.
func sendFrames(ctx context.Context, track *webrtc.TrackLocalStaticRTP, key, delta []byte, forceKey *atomic.Bool) {
	tick := time.NewTicker(33 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		payload := delta
		if i%30 == 0 || forceKey.Swap(false) {
			payload = key
		}
		p := &pionrtp.Packet{Header: pionrtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 3000), Marker: true},
			Payload: append(append([]byte(nil), payload...), make([]byte, 200)...)}
		if err := track.WriteRTP(p); err != nil {
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

func drainTrack(rt *client.RemoteTrack) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := rt.Read(buf); err != nil {
			return
		}
	}
}
