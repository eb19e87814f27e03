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
	"go.uber.org/zap/zapcore"

	"github.com/prismsfu/prism/internal/synth"
	"github.com/prismsfu/prism/internal/testenv"
	prismrtp "github.com/prismsfu/prism/rtp"
	"github.com/prismsfu/prism/signaling/client"
	"github.com/prismsfu/prism/signaling/protocol"
)

// TestFirefoxInterop proves Prism works with a second browser engine,
// Firefox ESR, driven over WebDriver BiDi, in one room with Go clients:
//
//   - Firefox decodes a Go client's synthetic VP8 (more than 30 frames,
//     shown in the <video> at its size) and receives its Opus packets;
//   - a Go subscriber receives Firefox's fake camera and microphone, and a
//     VP8 keyframe from Firefox that parses;
//   - Prism sends to Firefox on its own write path (transport mode "udp":
//     Prism is the DTLS server and holds the SRTP keys), and Firefox's
//     SRTCP feedback on that connection reaches Prism and decrypts:
//     transport-wide congestion-control feedback acknowledging what Prism
//     sent; Prism's sender and receiver reports reach Firefox;
//   - both connections use AES-GCM SRTP, Prism's preference.
//
// It logs what Firefox negotiated: DTLS roles and cipher, SRTP profile,
// codecs and header extensions.
func TestFirefoxInterop(t *testing.T) {
	start := time.Now()
	ff := startFirefox(t, "Firefox")
	srv := testenv.StartServer(t, testenv.Options{Logger: bufferedLogger(t, "Prism")})
	room := fmt.Sprintf("firefox-%d", time.Now().UnixNano())

	publisher := joinSynthPublisher(t, srv, room)
	sub := joinCountingSubscriber(t, srv, room)

	ff.navigate(t, pageURL(srv.HTTPURL, room, "Firefox", testVideo))
	t.Logf("Firefox loaded the demo page after %v", time.Since(start).Round(time.Millisecond))
	logPageOnFailure(t, ff)
	firefoxID := ff.joined(t)
	t.Logf("Firefox joined as %s after %v", firefoxID, time.Since(start).Round(time.Millisecond))

	firefoxDecodes(t, ff, publisher.ID())
	subscriberReceives(t, sub, firefoxID)
	conns := prismHearsFirefox(t, ff, srv)
	logNegotiated(t, conns)
	t.Logf("done after %v", time.Since(start).Round(time.Millisecond))
}

// synthWidth and synthHeight are the Go publisher's picture: small, so it
// costs little.
const synthWidth, synthHeight = 320, 240

// joinSynthPublisher joins a Go client that publishes synthetic VP8
// (320x240, 15 fps, 300 kbit/s) and Opus until the test ends.
func joinSynthPublisher(t *testing.T, srv *testenv.Server, room string) *client.Client {
	t.Helper()
	video := synth.NewVideo(synth.VideoConfig{Width: synthWidth, Height: synthHeight, FPS: 15, Bitrate: 300_000})
	audio := synth.NewAudio()
	c := srv.Join(t, room, "go-publisher", client.Config{OnKeyframeRequest: func(string) { video.ForceKeyframe() }})
	vt := publishTrack(t, c, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "go-video", protocol.SourceCamera)
	at := publishTrack(t, c, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "go-audio", protocol.SourceMicrophone)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = video.Run(ctx, synth.WriteTo(vt)) }()
	go func() { defer wg.Done(); _ = audio.Run(ctx, synth.WriteTo(at)) }()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return c
}

// publishTrack publishes a track of codec from c as source.
func publishTrack(t *testing.T, c *client.Client, codec webrtc.RTPCodecCapability, id, source string) *webrtc.TrackLocalStaticRTP {
	t.Helper()
	track, err := webrtc.NewTrackLocalStaticRTP(codec, id, "go-stream")
	if err != nil {
		t.Fatalf("track %s: %v", id, err)
	}
	if _, err := c.Publish(track, source); err != nil {
		t.Fatalf("publish %s: %v", id, err)
	}
	return track
}

