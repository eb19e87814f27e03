package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// firefoxPath is where Debian's firefox-esr package installs the browser.
const firefoxPath = "/usr/bin/firefox-esr"

// firefoxPrefs go into the profile's user.js.
var firefoxPrefs = map[string]any{
	// Fake camera and microphone, no prompt, and autoplay.
	"media.navigator.streams.fake":        true,
	"media.navigator.permission.disabled": true,
	"media.autoplay.default":              0,
	"media.autoplay.blocking_policy":      0,
	// A page without a persistent camera or microphone permission gets
	// only the "default" ICE address, the one a route to the internet
	// would use; a loopback-only namespace has none, so gathering fails
	// ("failed to find default addresses"), even while the page captures
	// the fake devices. Granting both permissions to every page lifts it.
	"permissions.default.camera":     1,
	"permissions.default.microphone": 1,
	// 127.0.0.1 candidates, under their own address, not an mDNS name.
	"media.peerconnection.ice.loopback":                 true,
	"media.peerconnection.ice.obfuscate_host_addresses": false,
	"media.peerconnection.ice.default_address_only":     false,

	// No first-run pages, updates, telemetry or background network
	// services: the tests run without a network and must not try.
	"app.update.enabled":                                          false,
	"app.update.auto":                                             false,
	"app.update.disabledForTesting":                               true,
	"app.normandy.enabled":                                        false,
	"browser.shell.checkDefaultBrowser":                           false,
	"browser.startup.homepage_override.mstone":                    "ignore",
	"browser.startup.page":                                        0,
	"browser.startup.homepage":                                    "about:blank",
	"startup.homepage_welcome_url":                                "about:blank",
	"startup.homepage_welcome_url.additional":                     "",
	"browser.aboutwelcome.enabled":                                false,
	"browser.newtabpage.enabled":                                  false,
	"browser.newtabpage.activity-stream.feeds.section.topstories": false,
	"browser.newtabpage.activity-stream.feeds.topsites":           false,
	"browser.tabs.warnOnClose":                                    false,
	"browser.sessionstore.resume_from_crash":                      false,
	"browser.search.update":                                       false,
	"browser.region.network.url":                                  "",
	"browser.region.update.enabled":                               false,
	"browser.topsites.contile.enabled":                            false,
	"browser.safebrowsing.malware.enabled":                        false,
	"browser.safebrowsing.phishing.enabled":                       false,
	"browser.safebrowsing.blockedURIs.enabled":                    false,
	"browser.safebrowsing.downloads.enabled":                      false,
	"browser.safebrowsing.downloads.remote.enabled":               false,
	"browser.safebrowsing.passwords.enabled":                      false,
	"browser.safebrowsing.provider.google4.updateURL":             "",
	"browser.safebrowsing.provider.google.updateURL":              "",
	"browser.safebrowsing.provider.mozilla.updateURL":             "",
	"datareporting.policy.dataSubmissionEnabled":                  false,
	"datareporting.healthreport.uploadEnabled":                    false,
	"toolkit.telemetry.enabled":                                   false,
	"toolkit.telemetry.unified":                                   false,
	"toolkit.telemetry.server":                                    "",
	"toolkit.telemetry.archive.enabled":                           false,
	"toolkit.telemetry.reportingpolicy.firstRun":                  false,
	"toolkit.startup.max_resumed_crashes":                         -1,
	"extensions.update.enabled":                                   false,
	"extensions.getAddons.cache.enabled":                          false,
	"extensions.blocklist.enabled":                                false,
	"extensions.systemAddon.update.enabled":                       false,
	"services.settings.server":                                    "data:,#remote-settings-dummy/v1",
	"messaging-system.rsexperimentloader.enabled":                 false,
	"identity.fxaccounts.enabled":                                 false,
	"network.captive-portal-service.enabled":                      false,
	"network.connectivity-service.enabled":                        false,
	"network.dns.disablePrefetch":                                 true,
	"network.prefetch-next":                                       false,
	"network.http.speculative-parallel-limit":                     0,
	"network.trr.mode":                                            5, // no DNS over HTTPS
	"geo.provider.network.url":                                    "",
	"dom.push.enabled":                                            false,
	"dom.push.connection.enabled":                                 false,
	"media.gmp-manager.updateEnabled":                             false,
	"media.gmp-gmpopenh264.enabled":                               false,
	"security.OCSP.enabled":                                       0,
	"security.remote_settings.crlite_filters.enabled":             false,
	"signon.rememberSignons":                                      false,
}

// writeUserJS writes prefs into dir/user.js, which Firefox reads at start.
func writeUserJS(dir string, prefs map[string]any) error {
	var b bytes.Buffer
	for _, name := range slices.Sorted(maps.Keys(prefs)) {
		val, err := json.Marshal(prefs[name])
		if err != nil {
			return fmt.Errorf("pref %s: %w", name, err)
		}
		fmt.Fprintf(&b, "user_pref(%q, %s);\n", name, val)
	}
	if err := os.WriteFile(filepath.Join(dir, "user.js"), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing user.js: %w", err)
	}
	return nil
}

