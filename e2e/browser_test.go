package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath is where Debian's chromium package installs the browser.
const chromiumPath = "/usr/bin/chromium"

// unavailable skips the test, loudly, because the browser cannot run here;
// with CI=true it fails instead, so that CI never passes without them.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: browser tests must not be skipped)", msg)
	}
	t.Log("*** SKIPPING BROWSER TEST ***")
	t.Skip(msg)
}

// chromium returns the path of the browser, or skips the test.
func chromium(t testing.TB) string {
	t.Helper()
	path := chromiumPath
	if p := os.Getenv("PRISM_CHROMIUM"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		if path == chromiumPath {
			unavailable(t, "chromium not found at /usr/bin/chromium: install it with apt-get install chromium (make test does this in CI)")
		}
		unavailable(t, fmt.Sprintf("chromium not found at %s (PRISM_CHROMIUM): %v", path, err))
	}
	return path
}

// browser is one Chromium process; each page is a tab of its own, in a
// browser context (profile) of its own.
type browser struct {
	ctx context.Context
}

// startBrowser starts headless Chromium with fake camera, microphone and
// screen, and stops it when the test ends.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 720),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("auto-select-desktop-capture-source", "Entire screen"),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// Without it Chromium offers no 127.0.0.1 candidate.
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first Run starts the browser; it must not carry a timeout.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			unavailable(t, fmt.Sprintf("chromium at %s could not start: %v", path, err))
		}
	case <-time.After(30 * time.Second):
		unavailable(t, fmt.Sprintf("chromium at %s did not start within 30 s", path))
	}
	return &browser{ctx: ctx}
}

// page is one tab running the Prism demo page.
type page struct {
	name string
	ctx  context.Context

	mu      sync.Mutex
	console []string
}

// open opens url in a new tab, in a fresh browser context, and closes the
// tab when t ends. The tab's console is printed if t fails.
func (b *browser) open(t *testing.T, name, url string) *page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	p := &page{name: name, ctx: ctx}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, fmt.Sprintf("%s %s", m.Time.Format("15:04:05.000"), m))
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() || os.Getenv("PRISM_E2E_CONSOLE") == "1" {
			p.mu.Lock()
			defer p.mu.Unlock()
			t.Logf("console of %s (%d lines):\n\t%s", p.name, len(p.console), strings.Join(p.console, "\n\t"))
		}
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 720)); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p.navigate(t, url)
	return p
}

func (p *page) navigate(t testing.TB, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("%s: navigate to %s: %v", p.name, url, err)
	}
}

func (p *page) reload(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatalf("%s: reload: %v", p.name, err)
	}
}

// eval evaluates a JavaScript expression in the page, awaits it if it is a
// promise, and decodes its value into a T.
func eval[T any](t testing.TB, p *page, js string) T {
	t.Helper()
	v, err := tryEval[T](p, js)
	if err != nil {
		t.Fatalf("%s: evaluating %s: %v", p.name, abbrev(js), err)
	}
	return v
}

func tryEval[T any](p *page, js string) (T, error) {
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
}

// do evaluates JavaScript for its effect.
func do(t testing.TB, p *page, js string) {
	t.Helper()
	eval[chromedp.Void](t, p, js)
}

func (p *page) screenshot(t testing.TB) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("%s: screenshot: %v", p.name, err)
	}
	return png
}

func abbrev(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// waitUntil calls check every interval until it returns "" and returns the
// time that took; after timeout it fails the test with check's last answer,
// which says what is still missing.
func waitUntil(t testing.TB, timeout, interval time.Duration, what string, check func() string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		why := check()
		if why == "" {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("after %v: %s: %s", timeout, what, why)
		}
		time.Sleep(interval)
	}
}

// ---- the demo page ----

// pageURL is the demo page's address that joins room at once.
func pageURL(base, room, name string, extra url.Values) string {
	q := url.Values{"room": {room}, "name": {name}, "autojoin": {"1"}}
	for k, v := range extra {
		q[k] = v
	}
	return base + "/?" + q.Encode()
}

// joined waits until the page has joined and returns its participant id.
func (p *page) joined(t testing.TB) string {
	t.Helper()
	var id string
	waitUntil(t, 10*time.Second, 100*time.Millisecond, p.name+" joins", func() string {
		v, err := tryEval[struct {
			State  string
			ID     string
			Errors json.RawMessage
		}](p, `({state: window.prismTest?.state ?? 'loading', id: window.prismTest?.id ?? '', errors: window.prismTest?.errors ?? []})`)
		if err != nil {
			return err.Error()
		}
		if v.State == "joined" && v.ID != "" {
			id = v.ID
			return ""
		}
		return fmt.Sprintf("state %q, errors %s", v.State, v.Errors)
	})
	return id
}

