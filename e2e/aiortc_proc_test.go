package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// systemPython is Debian's Python, where python3-aiortc installs aiortc.
const systemPython = "/usr/bin/python3"

// aiortcScript is the Prism client on aiortc, relative to this package.
const aiortcScript = "aiortc/client.py"

// aiortcScriptPath finds client.py: in the working directory, where go
// test runs a package's tests, or else beside this source file, for a
// test binary run from elsewhere.
func aiortcScriptPath(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(aiortcScript); err == nil {
		return aiortcScript
	}
	_, file, _, ok := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), aiortcScript)
	if _, err := os.Stat(p); !ok || err != nil {
		t.Fatalf("%s not found in the working directory nor at %s: %v", aiortcScript, p, err)
	}
	return p
}

// aiortcUnavailable skips the test, loudly, because aiortc cannot run
// here; with CI=true it fails instead, so that CI never passes without it.
func aiortcUnavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: aiortc tests must not be skipped)", msg)
	}
	t.Log("*** SKIPPING AIORTC TEST ***")
	t.Skip(msg)
}

// aiortcPython returns the Python that has aiortc and websockets, and
// aiortc's version, or skips the test.
func aiortcPython(t testing.TB) (python, version string) {
	t.Helper()
	python = systemPython
	if p := os.Getenv("PRISM_PYTHON"); p != "" {
		python = p
	}
	if _, err := os.Stat(python); err != nil {
		aiortcUnavailable(t, fmt.Sprintf("%s not found: %v", python, err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c", "import aiortc, websockets; print(aiortc.__version__)").CombinedOutput()
	if err != nil {
		aiortcUnavailable(t, fmt.Sprintf("%s cannot import aiortc and websockets (%v: %s): install them with apt-get install python3-aiortc python3-websockets (make test does this in CI)",
			python, err, bytes.TrimSpace(out)))
	}
	return python, string(bytes.TrimSpace(out))
}

// ---- what client.py prints, one JSON object a line ----

type aiortcInbound struct {
	MID           string   `json:"mid"`
	Kind          string   `json:"kind"`
	ParticipantID string   `json:"participant_id"`
	TrackID       string   `json:"track_id"`
	Codec         string   `json:"codec"`
	Packets       int      `json:"packets"`
	FramesDecoded int      `json:"frames_decoded"`
	FirstFrameS   *float64 `json:"first_frame_s"`
	Width         int      `json:"width"`
	Height        int      `json:"height"`
	SampleRate    int      `json:"sample_rate"`
}

type aiortcOutbound struct {
	TrackID string `json:"track_id"`
	Kind    string `json:"kind"`
	Packets int    `json:"packets"`
}

type aiortcStats struct {
	T        float64          `json:"t"`
	Received []aiortcInbound  `json:"received"`
	Sent     []aiortcOutbound `json:"sent"`
}

// aiortcTransport is a connection of aiortc's once it is connected.
type aiortcTransport struct {
	PC              string   `json:"pc"`
	AtS             float64  `json:"at_s"`
	DTLSRole        string   `json:"dtls_role"`
	DTLSVersion     string   `json:"dtls_version"`
	DTLSCipher      string   `json:"dtls_cipher"`
	SRTPProfile     string   `json:"srtp_profile"`
	ICERole         string   `json:"ice_role"`
	LocalCandidates []string `json:"local_candidates"`
	SelectedPair    string   `json:"selected_pair"`
}

// aiortcNegotiation is one completed offer/answer exchange.
type aiortcNegotiation struct {
	PC              string        `json:"pc"`
	LocalSetup      string        `json:"local_setup"`
	RemoteSetup     string        `json:"remote_setup"`
	LocalCandidates []string      `json:"local_candidates"`
	Media           []aiortcMedia `json:"media"`
}

// aiortcMedia is a media section of the answer.
type aiortcMedia struct {
	MID        string   `json:"mid"`
	Kind       string   `json:"kind"`
	Direction  string   `json:"direction"`
	MSID       string   `json:"msid"`
	Codecs     []string `json:"codecs"`
	RTCPFB     []string `json:"rtcp_fb"`
	Extensions []string `json:"extensions"`
}

type aiortcError struct {
	Source  string `json:"source"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

type aiortcSummary struct {
	ParticipantID string                       `json:"participant_id"`
	Seconds       float64                      `json:"seconds"`
	Received      []aiortcInbound              `json:"received"`
	Sent          []aiortcOutbound             `json:"sent"`
	Connected     map[string]aiortcTransport   `json:"connected"`
	Negotiated    map[string]aiortcNegotiation `json:"negotiated"`
	Errors        []aiortcError                `json:"errors"`
}

// ---- the process ----

// aiortcClient is one client.py process and what it has said so far.
type aiortcClient struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stderr lockedBuffer

	mu         sync.Mutex
	partial    []byte // stdout after its last newline
	lines      []string
	joined     string
	stats      aiortcStats
	connected  map[string]aiortcTransport
	negotiated map[string]aiortcNegotiation
	errors     []aiortcError
	summary    *aiortcSummary

	done     chan struct{} // closed once the process has exited
	exitCode int           // valid after done
	waitErr  error         // valid after done
}

// startAiortc runs client.py against Prism's WebSocket URL. It is stopped
// (SIGTERM, then SIGKILL after 5 s) and waited for when the test ends; if
// the test failed, its output is logged.
func startAiortc(t *testing.T, python, wsURL, room string, extra ...string) *aiortcClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	script := aiortcScriptPath(t)
	args := append([]string{script, wsURL, "--room", room, "--name", "aiortc", "--duration", "60"}, extra...)
	if os.Getenv("PRISM_AIORTC_DEBUG") == "1" {
		args = append(args, "--verbose")
	}
	c := &aiortcClient{
		cancel: cancel, done: make(chan struct{}),
		connected: map[string]aiortcTransport{}, negotiated: map[string]aiortcNegotiation{},
	}
	c.cmd = exec.CommandContext(ctx, python, args...)
	c.cmd.Cancel = func() error { return c.cmd.Process.Signal(syscall.SIGTERM) }
	c.cmd.WaitDelay = 5 * time.Second
	c.cmd.Stdout = writerFunc(c.write)
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s %s: %v", python, script, err)
	}
	go func() {
		defer close(c.done)
		c.waitErr = c.cmd.Wait()
		c.exitCode = c.cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		c.stop()
		if t.Failed() || os.Getenv("PRISM_AIORTC_DEBUG") == "1" {
			c.logOutput(t)
		}
	})
	return c
}

// stop sends SIGTERM, waits for the process to exit and returns its exit
// code (-1 if it had to be killed).
func (c *aiortcClient) stop() int {
	c.cancel()
	<-c.done
	return c.exitCode
}

func (c *aiortcClient) logOutput(t *testing.T) {
	c.mu.Lock()
	n, lines := len(c.lines), strings.Join(c.lines, "\n\t")
	c.mu.Unlock()
	t.Logf("aiortc client: exit code %d (%v); stdout (%d lines):\n\t%s", c.exitCode, c.waitErr, n, lines)
	t.Logf("aiortc client stderr:\n%s", c.stderr.String())
}

// write takes the process's stdout and handles each complete line.
func (c *aiortcClient) write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		c.handleLocked(c.partial[:i])
		c.partial = c.partial[i+1:]
	}
}

// handleLocked records one JSON line. Called with c.mu held.
func (c *aiortcClient) handleLocked(line []byte) {
	c.lines = append(c.lines, string(line))
	var head struct {
		Event         string `json:"event"`
		ParticipantID string `json:"participant_id"`
		PC            string `json:"pc"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		c.errors = append(c.errors, aiortcError{Source: "test", Message: fmt.Sprintf("not JSON: %q", line)})
		return
	}
	var err error
	switch head.Event {
	case "joined":
		c.joined = head.ParticipantID
	case "stats":
		// A fresh value: snapshots share the old one's slices.
		var st aiortcStats
		err = json.Unmarshal(line, &st)
		c.stats = st
	case "connected":
		var tr aiortcTransport
		err = json.Unmarshal(line, &tr)
		c.connected[head.PC] = tr
	case "negotiated":
		var n aiortcNegotiation
		err = json.Unmarshal(line, &n)
		c.negotiated[head.PC] = n
	case "error":
		var e aiortcError
		err = json.Unmarshal(line, &e)
		c.errors = append(c.errors, e)
	case "summary":
		c.summary = &aiortcSummary{}
		err = json.Unmarshal(line, c.summary)
	}
	if err != nil {
		c.errors = append(c.errors, aiortcError{Source: "test", Message: fmt.Sprintf("%s line: %v", head.Event, err)})
	}
}

// snapshot returns what the client has said so far.
func (c *aiortcClient) snapshot() (joined string, st aiortcStats, connected map[string]aiortcTransport, negotiated map[string]aiortcNegotiation, errs []aiortcError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	connected = make(map[string]aiortcTransport, len(c.connected))
	for k, v := range c.connected {
		connected[k] = v
	}
	negotiated = make(map[string]aiortcNegotiation, len(c.negotiated))
	for k, v := range c.negotiated {
		negotiated[k] = v
	}
	return c.joined, c.stats, connected, negotiated, append([]aiortcError(nil), c.errors...)
}

// exited returns how the process ended, or "" while it runs.
func (c *aiortcClient) exited() string {
	select {
	case <-c.done:
		return fmt.Sprintf("the aiortc client exited (code %d: %v)", c.exitCode, c.waitErr)
	default:
		return ""
	}
}

// writerFunc adapts a function to io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