// counter is what a Go subscriber received, by "participant:kind", and
// the first VP8 keyframe of each participant.
type counter struct {
	mu        sync.Mutex
	packets   map[string]int
	codecs    map[string]string
	keyframes map[string]keyframeSeen
}

// keyframeSeen is the first packet of a VP8 keyframe a subscriber received.
type keyframeSeen struct {
	width, height int
	ok            bool
	head          []byte
}

// joinCountingSubscriber joins a Go client that reads every track it is
// sent, counts its packets and reports VP8 keyframes.
func joinCountingSubscriber(t *testing.T, srv *testenv.Server, room string) *counter {
	t.Helper()
	c := &counter{packets: map[string]int{}, codecs: map[string]string{}, keyframes: map[string]keyframeSeen{}}
	srv.Join(t, room, "go-subscriber", client.Config{OnTrack: c.read})
	return c
}

// read is the subscriber's OnTrack: it reads rt until the client closes.
func (c *counter) read(rt *client.RemoteTrack) {
	key := rt.ParticipantID + ":" + rt.Kind().String()
	mime := rt.Codec().MimeType
	c.mu.Lock()
	c.codecs[key] = mime
	c.mu.Unlock()
	for {
		pkt, _, err := rt.ReadRTP()
		if err != nil {
			return
		}
		isKey := rt.Kind() == webrtc.RTPCodecTypeVideo && prismrtp.IsKeyframe(mime, pkt.Payload)
		c.mu.Lock()
		c.packets[key]++
		if _, seen := c.keyframes[rt.ParticipantID]; isKey && !seen {
			w, h, ok := vp8KeyframeSize(pkt.Payload)
			c.keyframes[rt.ParticipantID] = keyframeSeen{width: w, height: h, ok: ok, head: append([]byte(nil), pkt.Payload[:min(len(pkt.Payload), 24)]...)}
		}
		c.mu.Unlock()
	}
}

func (c *counter) count(key string) (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.packets[key], c.codecs[key]
}

func (c *counter) keyframe(participant string) (keyframeSeen, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keyframes[participant]
	return k, ok
}

// joined waits until the page has joined and returns its participant id.
func (f *firefox) joined(t testing.TB) string {
	t.Helper()
	var id string
	waitUntil(t, 10*time.Second, 100*time.Millisecond, f.name+" joins", func() string {
		v, err := ffTryEval[struct {
			State  string
			ID     string
			Errors []any
		}](f, `({state: window.prismTest?.state ?? 'loading', id: window.prismTest?.id ?? '', errors: window.prismTest?.errors ?? []})`)
		if err != nil {
			return err.Error()
		}
		if v.State == "joined" && v.ID != "" {
			id = v.ID
			return ""
		}
		return fmt.Sprintf("state %q, errors %v", v.State, v.Errors)
	})
	return id
}

// firefoxDecodes waits until Firefox has decoded more than 30 frames of
// the Go publisher's video, shows it at its size, and receives more and
// more of its audio packets.
func firefoxDecodes(t *testing.T, ff *firefox, publisherID string) {
	t.Helper()
	camera := source{publisherID, "camera", true}
	mic := source{publisherID, "microphone", false}
	lastAudio := -1
	d := waitUntil(t, 15*time.Second, 300*time.Millisecond, "Firefox decodes the Go publisher", func() string {
		m, err := ffTryEval[map[string]flow](ff, mediaJS)
		if err != nil {
			return err.Error()
		}
		v, a := m[camera.key()], m[mic.key()]
		audio := a.Packets
		rising := lastAudio >= 0 && audio > lastAudio
		lastAudio = audio
		switch {
		case v.Frames <= 30:
			return fmt.Sprintf("video: %d frames decoded of %d received (%d packets)", v.Frames, v.Received, v.Packets)
		case v.VideoWidth != synthWidth:
			return fmt.Sprintf("video: <video> is %d pixels wide, want %d", v.VideoWidth, synthWidth)
		case !rising:
			return fmt.Sprintf("audio: packetsReceived %d, not rising", audio)
		}
		t.Logf("Firefox: %d frames of the Go publisher's VP8 decoded (%d px wide), %d Opus packets received", v.Frames, v.VideoWidth, audio)
		return ""
	})
	t.Logf("Firefox decodes the Go publisher's video and receives its audio after %v", d.Round(time.Millisecond))
}

