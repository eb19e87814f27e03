package e2e

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/prismsfu/prism/internal/testenv"
)

// hdVideo is the publisher's camera in the simulcast tests: 1280×720, which
// the demo page publishes in three encodings (320×180, 640×360, 1280×720).
var hdVideo = url.Values{"video": {"1280x720@15"}}

// inbound is a viewer's inbound-rtp of its one remote video track.
type inbound struct {
	Width   int `json:"width"`
	Frames  int `json:"frames"`
	Freezes int `json:"freezes"`
	Packets int `json:"packets"`
}

const inboundJS = `(async () => {
  const room = window.prismTest?.room;
  if (!room) return {width: 0, frames: 0, freezes: 0, packets: 0};
  for (const s of (await room.subscribePC.getStats()).values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'video')
      return {width: s.frameWidth || 0, frames: s.framesDecoded || 0, freezes: s.freezeCount || 0, packets: s.packetsReceived || 0};
  }
  return {width: 0, frames: 0, freezes: 0, packets: 0};
})()`

func (p *page) inbound(t testing.TB) inbound {
	t.Helper()
	return eval[inbound](t, p, inboundJS)
}

// outbound is one encoding of the publisher's camera.
type outbound struct {
	Width int `json:"width"`
	Bytes int `json:"bytes"`
}

const outboundJS = `(async () => {
  const out = {};
  const room = window.prismTest?.room;
  if (!room) return out;
  for (const s of (await room.publishPC.getStats()).values()) {
    if (s.type === 'outbound-rtp' && s.kind === 'video') out[s.rid || ''] = {width: s.frameWidth || 0, bytes: s.bytesSent || 0};
  }
  return out;
})()`

func (p *page) outbound(t testing.TB) map[string]outbound {
	t.Helper()
	return eval[map[string]outbound](t, p, outboundJS)
}

// subscriptions says what the page's library asked of each remote track,
// and the size of the <video> elements: for failure messages.
func (p *page) subscriptions(t testing.TB) string {
	t.Helper()
	return eval[string](t, p, `(() => {
  const out = [];
  for (const v of document.querySelectorAll('video')) out.push('video ' + v.clientWidth + 'x' + v.clientHeight);
  for (const part of window.prismTest.room.participants.values())
    for (const pub of part.tracks.values()) out.push(pub.id + ': ' + (pub.sentSubscription || 'none'));
  return out.join('; ');
})()`)
}

// resize pins the tile of key to w×h; hide hides or shows it.
func (p *page) resize(t testing.TB, key string, w, h int) {
	t.Helper()
	if !eval[bool](t, p, fmt.Sprintf(`window.prismTest.resizeTile(%q, %d, %d)`, key, w, h)) {
		t.Fatalf("%s: no tile %s", p.name, key)
	}
}

func (p *page) hide(t testing.TB, key string, hidden bool) {
	t.Helper()
	if !eval[bool](t, p, fmt.Sprintf(`window.prismTest.hideTile(%q, %v)`, key, hidden)) {
		t.Fatalf("%s: no tile %s", p.name, key)
	}
}

