package e2e

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/prismsfu/prism/internal/synth"
	"github.com/prismsfu/prism/internal/testenv"
	prismrtp "github.com/prismsfu/prism/rtp"
	"github.com/prismsfu/prism/sfu"
	"github.com/prismsfu/prism/signaling/client"
)

// The picture sizes each side sends: the Go publisher's synthetic VP8
// announces goWidth×goHeight in its keyframes, and aiortc encodes its
// pattern at aiortcWidth×aiortcHeight.
const (
	goWidth, goHeight         = 320, 240
	aiortcWidth, aiortcHeight = 352, 288
)

// transportCC is the transport-wide sequence number extension.
const transportCC = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

// TestAiortcInterop proves that Prism works with aiortc, a WebRTC stack
// written apart from pion and Chromium (Python, OpenSSL's DTLS, libsrtp,
// libvpx), in one room with a Go publisher and a Go subscriber:
//
//   - aiortc decodes the Go publisher's synthetic VP8 (frames decoded grow
//     past 30, at the size its keyframes announce) and receives its Opus;
//   - a Go subscriber receives aiortc's VP8, starting with a keyframe of
//     the size aiortc encodes, and its Opus;
//   - Prism's subscribe transport toward aiortc runs in the mode the DTLS
//     roles call for: on publish aiortc offers and Prism answers as the
//     DTLS server; on subscribe Prism offers actpass and aiortc chooses, and
//     when aiortc is the DTLS client Prism holds the SRTP keys and writes
//     on its own UDP path ("udp"), else through pion ("pion");
//   - Prism refuses nothing aiortc sends (no error message reaches it), and
//     aiortc exits cleanly on SIGTERM.
func TestAiortcInterop(t *testing.T) {
	python, version := aiortcPython(t)
	t.Logf("aiortc %s on %s", version, python)
	srv := testenv.StartServer(t, testenv.Options{Logger: aiortcTestLogger(t)})
	room := fmt.Sprintf("aiortc-%d", time.Now().UnixNano())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	publisher := startGoPublisher(t, ctx, srv, room)
	sub := newGoSubscriber()
	srv.Join(t, room, "go-subscriber", client.Config{OnTrack: sub.onTrack})
	// Let the publisher's tracks flow first, so that aiortc's first
	// subscribe offer carries both.
	waitUntil(t, 10*time.Second, 50*time.Millisecond, "the Go subscriber receives the Go publisher", func() string {
		return sub.missing(publisher.ID(), "go-camera", "go-microphone")
	})

	ai := startAiortc(t, python, srv.WSURL, room,
		"--width", fmt.Sprint(aiortcWidth), "--height", fmt.Sprint(aiortcHeight))
	aiID := ai.waitJoined(t)
	t.Logf("aiortc joined as %s; the Go publisher is %s", aiID, publisher.ID())

	t.Run("DecodesGoPublisher", func(t *testing.T) { checkAiortcDecodes(t, ai, publisher.ID()) })
	t.Run("PublishesToGoSubscriber", func(t *testing.T) { checkGoReceivesAiortc(t, sub, aiID) })
	t.Run("SubscribeTransport", func(t *testing.T) { checkSubscribeTransport(t, ai, srv.SFU) })
	t.Run("CleanExit", func(t *testing.T) { checkAiortcExit(t, ai) })
}

// aiortcTestLogger is Prism's logger for the test: warnings, or everything
// with PRISM_AIORTC_DEBUG=1 (which also turns on aiortc's debug logs).
func aiortcTestLogger(t *testing.T) *zap.Logger {
	level := zap.WarnLevel
	if os.Getenv("PRISM_AIORTC_DEBUG") == "1" {
		level = zap.DebugLevel
	}
	return zaptest.NewLogger(t, zaptest.Level(level))
}

// startGoPublisher joins a Go client that publishes synthetic VP8 and
// Opus until ctx ends, and answers keyframe requests.
func startGoPublisher(t *testing.T, ctx context.Context, srv *testenv.Server, room string) *client.Client {
	t.Helper()
	video := synth.NewVideo(synth.VideoConfig{Width: goWidth, Height: goHeight, FPS: 30, Bitrate: 300_000})
	c := srv.Join(t, room, "go-publisher", client.Config{OnKeyframeRequest: func(string) { video.ForceKeyframe() }})
	vp8 := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	opus := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	vt := publishStatic(t, c, vp8, "go-camera", "camera")
	at := publishStatic(t, c, opus, "go-microphone", "microphone")
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = video.Run(ctx, synth.WriteTo(vt)) }()
	go func() { defer wg.Done(); _ = synth.NewAudio().Run(ctx, synth.WriteTo(at)) }()
	t.Cleanup(wg.Wait) // runs after the test's cancel
	return c
}

