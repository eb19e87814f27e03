package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

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
// The Go publisher sends two video tracks. The "screen" track is
// synth.Video's synthetic VP8: its packets carry measurement stamps where
// a decoder expects coded data, so Chromium receives and assembles its
// frames but libvpx cannot decode them; the test checks that the frames
// arrive and logs how many decoded. The "camera" track is blank VP8 that
// any decoder accepts (see blankVP8Frame); Chromium must decode it.
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
	forceKey := make(chan struct{}, 1)
	publisher := join("go-publisher", client.Config{OnKeyframeRequest: func(id string) {
		if id == "go-synth" {
			video.ForceKeyframe()
			return
		}
		select {
		case forceKey <- struct{}{}:
		default:
		}
	}})

	vp8 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	synthTrack, err := webrtc.NewTrackLocalStaticRTP(vp8, "go-synth", "go-stream")
	if err != nil {
		t.Fatal(err)
	}
	blankTrack, err := webrtc.NewTrackLocalStaticSample(vp8, "go-blank", "go-stream")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := publisher.Publish(blankTrack, "camera"); err != nil {
		t.Fatal(err)
	}
	if _, err := publisher.Publish(synthTrack, "screen"); err != nil {
		t.Fatal(err)
	}
	go func() { _ = video.Run(ctx, synth.WriteTo(synthTrack)) }()
	go func() {
		tick := time.NewTicker(time.Second / fps)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			key := i%(2*fps) == 0
			select {
			case <-forceKey:
				key = true
			default:
			}
			_ = blankTrack.WriteSample(media.Sample{Data: blankVP8Frame(key, width, height), Duration: time.Second / fps})
		}
	}()

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

	// The synthetic stream: packets and assembled frames keep arriving.
	screen := publisher.ID() + ":screen"
	prev := p.media(t)[screen]
	waitUntil(t, 10*time.Second, 500*time.Millisecond, "Chromium receives synth's VP8 frames", func() string {
		cur := p.media(t)[screen]
		defer func() { prev = cur }()
		if cur.Packets <= prev.Packets || cur.Received <= prev.Received {
			return fmt.Sprintf("packets %d -> %d, frames received %d -> %d", prev.Packets, cur.Packets, prev.Received, cur.Received)
		}
		return ""
	})
	t.Logf("synth's VP8 in Chromium: %d packets, %d frames received, %d decoded", prev.Packets, prev.Received, prev.Frames)

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

// blankVP8Frame returns a VP8 frame (RFC 6386) of a flat grey picture that
// every decoder accepts: a frame tag (and, for a keyframe, the start code
// and size) followed by zero bytes. A boolean decoder that reads only zero
// bytes decodes every flag and every tree branch as 0, whatever its
// probabilities, so the header asks for no segmentation, no loop filter,
// one token partition and no probability updates, each macroblock is
// intra-predicted with DC prediction, and every block's first token is
// end-of-block. The zero runs are longer than a 320x240 frame needs, so
// the decoder never reads past them.
func blankVP8Frame(key bool, width, height int) []byte {
	const firstPartition, tokenPartition = 4096, 2048
	header := 3
	if key {
		header = 10
	}
	b := make([]byte, header+firstPartition+tokenPartition)
	tag := uint32(firstPartition)<<5 | 0x10 // show_frame, version 0
	if !key {
		tag |= 0x01 // inter frame
	}
	b[0], b[1], b[2] = byte(tag), byte(tag>>8), byte(tag>>16)
	if key {
		b[3], b[4], b[5] = 0x9d, 0x01, 0x2a
		b[6], b[7] = byte(width), byte(width>>8&0x3f)
		b[8], b[9] = byte(height), byte(height>>8&0x3f)
	}
	return b
}