// subscriberReceives waits until the Go subscriber has packets of both of
// Firefox's tracks and a VP8 keyframe from its camera that parses.
func subscriberReceives(t *testing.T, c *counter, firefoxID string) {
	t.Helper()
	const enough = 50
	d := waitUntil(t, 15*time.Second, 200*time.Millisecond, "the Go subscriber receives Firefox's media", func() string {
		v, vc := c.count(firefoxID + ":video")
		a, ac := c.count(firefoxID + ":audio")
		if v < enough || a < enough {
			return fmt.Sprintf("video %d packets (%s), audio %d packets (%s), want %d each", v, vc, a, ac, enough)
		}
		t.Logf("the Go subscriber: %d %s packets and %d %s packets from Firefox", v, vc, a, ac)
		return ""
	})
	t.Logf("the Go subscriber receives Firefox's video and audio after %v", d.Round(time.Millisecond))
	if _, vc := c.count(firefoxID + ":video"); !strings.EqualFold(vc, webrtc.MimeTypeVP8) {
		t.Errorf("Firefox's camera arrives as %s, want %s", vc, webrtc.MimeTypeVP8)
	}
	var k keyframeSeen
	waitUntil(t, 10*time.Second, 100*time.Millisecond, "a VP8 keyframe from Firefox", func() string {
		var ok bool
		if k, ok = c.keyframe(firefoxID); !ok {
			return "none yet"
		}
		return ""
	})
	if !k.ok || k.width == 0 || k.height == 0 {
		t.Fatalf("Firefox's keyframe does not parse: size %dx%d, payload starts % x", k.width, k.height, k.head)
	}
	t.Logf("the Go subscriber received a %dx%d VP8 keyframe from Firefox", k.width, k.height)
}

// bufferedLogger returns a debug-level logger that keeps the last lines in
// memory and prints them only if t fails: Prism's side of the story for an
// interoperability failure, without drowning a passing run.
func bufferedLogger(t *testing.T, name string) *zap.Logger {
	t.Helper()
	out := newOutputLog(2000)
	enc := zap.NewDevelopmentEncoderConfig()
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(out), zap.DebugLevel)
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("PRISM_E2E_CONSOLE") == "1" {
			t.Logf("%s's log (last lines):\n%s", name, out.tail(2000))
		}
	})
	return zap.New(core)
}

// logPageOnFailure registers a cleanup that, if t has failed, logs what
// the page says of its connections (states, descriptions, DTLS and SRTP)
// while they are still open: the browser's side of the evidence.
func logPageOnFailure(t *testing.T, ff *firefox) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		state, err := ffTryEval[any](ff, `(() => { const r = window.prismTest?.room; return r ? {state: r.connectionState, publish: [r.publishPC.connectionState, r.publishPC.iceConnectionState], subscribe: [r.subscribePC.connectionState, r.subscribePC.iceConnectionState], errors: window.prismTest.errors} : {state: window.prismTest?.state}; })()`)
		t.Logf("Firefox's page: %v (%v)", state, err)
		conns, err := ffTryEval[firefoxConns](ff, connInfoJS)
		if err != nil {
			t.Logf("Firefox's connections: %v", err)
			return
		}
		for name, c := range map[string]connInfo{"subscribe": conns.Subscribe, "publish": conns.Publish} {
			t.Logf("Firefox's %s connection: %+v", name, c)
		}
	})
}