// publishStatic publishes a TrackLocalStaticRTP of the given codec.
func publishStatic(t *testing.T, c *client.Client, codec webrtc.RTPCodecCapability, id, source string) *webrtc.TrackLocalStaticRTP {
	t.Helper()
	tr, err := webrtc.NewTrackLocalStaticRTP(codec, id, "go-stream")
	if err != nil {
		t.Fatalf("track %s: %v", id, err)
	}
	if _, err := c.Publish(tr, source); err != nil {
		t.Fatalf("publish %s: %v", id, err)
	}
	return tr
}

// ---- the Go subscriber ----

// goSubscriber counts what a Go client receives on each remote track and
// keeps the first VP8 keyframe of each video track.
type goSubscriber struct {
	mu     sync.Mutex
	tracks map[string]*goReceived // by participant id + "/" + track id
}

type goReceived struct {
	kind, codec   string
	packets       int
	keyframeAt    int // packets before the first keyframe, -1 if none yet
	width, height int // from the first keyframe
	head          []byte
}

func newGoSubscriber() *goSubscriber {
	return &goSubscriber{tracks: map[string]*goReceived{}}
}

// onTrack is client.Config.OnTrack: it reads the track to its end.
func (s *goSubscriber) onTrack(rt *client.RemoteTrack) {
	r := &goReceived{kind: rt.Kind().String(), codec: rt.Codec().MimeType, keyframeAt: -1}
	s.mu.Lock()
	s.tracks[rt.ParticipantID+"/"+rt.ID()] = r
	s.mu.Unlock()
	for {
		pkt, _, err := rt.ReadRTP()
		if err != nil {
			return
		}
		s.mu.Lock()
		r.packets++
		if r.keyframeAt < 0 && rt.Kind() == webrtc.RTPCodecTypeVideo && prismrtp.IsKeyframe(r.codec, pkt.Payload) {
			r.keyframeAt = r.packets - 1
			r.width, r.height, _ = vp8KeyframeSize(pkt.Payload)
			r.head = append([]byte(nil), pkt.Payload[:min(len(pkt.Payload), 24)]...)
		}
		s.mu.Unlock()
	}
}

// get returns a copy of what arrived on a track, if it has arrived.
func (s *goSubscriber) get(participant, track string) (goReceived, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.tracks[participant+"/"+track]
	if !ok {
		return goReceived{}, false
	}
	return *r, true
}

// missing says which of a participant's tracks have not delivered a packet.
func (s *goSubscriber) missing(participant string, tracks ...string) string {
	var out []string
	for _, id := range tracks {
		if r, ok := s.get(participant, id); !ok || r.packets == 0 {
			out = append(out, id)
		}
	}
	if len(out) == 0 {
		return ""
	}
	return "nothing yet on " + strings.Join(out, ", ")
}

// ---- the checks ----

// waitJoined waits for aiortc's "joined" line and returns its participant id.
func (c *aiortcClient) waitJoined(t *testing.T) string {
	t.Helper()
	var id string
	waitUntil(t, 20*time.Second, 50*time.Millisecond, "aiortc joins", func() string {
		id, _, _, _, _ = c.snapshot()
		if id != "" {
			return ""
		}
		if e := c.exited(); e != "" {
			t.Fatal(e)
		}
		return "no joined line yet"
	})
	return id
}

// checkAiortcDecodes waits until aiortc has decoded more than 30 frames of
// the Go publisher's VP8 at its size and received its Opus.
func checkAiortcDecodes(t *testing.T, ai *aiortcClient, publisher string) {
	var video, audio aiortcInbound
	d := waitUntil(t, 20*time.Second, 200*time.Millisecond, "aiortc decodes the Go publisher", func() string {
		if e := ai.exited(); e != "" {
			t.Fatal(e)
		}
		_, st, _, _, _ := ai.snapshot()
		var ok bool
		if video, ok = findInbound(st.Received, publisher, "go-camera"); !ok {
			return fmt.Sprintf("no media section for go-camera at t=%.1fs: %+v", st.T, st.Received)
		}
		audio, _ = findInbound(st.Received, publisher, "go-microphone")
		switch {
		case video.FramesDecoded <= 30:
			return fmt.Sprintf("video: %d frames decoded of %d packets", video.FramesDecoded, video.Packets)
		case audio.Packets < 50:
			return fmt.Sprintf("audio: %d packets", audio.Packets)
		}
		return ""
	})
	t.Logf("after %v aiortc has decoded %d frames (%dx%d, %s) of %d packets, and %d audio packets (%s, %d frames decoded at %d Hz)",
		d.Round(time.Millisecond), video.FramesDecoded, video.Width, video.Height, video.Codec, video.Packets,
		audio.Packets, audio.Codec, audio.FramesDecoded, audio.SampleRate)
	if video.Width != goWidth || video.Height != goHeight || video.Codec != "video/VP8" {
		t.Errorf("aiortc decodes the Go publisher's video as %s %dx%d, want video/VP8 %dx%d", video.Codec, video.Width, video.Height, goWidth, goHeight)
	}
	if audio.Codec != "audio/opus" {
		t.Errorf("aiortc receives the Go publisher's audio as %q, want audio/opus", audio.Codec)
	}
}