// tile is what window.prismTest.tiles() reports.
type tile struct {
	Key           string `json:"key"`
	ParticipantID string `json:"participantId"`
	Local         bool   `json:"local"`
	Kind          string `json:"kind"`
	Name          string `json:"name"`
	MicMuted      bool   `json:"micMuted"`
	CameraOff     bool   `json:"cameraOff"`
	NoVideo       bool   `json:"noVideo"`
	VideoWidth    int    `json:"videoWidth"`
	VideoHeight   int    `json:"videoHeight"`
	Stats         *struct {
		Width  int     `json:"width"`
		Height int     `json:"height"`
		FPS    float64 `json:"fps"`
		Kbps   int     `json:"kbps"`
	} `json:"stats"`
}

func (p *page) tiles(t testing.TB) map[string]tile {
	t.Helper()
	list := eval[[]tile](t, p, `window.prismTest.tiles()`)
	m := make(map[string]tile, len(list))
	for _, x := range list {
		m[x.Key] = x
	}
	return m
}

// flow sums the inbound-rtp statistics of one remote source.
type flow struct {
	Kind       string `json:"kind"`
	Packets    int    `json:"packets"`
	Frames     int    `json:"frames"`   // framesDecoded
	Received   int    `json:"received"` // framesReceived
	Width      int    `json:"width"`
	VideoWidth int    `json:"videoWidth"`
}

// mediaJS reads the subscribe connection's inbound-rtp statistics, keyed by
// "participantId:source" through the mid of each stream, and adds the size
// of the <video> showing each tile.
const mediaJS = `(async () => {
  const t = window.prismTest, room = t && t.room;
  if (!room) return {};
  const out = {};
  const stats = await room.subscribePC.getStats();
  for (const s of stats.values()) {
    if (s.type !== 'inbound-rtp') continue;
    const pub = room.publicationByMid(s.mid);
    if (!pub) continue;
    const e = out[pub.participantId + ':' + pub.source] ||= {kind: s.kind, packets: 0, frames: 0, received: 0, width: 0, videoWidth: 0};
    e.packets += s.packetsReceived || 0;
    if (s.kind === 'video') { e.frames += s.framesDecoded || 0; e.received += s.framesReceived || 0; e.width = s.frameWidth || 0; }
  }
  for (const tile of t.tiles()) {
    if (!tile.participantId) continue;
    const e = out[tile.participantId + ':' + tile.kind];
    if (e && e.kind === 'video') e.videoWidth = tile.videoWidth;
  }
  return out;
})()`

func (p *page) media(t testing.TB) map[string]flow {
	t.Helper()
	return eval[map[string]flow](t, p, mediaJS)
}

// source is one remote source a page should receive.
type source struct {
	participant string // participant id
	source      string // camera, microphone, screen
	video       bool
}

func (s source) key() string { return s.participant + ":" + s.source }

// avFrom lists the camera and microphone of each participant.
func avFrom(ids ...string) []source {
	var out []source
	for _, id := range ids {
		out = append(out, source{id, "camera", true}, source{id, "microphone", false})
	}
	return out
}

// waitFlowing waits until media from every source flows into p: decoded
// video frames rising and the <video> showing a picture, or audio packets
// rising. minRate, if not zero, is the least video frame rate accepted.
func waitFlowing(t testing.TB, p *page, want []source, timeout time.Duration, minRate float64) time.Duration {
	t.Helper()
	prev, prevAt := p.media(t), time.Now()
	return waitUntil(t, timeout, 300*time.Millisecond, p.name+" receives media", func() string {
		cur, now := p.media(t), time.Now()
		defer func() { prev, prevAt = cur, now }()
		dt := now.Sub(prevAt).Seconds()
		var missing []string
		for _, s := range want {
			c, ok := cur[s.key()]
			old := prev[s.key()]
			switch {
			case !ok:
				missing = append(missing, s.key()+": no inbound-rtp")
			case s.video && c.Frames <= old.Frames:
				missing = append(missing, fmt.Sprintf("%s: framesDecoded not rising (%d)", s.key(), c.Frames))
			case s.video && minRate > 0 && float64(c.Frames-old.Frames)/dt < minRate:
				missing = append(missing, fmt.Sprintf("%s: %.1f frames/s, want %.0f", s.key(), float64(c.Frames-old.Frames)/dt, minRate))
			case s.video && c.VideoWidth == 0:
				missing = append(missing, s.key()+": <video> has videoWidth 0")
			case !s.video && c.Packets <= old.Packets:
				missing = append(missing, fmt.Sprintf("%s: packetsReceived not rising (%d)", s.key(), c.Packets))
			}
		}
		return strings.Join(missing, "; ")
	})
}

// artifactDir is where screenshots go: PRISM_ARTIFACTS, or a temporary
// directory of the test.
func artifactDir(t testing.TB) string {
	if d := os.Getenv("PRISM_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("PRISM_ARTIFACTS: %v", err)
		}
		return d
	}
	return t.TempDir()
}

func saveArtifact(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Errorf("saving %s: %v", name, err)
		return
	}
	t.Logf("saved %s (%d bytes)", path, len(data))
}