// connInfo is what Firefox reports of one of its peer connections.
type connInfo struct {
	DTLSRole   string `json:"dtlsRole"`
	DTLSCipher string `json:"dtlsCipher"`
	SRTPCipher string `json:"srtpCipher"`
	TLSVersion string `json:"tlsVersion"`
	ICERole    string `json:"iceRole"`
	// Route is the selected pair's local candidate: the address Prism
	// sends this connection's media to (or receives it from).
	Route    string   `json:"route"`
	Protocol string   `json:"protocol"`
	Codecs   []string `json:"codecs"`
	// Reports counts, by kind, the RTCP reports from Prism that Firefox
	// matched to its streams: on the subscribe connection, its
	// remote-outbound-rtp statistics (Prism's sender reports: their
	// reportsSent, or 1 where Firefox leaves that out); on the publish
	// connection, the round-trip times its remote-inbound-rtp statistics
	// measured from Prism's receiver reports.
	Reports map[string]int `json:"reports"`
	Local   string         `json:"local"`  // Firefox's description
	Remote  string         `json:"remote"` // Prism's, as Firefox re-serializes it
}

// connInfoJS describes both of the page's peer connections from Firefox's
// getStats(): its transport statistics carry the DTLS role and cipher and
// the SRTP profile.
const connInfoJS = `(async () => {
  const room = window.prismTest.room;
  const describe = async (pc) => {
    const stats = [...(await pc.getStats()).values()];
    const byId = new Map(stats.map((s) => [s.id, s]));
    const tr = stats.find((s) => s.type === 'transport') || {};
    const pair = byId.get(tr.selectedCandidatePairId) || stats.find((s) => s.type === 'candidate-pair' && s.selected) || {};
    const local = byId.get(pair.localCandidateId) || {};
    const codecs = new Set(), reports = {};
    for (const s of stats) {
      const c = byId.get(s.codecId);
      if ((s.type === 'inbound-rtp' || s.type === 'outbound-rtp') && c) codecs.add(c.mimeType + '/' + c.payloadType);
      if (s.type === 'remote-outbound-rtp') reports[s.kind] = (reports[s.kind] || 0) + (s.reportsSent || 1);
      if (s.type === 'remote-inbound-rtp') reports[s.kind] = (reports[s.kind] || 0) + (s.roundTripTimeMeasurements || 0);
    }
    return {
      dtlsRole: tr.dtlsRole || '', dtlsCipher: tr.dtlsCipher || '', srtpCipher: tr.srtpCipher || '',
      tlsVersion: tr.tlsVersion || '', iceRole: tr.iceRole || '',
      route: local.address ? local.address + ':' + local.port : '', protocol: local.protocol || '',
      codecs: [...codecs].sort(), reports,
      local: pc.localDescription?.sdp || '', remote: pc.remoteDescription?.sdp || '',
    };
  };
  return {subscribe: await describe(room.subscribePC), publish: await describe(room.publishPC)};
})()`

// firefoxConns is connInfoJS's answer.
type firefoxConns struct {
	Subscribe connInfo `json:"subscribe"`
	Publish   connInfo `json:"publish"`
}

// twccURI is the transport-wide sequence number extension.
const twccURI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