func findInbound(list []aiortcInbound, participant, track string) (aiortcInbound, bool) {
	i := slices.IndexFunc(list, func(in aiortcInbound) bool { return in.ParticipantID == participant && in.TrackID == track })
	if i < 0 {
		return aiortcInbound{}, false
	}
	return list[i], true
}

// checkGoReceivesAiortc waits until the Go subscriber has a VP8 keyframe
// of aiortc's size from aiortc's camera and Opus from its microphone.
func checkGoReceivesAiortc(t *testing.T, sub *goSubscriber, aiID string) {
	var video, audio goReceived
	d := waitUntil(t, 20*time.Second, 100*time.Millisecond, "the Go subscriber receives aiortc", func() string {
		var ok bool
		if video, ok = sub.get(aiID, "aiortc-camera"); !ok || video.keyframeAt < 0 {
			return fmt.Sprintf("no VP8 keyframe from aiortc-camera yet (%d packets)", video.packets)
		}
		if audio, ok = sub.get(aiID, "aiortc-microphone"); !ok || audio.packets < 50 {
			return fmt.Sprintf("%d packets from aiortc-microphone", audio.packets)
		}
		return ""
	})
	t.Logf("after %v the Go subscriber has %d video packets (%s; a %dx%d keyframe after %d packets) and %d audio packets (%s) from aiortc",
		d.Round(time.Millisecond), video.packets, video.codec, video.width, video.height, video.keyframeAt, audio.packets, audio.codec)
	if video.codec != webrtc.MimeTypeVP8 || audio.codec != webrtc.MimeTypeOpus {
		t.Errorf("codecs from aiortc: %s and %s, want %s and %s", video.codec, audio.codec, webrtc.MimeTypeVP8, webrtc.MimeTypeOpus)
	}
	if video.width != aiortcWidth || video.height != aiortcHeight {
		t.Errorf("aiortc's keyframe is %dx%d (payload starts % x), want %dx%d", video.width, video.height, video.head, aiortcWidth, aiortcHeight)
	}
	if video.keyframeAt != 0 {
		t.Errorf("aiortc's video reached the Go subscriber with %d packets before the first keyframe; Prism should start it at a keyframe", video.keyframeAt)
	}
}

// checkSubscribeTransport finds Prism's transport toward aiortc's
// subscribe connection and checks the mode its DTLS role calls for.
func checkSubscribeTransport(t *testing.T, ai *aiortcClient, s *sfu.SFU) {
	var sub, pub aiortcTransport
	var neg map[string]aiortcNegotiation
	waitUntil(t, 10*time.Second, 100*time.Millisecond, "aiortc's connections connect", func() string {
		_, _, conn, n, _ := ai.snapshot()
		var ok1, ok2 bool
		sub, ok1 = conn["subscribe"]
		pub, ok2 = conn["publish"]
		neg = n
		if !ok1 || !ok2 {
			return fmt.Sprintf("connected: %v", conn)
		}
		return ""
	})
	logNegotiation(t, neg, pub, sub)
	checkPublishRoles(t, neg["publish"], pub)

	// aiortc chose its role on subscribe; Prism is the other one.
	want := map[string]string{"active": "udp", "passive": "pion"}[neg["subscribe"].LocalSetup]
	if want == "" {
		t.Fatalf("aiortc answered Prism's subscribe offer (setup:%s) with setup:%q", neg["subscribe"].RemoteSetup, neg["subscribe"].LocalSetup)
	}
	var tr sfu.TransportStats
	waitUntil(t, 10*time.Second, 100*time.Millisecond, "Prism's transport toward aiortc sends", func() string {
		var ok bool
		if tr, ok = transportTo(s.Stats(), sub.LocalCandidates); !ok {
			return fmt.Sprintf("no transport routed to %v in %+v", sub.LocalCandidates, s.Stats().Each)
		}
		if tr.Sent < 100 {
			return fmt.Sprintf("%+v", tr)
		}
		return ""
	})
	t.Logf("Prism's subscribe transport toward aiortc: mode %q (aiortc answered setup:%s, so Prism is the DTLS %s), route %s, %d sent, %d dropped, %d NACKs, %d retransmits, %d keyframe requests, REMB %d bit/s, %d TWCC feedback",
		tr.Mode, neg["subscribe"].LocalSetup, map[string]string{"udp": "server", "pion": "client"}[want], tr.Route,
		tr.Sent, tr.Dropped, tr.NACKs, tr.Retransmits, tr.KeyframeRequests, tr.REMB, tr.TWCCFeedback)
	if tr.Mode != want {
		t.Errorf("Prism's transport toward aiortc is in mode %q; aiortc answered setup:%s, so it should be %q", tr.Mode, neg["subscribe"].LocalSetup, want)
	}
	if sub.SRTPProfile == "" || strings.HasPrefix(sub.SRTPProfile, "unknown") {
		t.Errorf("aiortc's subscribe SRTP profile is unknown: %q", sub.SRTPProfile)
	}
}