// firefoxBinary returns the path of Firefox, or skips the test.
func firefoxBinary(t testing.TB) string {
	t.Helper()
	path := firefoxPath
	if p := os.Getenv("PRISM_FIREFOX"); p != "" {
		path = p
	}
	if _, err := os.Stat(path); err != nil {
		if path == firefoxPath {
			unavailable(t, "firefox-esr not found at /usr/bin/firefox-esr: install it with apt-get install firefox-esr (make test does this in CI)")
		}
		unavailable(t, fmt.Sprintf("firefox not found at %s (PRISM_FIREFOX): %v", path, err))
	}
	return path
}

// firefox is one headless Firefox process with one page (its first
// browsing context), driven over WebDriver BiDi.
type firefox struct {
	name    string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when cmd.Wait returns
	out     *outputLog
	bidi    *bidi
	context string // the browsing context id of the page

	mu      sync.Mutex
	console []string
}

// startFirefox starts headless Firefox with a fresh profile, opens a BiDi
// session to it, and stops it (and waits for its processes) when the test
// ends. The page's console and Firefox's output are printed if t fails.
func startFirefox(t *testing.T, name string) *firefox {
	t.Helper()
	path := firefoxBinary(t)
	start := time.Now()
	profile := t.TempDir()
	if err := writeUserJS(profile, firefoxPrefs); err != nil {
		t.Fatal(err)
	}
	f := &firefox{name: name, exited: make(chan struct{}), out: newOutputLog(200)}
	f.cmd = exec.Command(path, "--headless", "--no-remote", "--new-instance",
		"--profile", profile, "--remote-debugging-port=0", "about:blank")
	f.cmd.Env = append(os.Environ(),
		"MOZ_CRASHREPORTER_DISABLE=1",
		// A browser the last test killed must not start in safe mode.
		"MOZ_DISABLE_AUTO_SAFE_MODE=1",
		// Firefox under a test needs no desktop session bus.
		"DBUS_SESSION_BUS_ADDRESS=/dev/null",
		// Its disk cache goes with the test, not into ~/.cache.
		"XDG_CACHE_HOME="+filepath.Join(profile, "cache"),
	)
	f.cmd.Stdout, f.cmd.Stderr = f.out, f.out
	// Its own process group: the cleanup can end Firefox's content
	// processes with it, and only them.
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Content processes inherit the output pipe; do not wait on them for
	// ever once the main process has exited.
	f.cmd.WaitDelay = 5 * time.Second
	if err := f.cmd.Start(); err != nil {
		unavailable(t, fmt.Sprintf("firefox at %s could not start: %v", path, err))
	}
	go func() {
		_ = f.cmd.Wait()
		close(f.exited)
	}()
	t.Cleanup(func() { f.stop(t) })

	var url string
	select {
	case url = <-f.out.bidiURL:
	case <-f.exited:
		unavailable(t, fmt.Sprintf("firefox at %s exited at start: %v\n%s", path, f.cmd.ProcessState, f.out.tail(40)))
	case <-time.After(30 * time.Second):
		unavailable(t, fmt.Sprintf("firefox at %s did not open WebDriver BiDi within 30 s:\n%s", path, f.out.tail(40)))
	}
	if err := f.connect(url); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, f.out.tail(40))
	}
	t.Logf("%s: %s started, WebDriver BiDi session open after %v", name, path, time.Since(start).Round(time.Millisecond))
	return f
}

// connect opens the BiDi session, listens to the page's console and finds
// the page's browsing context.
func (f *firefox) connect(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := dialBiDi(ctx, url+"/session", f.onEvent)
	if err != nil {
		return err
	}
	f.bidi = b
	if _, err := b.call(ctx, "session.new", map[string]any{"capabilities": map[string]any{}}); err != nil {
		return err
	}
	if _, err := b.call(ctx, "session.subscribe", map[string]any{"events": []string{"log.entryAdded"}}); err != nil {
		return err
	}
	raw, err := b.call(ctx, "browsingContext.getTree", map[string]any{"maxDepth": 0})
	if err != nil {
		return err
	}
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	if err := json.Unmarshal(raw, &tree); err != nil {
		return fmt.Errorf("browsingContext.getTree: %w", err)
	}
	if len(tree.Contexts) == 0 {
		return errors.New("browsingContext.getTree: no browsing context")
	}
	f.context = tree.Contexts[0].Context
	return nil
}

