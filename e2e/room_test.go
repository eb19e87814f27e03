package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prismsfu/prism/internal/testenv"
)

// testVideo is the camera size the pages capture: small, so that three
// pages encoding and decoding on two cores stay smooth.
var testVideo = url.Values{"video": {"320x180@15"}}

// TestBrowserRoom puts three Chromium pages in one room through the demo
// page (?autojoin=1) and checks, in order: media every way, camera off and
// mute, screen sharing, publish renegotiation (one offer in flight,
// changes coalesced), leave and rejoin, chat (and its isolation from
// another room), a refused join, no server errors, the SRTP profile, and
// what the pages do when the server shuts down. The steps share the room,
// so a failed step stops the ones after it (the shutdown runs anyway).
func TestBrowserRoom(t *testing.T) {
	b := startBrowser(t)
	srv := testenv.StartServer(t, testenv.Options{})
	room := "standup" // each test has a server of its own
	names := []string{"Ada", "Grace", "Edsger"}

	start := time.Now()
	pages := make([]*page, len(names))
	for i, name := range names {
		pages[i] = b.open(t, name, pageURL(srv.HTTPURL, room, name, testVideo))
	}
	ids := make([]string, len(pages))
	for i, p := range pages {
		ids[i] = p.joined(t)
	}
	t.Logf("three pages joined in %v: %v", time.Since(start).Round(time.Millisecond), ids)
	others := func(i int) []string {
		var out []string
		for j, id := range ids {
			if j != i {
				out = append(out, id)
			}
		}
		return out
	}

	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if t.Failed() {
			return
		}
		stepStart := time.Now()
		ok := t.Run(name, f)
		t.Logf("step %s: %v in %v", name, map[bool]string{true: "ok", false: "FAILED"}[ok], time.Since(stepStart).Round(time.Millisecond))
	}

	// 1. Each page decodes the other two's video and receives their audio
	// within 15 s of opening.
	step("media", func(t *testing.T) {
		deadline := start.Add(15 * time.Second)
		for i, p := range pages {
			d := waitFlowing(t, p, avFrom(others(i)...), time.Until(deadline), 0)
			t.Logf("%s: video and audio from both others flowing %v after the pages opened (waited %v)",
				p.name, time.Since(start).Round(time.Millisecond), d.Round(time.Millisecond))
		}
		// Every page shows a tile with the right name for each of the others.
		for i, p := range pages {
			tiles := p.tiles(t)
			for j, id := range ids {
				if j == i {
					continue
				}
				tl, ok := tiles[id+":camera"]
				if !ok {
					t.Errorf("%s has no tile for %s (%s)", p.name, names[j], id)
					continue
				}
				if tl.Name != names[j] {
					t.Errorf("%s shows %s's tile as %q", p.name, names[j], tl.Name)
				}
			}
		}
		// A greeting in the chat panel and the per-tile statistics make a
		// more useful picture.
		do(t, pages[1], `prismTest.chatSend('Morning! Can everyone see me?')`)
		waitUntil(t, 5*time.Second, 100*time.Millisecond, "the greeting reaches Ada", func() string {
			if n := eval[int](t, pages[0], `prismTest.chat.length`); n == 0 {
				return "no chat message yet"
			}
			return ""
		})
		waitUntil(t, 5*time.Second, 200*time.Millisecond, "stats on every tile", func() string {
			for _, tl := range pages[0].tiles(t) {
				if tl.Stats == nil || tl.Stats.Width == 0 {
					return tl.Key + " has no statistics yet"
				}
			}
			return ""
		})
		for _, tl := range pages[0].tiles(t) {
			t.Logf("%s sees tile %-12s %dx%d %.0f fps %d kb/s", pages[0].name, tl.Name, tl.Stats.Width, tl.Stats.Height, tl.Stats.FPS, tl.Stats.Kbps)
		}
		png := pages[0].screenshot(t)
		saveArtifact(t, artifactDir(t), "room-three-pages.png", png)
		if os.Getenv("PRISM_UPDATE_SCREENSHOT") == "1" {
			saveArtifact(t, filepath.Join("..", "examples", "web"), "screenshot.png", png)
		}
	})

	// 2. Ada turns her camera off and mutes: the others' tiles show it; she
	// turns both back on: her video flows again at a real frame rate.
	step("camera_off_and_mute", func(t *testing.T) {
		ada := pages[0]
		do(t, ada, `prismTest.toggleCamera()`)
		do(t, ada, `prismTest.toggleMic()`)
		for _, p := range pages[1:] {
			d := waitUntil(t, 5*time.Second, 50*time.Millisecond, p.name+" sees Ada's camera off and mic muted", func() string {
				tl := p.tiles(t)[ids[0]+":camera"]
				if !tl.CameraOff || !tl.MicMuted || !tl.NoVideo {
					return fmt.Sprintf("tile %+v", tl)
				}
				return ""
			})
			t.Logf("%s saw camera off and mute after %v", p.name, d.Round(time.Millisecond))
		}
		do(t, ada, `prismTest.toggleCamera()`)
		do(t, ada, `prismTest.toggleMic()`)
		for _, p := range pages[1:] {
			waitUntil(t, 5*time.Second, 50*time.Millisecond, p.name+" sees Ada's camera on and mic unmuted", func() string {
				tl := p.tiles(t)[ids[0]+":camera"]
				if tl.CameraOff || tl.MicMuted || tl.NoVideo {
					return fmt.Sprintf("tile %+v", tl)
				}
				return ""
			})
			d := waitFlowing(t, p, avFrom(ids[0]), 10*time.Second, 5)
			t.Logf("%s: Ada's video at 5+ frames/s again after %v", p.name, d.Round(time.Millisecond))
		}
	})

	// 3. Ada shares her screen (getDisplayMedia, fake capture): the others
	// get a third track from her, in a tile of its own, and decode it; when
	// she stops, the tile goes away.
	step("screen_share", func(t *testing.T) {
		ada := pages[0]
		do(t, ada, `prismTest.toggleScreen()`)
		screen := []source{{ids[0], "screen", true}}
		for _, p := range pages[1:] {
			d := waitFlowing(t, p, screen, 15*time.Second, 0)
			t.Logf("%s decodes Ada's screen after %v", p.name, d.Round(time.Millisecond))
			if tl := p.tiles(t)[ids[0]+":screen"]; tl.Kind != "screen" || tl.VideoWidth == 0 {
				t.Errorf("%s: Ada's screen tile: %+v", p.name, tl)
			}
		}
		saveArtifact(t, artifactDir(t), "room-screen-share.png", pages[1].screenshot(t))
		do(t, ada, `prismTest.toggleScreen()`)
		for _, p := range pages[1:] {
			waitUntil(t, 5*time.Second, 100*time.Millisecond, p.name+" drops Ada's screen tile", func() string {
				if _, ok := p.tiles(t)[ids[0]+":screen"]; ok {
					return "the tile is still there"
				}
				return ""
			})
		}
	})

	// Renegotiation on the publish connection: one offer in flight, and
	// the changes made while it is out coalesced into one more offer.
	// Grace publishes three canvas tracks: one, then two more while the
	// first offer waits for its answer (two offers in all), then
	// unpublishes all three at once (one offer). Ada receives the three and
	// then loses them.
	step("renegotiation", func(t *testing.T) {
		grace := pages[1]
		countJS := `(() => { const p = prismTest.room.participants.get(` + jsString(ids[1]) + `);
			return p ? [...p.tracks.values()].filter(x => x.track).length : -1; })()`
		base := eval[int](t, pages[0], countJS)
		published := eval[int](t, grace, `(async () => {
			const room = prismTest.room;
			let offers = 0;
			const send = room._send.bind(room);
			room._send = (m) => { if (m.type === 'offer') offers++; return send(m); };
			window.__offers = () => offers;
			const canvasTrack = (color) => {
				const c = document.createElement('canvas');
				c.width = 160; c.height = 90;
				const g = c.getContext('2d');
				let n = 0;
				setInterval(() => { g.fillStyle = color; g.fillRect(0, 0, 160, 90); g.fillStyle = '#fff'; g.fillText(String(n++), 10, 50); }, 66);
				return c.captureStream(15).getVideoTracks()[0];
			};
			const tracks = ['#c33', '#3c3', '#33c'].map(canvasTrack);
			window.__extraTracks = tracks;
			const first = room.publish(tracks[0], {source: 'screen'});
			while (offers === 0) await new Promise(r => setTimeout(r, 1));
			const more = [room.publish(tracks[1], {source: 'screen'}), room.publish(tracks[2], {source: 'screen'})];
			await Promise.all([first, ...more]);
			return offers;
		})()`)
		if published != 2 {
			t.Errorf("Grace sent %d offers for one publish and two more while it was out, want 2", published)
		}
		d := waitUntil(t, 10*time.Second, 100*time.Millisecond, "Ada receives Grace's three extra tracks", func() string {
			if n := eval[int](t, pages[0], countJS); n != base+3 {
				return fmt.Sprintf("Ada receives %d of Grace's tracks, want %d", n, base+3)
			}
			return ""
		})
		t.Logf("Ada receives the three extra tracks %v after they were published", d.Round(time.Millisecond))
		unpublished := eval[int](t, grace, `(async () => {
			const room = prismTest.room, before = window.__offers();
			await Promise.all(window.__extraTracks.map(t => room.unpublish(t)));
			return window.__offers() - before;
		})()`)
		if unpublished != 1 {
			t.Errorf("Grace sent %d offers for three unpublishes at once, want 1", unpublished)
		}
		waitUntil(t, 10*time.Second, 100*time.Millisecond, "Ada is back to Grace's camera and microphone", func() string {
			if n := eval[int](t, pages[0], countJS); n != base {
				return fmt.Sprintf("Ada receives %d of Grace's tracks, want %d", n, base)
			}
			return ""
		})
		do(t, grace, `window.__extraTracks.forEach(t => t.stop())`)
		waitFlowing(t, pages[0], avFrom(ids[1]), 10*time.Second, 0)
	})

	// 4. Edsger leaves: his tiles are gone from the others within 2 s. He
	// reloads the page, which joins again, and media flows every way.
	step("leave_and_rejoin", func(t *testing.T) {
		edsger := pages[2]
		gone := ids[2]
		do(t, edsger, `document.getElementById('btn-leave').click()`)
		left := time.Now()
		for _, p := range pages[:2] {
			waitUntil(t, 2*time.Second-time.Since(left), 25*time.Millisecond, p.name+" removes Edsger's tile", func() string {
				for _, tl := range p.tiles(t) {
					if tl.ParticipantID == gone {
						return "tile " + tl.Key + " is still there"
					}
				}
				return ""
			})
			t.Logf("%s: Edsger's tile gone %v after he pressed Leave", p.name, time.Since(left).Round(time.Millisecond))
		}
		if st := eval[string](t, edsger, `prismTest.state`); st != "left" {
			t.Errorf("Edsger's page is in state %q after Leave, want left", st)
		}

		rejoin := time.Now()
		edsger.reload(t)
		ids[2] = edsger.joined(t)
		if ids[2] == gone {
			t.Errorf("Edsger rejoined with his old id %s", gone)
		}
		for i, p := range pages {
			waitFlowing(t, p, avFrom(others(i)...), 15*time.Second, 0)
		}
		t.Logf("after the reload, media flows every way in %v", time.Since(rejoin).Round(time.Millisecond))
	})

	// 5. A chat message from Ada reaches Grace and Edsger (and Ada, marked
	// as her own), and not a page in another room.
	var other *page
	parent := t
	step("chat", func(t *testing.T) {
		other = b.open(parent, "Outsider", pageURL(srv.HTTPURL, room+"-other", "Outsider", url.Values{"publish": {"0"}}))
		other.joined(t)

		text := fmt.Sprintf("hello from Ada, %d <b>not bold</b>", time.Now().UnixNano())
		js := []byte(jsString(text))
		sent := time.Now()
		do(t, pages[0], `prismTest.chatSend(`+string(js)+`)`)
		type entry struct {
			FromID string `json:"fromId"`
			From   string `json:"from"`
			Text   string `json:"text"`
			Self   bool   `json:"self"`
		}
		for i, p := range pages {
			waitUntil(t, 5*time.Second, 50*time.Millisecond, p.name+" receives the chat message", func() string {
				log := eval[[]entry](t, p, `prismTest.chat`)
				i := slices.IndexFunc(log, func(e entry) bool { return e.Text == text })
				if i < 0 {
					return fmt.Sprintf("chat log %+v", log)
				}
				if e := log[i]; e.FromID != ids[0] || e.From != "Ada" {
					return fmt.Sprintf("message from %q (%s), want Ada (%s)", e.From, e.FromID, ids[0])
				}
				return ""
			})
			self := eval[bool](t, p, `prismTest.chat.find(e => e.text === `+string(js)+`).self`)
			if self != (i == 0) {
				t.Errorf("%s: message marked self=%v", p.name, self)
			}
			// The text is shown as text, not parsed as HTML.
			shown := eval[string](t, p, `document.getElementById('chat-log').textContent`)
			if !strings.Contains(shown, text) {
				t.Errorf("%s: chat panel does not show %q: %q", p.name, text, shown)
			}
		}
		t.Logf("chat delivered to all three in %v", time.Since(sent).Round(time.Millisecond))
		time.Sleep(500 * time.Millisecond)
		if n := eval[int](t, other, `prismTest.chat.length`); n != 0 {
			t.Errorf("a page in another room received %d chat messages", n)
		}
		if n := eval[int](t, other, `prismTest.remoteIds().length`); n != 0 {
			t.Errorf("a page in another room sees %d participants", n)
		}
	})

	// prism.js reports a refused join as a PrismError with the server's
	// code, and the page stays usable.
	step("join_refused", func(t *testing.T) {
		if other == nil {
			t.Skip("the chat step opened no page in another room")
		}
		code := eval[string](t, other, `import('/prism.js').then(Prism =>
			Prism.join({room: 'x'.repeat(200), name: 'too long'}).then(() => 'joined', err => err.code))`)
		if code != "bad_message" {
			t.Errorf("join of a 200-byte room name: got %q, want the server's bad_message", code)
		}
	})

	// No page saw a server error along the way.
	step("no_errors", func(t *testing.T) {
		for _, p := range pages {
			if errs := eval[json.RawMessage](t, p, `prismTest.errors`); string(errs) != "[]" {
				t.Errorf("%s: server errors: %s", p.name, errs)
			}
			if st := eval[string](t, p, `document.getElementById('conn').dataset.state`); st != "connected" {
				t.Errorf("%s: connection indicator says %q", p.name, st)
			}
		}
	})

	// 7. The SRTP profile Chromium negotiated with Prism, on both
	// connections of every page.
	step("srtp_cipher", func(t *testing.T) {
		type transport struct {
			PC         string `json:"pc"`
			SRTPCipher string `json:"srtpCipher"`
			DTLSCipher string `json:"dtlsCipher"`
			TLSVersion string `json:"tlsVersion"`
			DTLSState  string `json:"dtlsState"`
		}
		for _, p := range pages {
			list := eval[[]transport](t, p, `(async () => {
				const room = prismTest.room, out = [];
				for (const [name, pc] of [['publish', room.publishPC], ['subscribe', room.subscribePC]]) {
					for (const s of (await pc.getStats()).values()) {
						if (s.type === 'transport') out.push({pc: name, srtpCipher: s.srtpCipher || '', dtlsCipher: s.dtlsCipher || '', tlsVersion: s.tlsVersion || '', dtlsState: s.dtlsState || ''});
					}
				}
				return out;
			})()`)
			if len(list) != 2 {
				t.Errorf("%s: %d transports, want 2 (publish, subscribe): %+v", p.name, len(list), list)
			}
			for _, tr := range list {
				t.Logf("%s %s connection: SRTP %s, DTLS %s %s (%s)", p.name, tr.PC, tr.SRTPCipher, tr.TLSVersion, tr.DTLSCipher, tr.DTLSState)
				if !strings.Contains(tr.SRTPCipher, "GCM") {
					t.Errorf("%s %s connection negotiated SRTP profile %q, want an AES-GCM one", p.name, tr.PC, tr.SRTPCipher)
				}
			}
		}
	})

	// The server shuts down: every page hears leave/server_shutdown, says
	// so in the lobby, and does not try to reconnect.
	t.Run("server_shutdown", func(t *testing.T) {
		srv.Close()
		for _, p := range append(pages, other) {
			if p == nil {
				continue
			}
			waitUntil(t, 5*time.Second, 100*time.Millisecond, p.name+" hears the server shut down", func() string {
				v := eval[struct {
					State     string
					LastLeave struct{ Code, Message string }
					Lobby     string
				}](t, p, `({state: prismTest.state, lastLeave: prismTest.lastLeave || {}, lobby: document.getElementById('lobby-message').textContent})`)
				if v.State != "left" || v.LastLeave.Code != "server_shutdown" {
					return fmt.Sprintf("%+v", v)
				}
				return ""
			})
		}
	})
}

// jsString returns s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
