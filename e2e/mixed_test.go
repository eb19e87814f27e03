package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/internal/synth"
	"github.com/prismsfu/prism/internal/testenv"
	prismrtp "github.com/prismsfu/prism/rtp"
	"github.com/prismsfu/prism/signaling/client"
)

// TestGoClientAndBrowser mixes the two kinds of client in one room: a Go
// client publishes VP8 that Chromium receives and decodes, and Chromium
// publishes its camera, of which another Go client receives a keyframe
// that parses.
//
// The Go publisher sends synth.Video's synthetic VP8, the same stream the
// load bot and examples/publish send: Chromium must decode it.
func TestGoClientAndBrowser(t *testing.T) {
	b := startBrowser(t)
	srv := testenv.StartServer(t, testenv.Options{})
	room := fmt.Sprintf("mixed-%d", time.Now().UnixNano())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	join := func(name string, cfg client.Config) *client.Client {
		t.Helper()
		return srv.Join(t, room, name, cfg)
	}

	const width, height, fps = 320, 240, 15
	video := synth.NewVideo(synth.VideoConfig{Width: width, Height: height, FPS: fps, Bitrate: 300_000})
	publisher := join("go-publisher", client.Config{OnKeyframeRequest: func(string) { video.ForceKeyframe() }})
	vp8 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	synthTrack, err := webrtc.NewTrackLocalStaticRTP(vp8, "go-synth", "go-stream")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := publisher.Publish(synthTrack, "camera"); err != nil {
		t.Fatal(err)
	}
	go func() { _ = video.Run(ctx, synth.WriteTo(synthTrack)) }()

	// A Go subscriber that waits for a VP8 keyframe from the browser (and
	// drains the publisher's tracks).
	type keyframe struct {
		from          string
		width, height int
		ok            bool
		head          []byte
	}
	keyframes := make(chan keyframe, 1)
	join("go-subscriber", client.Config{OnTrack: func(rt *client.RemoteTrack) {
		for {
			pkt, _, err := rt.ReadRTP()
			if err != nil {
				return
			}
			if rt.ParticipantID == publisher.ID() || rt.Kind() != webrtc.RTPCodecTypeVideo ||
				!prismrtp.IsKeyframe(rt.Codec().MimeType, pkt.Payload) {
				continue
			}
			w, h, ok := vp8KeyframeSize(pkt.Payload)
			k := keyframe{from: rt.ParticipantID, width: w, height: h, ok: ok, head: append([]byte(nil), pkt.Payload[:min(len(pkt.Payload), 24)]...)}
			select {
			case keyframes <- k:
			default:
			}
		}
	}})

	p := b.open(t, "Browser", pageURL(srv.HTTPURL, room, "Browser", testVideo))
	browserID := p.joined(t)

	camera := source{publisher.ID(), "camera", true}
	d := waitFlowing(t, p, []source{camera}, 15*time.Second, 0)
	t.Logf("Chromium decodes the Go client's VP8 after %v", d.Round(time.Millisecond))
	if tl := p.tiles(t)[camera.key()]; tl.Name != "go-publisher" || tl.VideoWidth != width {
		t.Errorf("the Go publisher's tile: %+v, want name go-publisher and a %d pixel wide picture", tl, width)
	}

	select {
	case k := <-keyframes:
		if k.from != browserID {
			t.Errorf("keyframe from %s, want the browser %s", k.from, browserID)
		}
		if !k.ok || k.width == 0 || k.height == 0 {
			t.Fatalf("the browser's keyframe does not parse: size %dx%d, payload starts % x", k.width, k.height, k.head)
		}
		t.Logf("the Go subscriber received a %dx%d VP8 keyframe from Chromium", k.width, k.height)
	case <-time.After(15 * time.Second):
		t.Fatal("the Go subscriber received no VP8 keyframe from the browser in 15 s")
	}
}

// vp8KeyframeSize reads the picture size from the first packet of a VP8
// keyframe: the payload descriptor (RFC 7741), then the 3-byte frame tag,
// the start code 9d 01 2a and two 14-bit sizes (RFC 6386 section 9.1).
func vp8KeyframeSize(p []byte) (width, height int, ok bool) {
	n, ok := prismrtp.VP8DescriptorLen(p)
	if !ok {
		return 0, 0, false
	}
	f := p[n:]
	if len(f) < 10 || f[0]&0x01 != 0 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0, 0, false
	}
	width = int(f[6]) | int(f[7]&0x3f)<<8
	height = int(f[8]) | int(f[9]&0x3f)<<8
	return width, height, true
}