// onEvent keeps the page's console messages and JavaScript errors.
func (f *firefox) onEvent(method string, params json.RawMessage) {
	if method != "log.entryAdded" {
		return
	}
	var e struct {
		Type      string  `json:"type"`
		Level     string  `json:"level"`
		Text      string  `json:"text"`
		Timestamp float64 `json:"timestamp"`
	}
	if json.Unmarshal(params, &e) != nil {
		return
	}
	at := time.UnixMilli(int64(e.Timestamp)).Format("15:04:05.000")
	f.mu.Lock()
	f.console = append(f.console, fmt.Sprintf("%s %s %s: %s", at, e.Type, e.Level, e.Text))
	f.mu.Unlock()
}

// stop closes the browser: politely over BiDi, then by signal if it has
// not exited in 10 s; it waits for the process either way, and ends what
// remains of its process group.
func (f *firefox) stop(t *testing.T) {
	if f.bidi != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := f.bidi.call(ctx, "browser.close", nil)
		cancel()
		if err != nil {
			t.Logf("%s: browser.close: %v", f.name, err)
		}
		f.bidi.close()
	}
	select {
	case <-f.exited:
	case <-time.After(10 * time.Second):
		t.Logf("%s: still running 10 s after browser.close; killing it", f.name)
		_ = f.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-f.exited:
		case <-time.After(5 * time.Second):
			_ = f.cmd.Process.Kill()
			<-f.exited
		}
	}
	f.endGroup(t)
	if t.Failed() || os.Getenv("PRISM_E2E_CONSOLE") == "1" {
		f.mu.Lock()
		t.Logf("console of %s (%d lines):\n\t%s", f.name, len(f.console), strings.Join(f.console, "\n\t"))
		f.mu.Unlock()
		t.Logf("output of %s (last lines):\n%s", f.name, f.out.tail(60))
	}
}

// endGroup waits for Firefox's child processes (content, socket, GPU),
// which may outlive the main process by a moment, and kills those still
// there after 3 s. A process group lives as long as one of its members:
// while any is left, the group is still the one made for this Firefox and
// holds only its processes.
func (f *firefox) endGroup(t *testing.T) {
	pgid := f.cmd.Process.Pid
	start := time.Now()
	for len(groupMembers(pgid)) > 0 && time.Since(start) < 3*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
	left := groupMembers(pgid)
	if len(left) == 0 {
		return
	}
	t.Logf("%s: killing %d processes still in its group 3 s after it exited: %v", f.name, len(left), left)
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	for len(groupMembers(pgid)) > 0 && time.Since(start) < 5*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
}

// groupMembers lists the live processes whose process group is pgid.
func groupMembers(pgid int) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		var state string
		var pid, ppid, pgrp int
		if _, err := fmt.Sscanf(string(b[i+1:]), " %s %d %d", &state, &ppid, &pgrp); err != nil || pgrp != pgid || state == "Z" {
			continue // not in the group, or already dead
		}
		if _, err := fmt.Sscanf(string(b), "%d", &pid); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// navigate loads url in the page and waits for it to load.
func (f *firefox) navigate(t testing.TB, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := f.bidi.call(ctx, "browsingContext.navigate", map[string]any{"context": f.context, "url": url, "wait": "complete"})
	if err != nil {
		t.Fatalf("%s: navigate to %s: %v", f.name, url, err)
	}
}

// ffEval evaluates a JavaScript expression in Firefox's page, awaits it if
// it is a promise, and decodes its value (through JSON) into a T.
func ffEval[T any](t testing.TB, f *firefox, js string) T {
	t.Helper()
	v, err := ffTryEval[T](f, js)
	if err != nil {
		t.Fatalf("%s: evaluating %s: %v", f.name, abbrev(js), err)
	}
	return v
}

func ffTryEval[T any](f *firefox, js string) (T, error) {
	var v T
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw, err := f.bidi.evaluateJSON(ctx, f.context, js)
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("decoding %s: %w", abbrev(string(raw)), err)
	}
	return v, nil
}

// outputLog keeps the last lines written to it (Firefox's output, a
// test's log) and finds, in them, the address WebDriver BiDi listens on.
type outputLog struct {
	max     int // lines kept
	mu      sync.Mutex
	partial []byte
	lines   []string
	found   bool
	bidiURL chan string
}

var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

func newOutputLog(maxLines int) *outputLog {
	return &outputLog{max: maxLines, bidiURL: make(chan string, 1)}
}

func (o *outputLog) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.partial = append(o.partial, p...)
	for {
		i := bytes.IndexByte(o.partial, '\n')
		if i < 0 {
			break
		}
		line := string(o.partial[:i])
		o.partial = o.partial[i+1:]
		if m := bidiListening.FindStringSubmatch(line); m != nil && !o.found {
			o.found = true
			o.bidiURL <- m[1]
		}
		o.lines = append(o.lines, line)
		if len(o.lines) >= 2*o.max {
			o.lines = append(o.lines[:0], o.lines[len(o.lines)-o.max:]...)
		}
	}
	return len(p), nil
}

func (o *outputLog) tail(n int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	lines := o.lines[max(0, len(o.lines)-n):]
	return "\t" + strings.Join(lines, "\n\t")
}