// A camera published from the demo page goes out in three encodings, and
// each viewer gets the one its tile needs, with no code in the page: the
// library reports the tile's size and visibility. Enlarging a tile
// switches it up without a freeze; hiding it stops its packets; dynacast
// pauses the encoding nobody needs and resumes it when someone does.
func TestBrowserSimulcast(t *testing.T) {
	b := startBrowser(t)
	srv := testenv.StartServer(t, testenv.Options{})
	pub := b.open(t, "Publisher", pageURL(srv.HTTPURL, "simulcast", "Publisher", hdVideo))
	pubID := pub.joined(t)
	key := pubID + ":camera"
	var layers map[string]outbound
	waitUntil(t, 15*time.Second, 250*time.Millisecond, "three encodings sending", func() string {
		layers = pub.outbound(t)
		for _, rid := range []string{"q", "h", "f"} {
			if layers[rid].Bytes == 0 || layers[rid].Width == 0 {
				return fmt.Sprintf("encodings %+v", layers)
			}
		}
		return ""
	})
	t.Logf("the publisher sends %+v", layers)

	viewer := func(name string) *page {
		p := b.open(t, name, pageURL(srv.HTTPURL, "simulcast", name, url.Values{"publish": {"0"}}))
		p.joined(t)
		waitUntil(t, 10*time.Second, 50*time.Millisecond, name+" shows the publisher's tile", func() string {
			if _, ok := p.tiles(t)[key]; !ok {
				return "no tile yet"
			}
			return ""
		})
		return p
	}

	// 1. A 320×180 tile decodes the low layer, a 1280×720 one the high
	// layer, within 3 s of joining. (The demo's own layout gives three
	// tiles 471×264 here, which takes the medium layer.)
	small := viewer("Small")
	small.resize(t, key, 320, 180)
	smallJoined := time.Now()
	big := viewer("Big")
	big.resize(t, key, 1280, 720)
	bigJoined := time.Now()
	waitUntil(t, time.Until(smallJoined.Add(3*time.Second)), 100*time.Millisecond, "the small tile decoding the low layer", func() string {
		in, want := small.inbound(t), pub.outbound(t)["q"].Width
		if in.Width == 0 || in.Width > 320 || in.Width != want || in.Frames == 0 {
			return fmt.Sprintf("decoding %+v, the low layer is %d wide", in, want)
		}
		return ""
	})
	waitUntil(t, time.Until(bigJoined.Add(3*time.Second)), 100*time.Millisecond, "the big tile decoding the high layer", func() string {
		in, want := big.inbound(t), pub.outbound(t)["f"].Width
		if in.Width != want || in.Width <= 640 || in.Frames == 0 {
			return fmt.Sprintf("decoding %+v, the high layer is %d wide; %s", in, want, big.subscriptions(t))
		}
		return ""
	})

	// 2. Enlarged, the small tile decodes the high layer within 2 s, and
	// no 250 ms sample over the switch shows a stall or a freeze.
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Failed() {
			t.Run(name, f)
		}
	}
	step("enlarge", func(t *testing.T) {
		prev := small.inbound(t)
		small.resize(t, key, 1280, 720)
		start := time.Now()
		for {
			time.Sleep(250 * time.Millisecond)
			cur := small.inbound(t)
			if cur.Frames <= prev.Frames || cur.Freezes > prev.Freezes {
				t.Fatalf("%v into the switch: frames %d → %d, freezes %d → %d", time.Since(start).Round(time.Millisecond), prev.Frames, cur.Frames, prev.Freezes, cur.Freezes)
			}
			prev = cur
			if cur.Width == pub.outbound(t)["f"].Width {
				t.Logf("decoding the high layer (%d wide) %v after the tile grew", cur.Width, time.Since(start).Round(time.Millisecond))
				break
			}
			if time.Since(start) > 2*time.Second {
				t.Fatalf("after 2 s still decoding %d wide", cur.Width)
			}
		}
	})

	// 3. Hidden, the tile gets no packets within 1 s; shown again, it
	// decodes within 500 ms.
	step("hide and show", func(t *testing.T) {
		small.hide(t, key, true)
		time.Sleep(time.Second)
		at1s := small.inbound(t)
		time.Sleep(500 * time.Millisecond)
		if later := small.inbound(t); later.Packets != at1s.Packets {
			t.Fatalf("packets still arriving 1 s after the tile was hidden: %d → %d", at1s.Packets, later.Packets)
		}
		small.hide(t, key, false)
		shown := time.Now()
		waitUntil(t, 500*time.Millisecond, 25*time.Millisecond, "frames after the tile is shown again", func() string {
			if cur := small.inbound(t); cur.Frames <= at1s.Frames {
				return fmt.Sprintf("frames decoded %d", cur.Frames)
			}
			return ""
		})
		t.Logf("decoding again %v after the tile was shown", time.Since(shown).Round(time.Millisecond))
	})

	// 4. With both tiles small, nobody needs the high layer: the publisher
	// stops sending it within 8 s; a big tile again, it sends within 1 s.
	step("dynacast", func(t *testing.T) {
		small.resize(t, key, 320, 180)
		big.resize(t, key, 320, 180)
		asked := time.Now()
		var last outbound
		waitUntil(t, 8*time.Second, 500*time.Millisecond, "the high encoding paused", func() string {
			cur := pub.outbound(t)["f"]
			defer func() { last = cur }()
			if cur.Bytes != last.Bytes {
				return fmt.Sprintf("still sending (%d bytes)", cur.Bytes)
			}
			return ""
		})
		t.Logf("the high encoding paused %v after both tiles shrank", time.Since(asked).Round(time.Millisecond))
		big.resize(t, key, 1280, 720)
		asked = time.Now()
		waitUntil(t, time.Second, 50*time.Millisecond, "the high encoding resumed", func() string {
			if cur := pub.outbound(t)["f"]; cur.Bytes == last.Bytes {
				return "not sending"
			}
			return ""
		})
		t.Logf("the high encoding resumed %v after a tile grew", time.Since(asked).Round(time.Millisecond))
		waitUntil(t, 3*time.Second, 100*time.Millisecond, "the big tile decoding the high layer again", func() string {
			if in := big.inbound(t); in.Width != pub.outbound(t)["f"].Width {
				return fmt.Sprintf("decoding %d wide", in.Width)
			}
			return ""
		})
	})
}