// prismHearsFirefox checks the subscribe connection from Prism's side. Prism
// offers actpass and Firefox answers setup:active, so Prism is the DTLS
// server, learns the SRTP keys and sends on its own write path (mode
// "udp", not "pion"). Firefox answers with the transport-wide-cc
// extension and feedback, so its RTCP on that connection is transport-wide
// congestion-control feedback, which Prism's RTCP tap decrypts with
// Firefox's keys and matches against what it sent. (Firefox's receiver
// reports travel the same way, but Prism keeps only their round-trip time
// on each down-track, which the test cannot reach; the feedback counters
// are what Prism exposes.) Both ways, Prism's own reports reach Firefox:
// its sender reports on the subscribe connection and its receiver reports
// on the publish connection, from which Firefox computes round-trip times.
func prismHearsFirefox(t *testing.T, ff *firefox, srv *testenv.Server) firefoxConns {
	t.Helper()
	var conns firefoxConns
	waitUntil(t, 10*time.Second, 200*time.Millisecond, "Prism's reports reach Firefox", func() string {
		var err error
		if conns, err = ffTryEval[firefoxConns](ff, connInfoJS); err != nil {
			return err.Error()
		}
		for _, k := range []string{"audio", "video"} {
			if conns.Subscribe.Reports[k] == 0 {
				return "no sender report from Prism for Firefox's inbound " + k
			}
			if conns.Publish.Reports[k] == 0 {
				return "no round-trip time from Prism's receiver reports for Firefox's outbound " + k
			}
		}
		return ""
	})
	sub := conns.Subscribe
	if !strings.Contains(sub.Local, twccURI) || !strings.Contains(sub.Local, " transport-cc") {
		t.Fatalf("Firefox's subscribe answer does not negotiate transport-wide-cc:\n%s", sub.Local)
	}
	if sub.Route == "" || sub.Protocol != "udp" {
		t.Fatalf("Firefox's subscribe connection: selected local candidate %q over %q, want UDP on loopback", sub.Route, sub.Protocol)
	}
	waitUntil(t, 10*time.Second, 200*time.Millisecond, "Prism hears Firefox's feedback", func() string {
		var found []string
		for _, tr := range srv.SFU.Stats().Each {
			if tr.Route != sub.Route {
				found = append(found, tr.Route)
				continue
			}
			switch {
			case tr.Mode != "udp":
				t.Fatalf("Firefox's subscribe transport has mode %q, want udp (Prism the DTLS server, on its own write path): %+v", tr.Mode, tr)
			case tr.TWCCFeedback < 20 || tr.TWCCAcked < 100:
				return fmt.Sprintf("%d feedback packets acknowledging %d of %d packets sent", tr.TWCCFeedback, tr.TWCCAcked, tr.Sent)
			}
			t.Logf("Prism → Firefox (%s, mode %s): %d packets sent; %d TWCC feedback packets acknowledge %d, %d reported lost; %d NACKs, %d keyframe requests",
				tr.Route, tr.Mode, tr.Sent, tr.TWCCFeedback, tr.TWCCAcked, tr.TWCCLost, tr.NACKs, tr.KeyframeRequests)
			return ""
		}
		return fmt.Sprintf("no transport routed to Firefox's %s among %v", sub.Route, found)
	})
	return conns
}

// logNegotiated logs what Firefox negotiated on each connection, and
// checks the SRTP profile: Prism prefers AES-GCM, which Firefox offers.
func logNegotiated(t *testing.T, c firefoxConns) {
	t.Helper()
	for _, x := range []struct {
		name   string
		c      connInfo
		answer string // the answer: what was agreed
	}{{"subscribe", c.Subscribe, c.Subscribe.Local}, {"publish", c.Publish, c.Publish.Remote}} {
		t.Logf("Firefox's %s connection: DTLS %s (Firefox setup:%s, Prism setup:%s), %s, %s; SRTP %s; ICE %s; codecs used %v; header extensions agreed %v; reports from Prism %v",
			x.name, x.c.DTLSRole, sdpValues(x.c.Local, "a=setup:"), sdpValues(x.c.Remote, "a=setup:"), x.c.TLSVersion, x.c.DTLSCipher,
			x.c.SRTPCipher, x.c.ICERole, x.c.Codecs, extmapURIs(x.answer), x.c.Reports)
		if x.c.SRTPCipher != "SRTP_AEAD_AES_128_GCM" {
			t.Errorf("Firefox's %s connection negotiated SRTP %q, want SRTP_AEAD_AES_128_GCM (Prism's preference)", x.name, x.c.SRTPCipher)
		}
	}
}

// sdpValues lists the distinct values of the lines of an SDP that start
// with prefix.
func sdpValues(sdp, prefix string) []string {
	var out []string
	for _, line := range strings.Split(sdp, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix)
		if ok && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// extmapURIs lists the distinct header extension URIs of an SDP.
func extmapURIs(sdp string) []string {
	var out []string
	for _, v := range sdpValues(sdp, "a=extmap:") {
		if _, uri, ok := strings.Cut(v, " "); ok && !slices.Contains(out, uri) {
			out = append(out, uri)
		}
	}
	return out
}