// checkPublishRoles checks the publish connection: aiortc offers actpass,
// Prism answers passive (it is the DTLS server), aiortc is the client.
func checkPublishRoles(t *testing.T, n aiortcNegotiation, pub aiortcTransport) {
	if n.LocalSetup != "actpass" || n.RemoteSetup != "passive" || pub.DTLSRole != "client" {
		t.Errorf("publish connection: aiortc offered setup:%s, Prism answered setup:%s, aiortc's DTLS role %q; want actpass, passive, client",
			n.LocalSetup, n.RemoteSetup, pub.DTLSRole)
	}
}

// transportTo finds the subscriber transport whose route is one of addrs.
func transportTo(st sfu.Stats, addrs []string) (sfu.TransportStats, bool) {
	for _, tr := range st.Each {
		if slices.Contains(addrs, tr.Route) {
			return tr, true
		}
	}
	return sfu.TransportStats{}, false
}

// logNegotiation reports what aiortc and Prism agreed on each connection.
func logNegotiation(t *testing.T, neg map[string]aiortcNegotiation, pub, sub aiortcTransport) {
	for _, c := range []struct {
		n  aiortcNegotiation
		tr aiortcTransport
	}{{neg["publish"], pub}, {neg["subscribe"], sub}} {
		t.Logf("%s: aiortc setup:%s, Prism setup:%s; aiortc is DTLS %s (%s, %s), SRTP %s, ICE %s, pair %s, connected at %.2fs",
			c.n.PC, c.n.LocalSetup, c.n.RemoteSetup, c.tr.DTLSRole, c.tr.DTLSVersion, c.tr.DTLSCipher, c.tr.SRTPProfile,
			c.tr.ICERole, c.tr.SelectedPair, c.tr.AtS)
		for _, m := range c.n.Media {
			t.Logf("  %s mid %s %s msid %q: codecs %v, feedback %v, extensions %v, transport-cc %v",
				c.n.PC, m.MID, m.Kind, m.MSID, m.Codecs, m.RTCPFB, m.Extensions, slices.Contains(m.Extensions, transportCC))
		}
	}
}

// checkAiortcExit stops aiortc with SIGTERM and checks that it exits 0,
// prints its summary, and heard no error from Prism.
func checkAiortcExit(t *testing.T, ai *aiortcClient) {
	if code := ai.stop(); code != 0 {
		t.Errorf("the aiortc client exited with code %d (%v)", code, ai.waitErr)
	}
	ai.mu.Lock()
	sum, errs := ai.summary, ai.errors
	ai.mu.Unlock()
	if sum == nil {
		t.Fatal("the aiortc client printed no summary")
	}
	for _, in := range sum.Received {
		t.Logf("summary: aiortc received %s %s/%s (%s): %d packets, %d frames decoded", in.Kind, in.ParticipantID, in.TrackID, in.Codec, in.Packets, in.FramesDecoded)
	}
	for _, out := range sum.Sent {
		t.Logf("summary: aiortc sent %s %s: %d packets", out.Kind, out.TrackID, out.Packets)
	}
	for _, e := range errs {
		t.Errorf("aiortc client reported an error: %+v", e)
	}
}
