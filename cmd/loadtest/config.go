package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// config is one load test as the flags describe it.
type config struct {
	URL         string
	Room        string
	Rooms       int
	Publishers  int
	Subscribers int
	Conference  bool
	Duration    time.Duration
	Ramp        float64
	JoinTimeout time.Duration
	Video       bool
	Audio       bool
	// VideoBitrate is in bits per second.
	VideoBitrate     int
	FPS              int
	KeyframeInterval time.Duration
	Token            string
	Name             string
	Loopback         string // "auto", "true" or "false"

	JSONFile string
	HTMLFile string
	// ServerPID is the process whose CPU and memory are sampled; 0 for none.
	ServerPID int
	// MaxLossPct is the loss threshold in percent; negative when unset.
	MaxLossPct   float64
	MaxP99       time.Duration
	Quiet        bool
	CPUProfile   string
	LogLevel     string
	CloseTimeout time.Duration

	// Matrix mode (see matrix.go).
	Matrix           bool
	ServerCmd        string
	MatrixDuration   time.Duration
	MatrixOut        string
	BenchFile        string
	MatrixScenarios  string
	CapacityMax      int
	CapacityLossPct  float64
	CapacityP99      time.Duration
	MatrixServerWait time.Duration
}

const usageHeader = `loadtest drives a Prism SFU with synthetic publishers and subscribers and
measures what the subscribers receive: join time, one-way latency from the
publisher's send to the subscriber's read, loss, NACKs and PLIs, per-track
bitrate, and (with -server-pid) the server's CPU and memory.

A run has three phases: publishers join and start sending; subscribers join
at -ramp per second; once every client has joined and every expected track
is flowing (or -join-timeout has passed) the steady window of -duration
starts. Loss, latency, bitrate and CPU figures cover the steady window.
A progress line is printed every second. Ctrl-C ends the run early and still
prints the report. The exit code is 1 when a threshold is exceeded or an
expected track never arrived, 2 on a usage or setup error.

Examples:
  loadtest -url ws://127.0.0.1:8800/ws -room bench -publishers 1 -subscribers 50 \
      -duration 30s -video-bitrate 1500k -audio -json report.json -server-pid 12345
  loadtest -conference -publishers 5 -audio -duration 20s       # 5x5 meeting
  loadtest -rooms 10 -publishers 10 -subscribers 200            # 10 rooms of 1+20
  loadtest -matrix -server-cmd './prism -addr 127.0.0.1:8800'   # benchmark matrix

Flags:
`

// parseFlags parses args into a config. It returns flag.ErrHelp for -h.
func parseFlags(args []string, out io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, usageHeader)
		fs.PrintDefaults()
	}

	var videoBitrate, maxLoss string
	fs.StringVar(&c.URL, "url", "ws://127.0.0.1:8800/ws", "Prism signaling `URL` (ws:// or wss://)")
	fs.StringVar(&c.Room, "room", "loadtest", "room `name`; with -rooms N > 1 the rooms are NAME-1 ... NAME-N")
	fs.IntVar(&c.Rooms, "rooms", 1, "spread publishers and subscribers round-robin over `N` rooms")
	fs.IntVar(&c.Publishers, "publishers", 1, "`number` of publishing participants (in total, over all rooms)")
	fs.IntVar(&c.Subscribers, "subscribers", 10, "`number` of subscribe-only participants (in total); each subscribes to every track published in its room")
	fs.BoolVar(&c.Conference, "conference", false, "publishers also subscribe to every other publisher in their room (a meeting: -publishers 5 -conference is 5x5)")
	fs.DurationVar(&c.Duration, "duration", 30*time.Second, "length of the steady measurement window after everyone has joined")
	fs.Float64Var(&c.Ramp, "ramp", 20, "`N` joins per second: subscribers, and in -conference mode the publishers too; 0 joins everyone at once")
	fs.DurationVar(&c.JoinTimeout, "join-timeout", 20*time.Second, "after the last join, how long to wait for every expected track before measuring anyway (missing tracks fail the run)")
	fs.BoolVar(&c.Video, "video", true, "each publisher sends one synthetic VP8 video track (-video=false for audio only)")
	fs.BoolVar(&c.Audio, "audio", false, "each publisher sends one synthetic Opus-sized audio track (a packet every 20 ms)")
	fs.StringVar(&videoBitrate, "video-bitrate", "1500k", "video `bitrate` in bit/s; k and M suffixes allowed (1500k, 2.5M)")
	fs.IntVar(&c.FPS, "fps", 30, "`N` video frames per second")
	fs.DurationVar(&c.KeyframeInterval, "keyframe-interval", 2*time.Second, "time between periodic video keyframes; a PLI from the server forces one sooner")
	fs.StringVar(&c.Token, "token", "", "join `token` passed to the server, if it requires one")
	fs.StringVar(&c.Name, "name", "lt", "participant name `prefix`; clients are PREFIX-pub-N and PREFIX-sub-N")
	fs.StringVar(&c.Loopback, "loopback", "auto", "offer and accept loopback ICE candidates only: true, false, or auto (true when -url's host is a loopback address)")
	fs.StringVar(&c.JSONFile, "json", "", "write the report as JSON to `FILE`")
	fs.StringVar(&c.HTMLFile, "html", "", "write a self-contained HTML report with plots over time to `FILE`")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "sample CPU time and RSS of process `PID` from /proc (the server, when it runs on this machine)")
	fs.StringVar(&maxLoss, "max-loss", "", "exit 1 when steady-window loss exceeds this `percent` (e.g. 1 or 0.5%)")
	fs.DurationVar(&c.MaxP99, "max-p99-latency", 0, "exit 1 when the steady-window p99 latency exceeds this `duration` (e.g. 10ms)")
	fs.BoolVar(&c.Quiet, "quiet", false, "no progress line")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a CPU profile of the load-test client itself to `FILE` (go tool pprof)")
	fs.StringVar(&c.LogLevel, "log-level", "error", "client library log `level`: debug, info, warn, error")
	fs.DurationVar(&c.CloseTimeout, "close-timeout", 15*time.Second, "how long to wait for clients to leave at the end")

	fs.BoolVar(&c.Matrix, "matrix", false, "run the benchmark matrix (fan-out 1->10/50/200/500, 5x5 conference, 10 audio -> 500, capacity search) and print a Markdown table")
	fs.StringVar(&c.ServerCmd, "server-cmd", "", "matrix: `command` line that starts a Prism server listening on -url; started afresh for each scenario, and its CPU/RSS sampled. Without it the matrix targets -url (and -server-pid, if given)")
	fs.DurationVar(&c.MatrixDuration, "matrix-duration", 20*time.Second, "matrix: steady window of each scenario")
	fs.StringVar(&c.MatrixOut, "matrix-out", "", "matrix: also write the Markdown table to `FILE`")
	fs.StringVar(&c.BenchFile, "bench-file", "BENCHMARKS.md", "matrix: rewrite the section between <!-- load-matrix:begin --> and <!-- load-matrix:end --> of this `file` if it exists; empty to skip")
	fs.StringVar(&c.MatrixScenarios, "matrix-scenarios", "all", "matrix: comma-separated `list` of scenarios to run: fanout-10, fanout-50, fanout-200, fanout-500, conference-5x5, audio-10x500, capacity, or all")
	fs.IntVar(&c.CapacityMax, "capacity-max", 1500, "matrix: largest subscriber `count` the capacity search tries")
	fs.Float64Var(&c.CapacityLossPct, "capacity-loss", 1, "matrix: capacity search passes while loss is below this `percent`")
	fs.DurationVar(&c.CapacityP99, "capacity-p99", 10*time.Millisecond, "matrix: capacity search passes while p99 latency is below this")
	fs.DurationVar(&c.MatrixServerWait, "server-start-timeout", 15*time.Second, "matrix: how long to wait for a started server to accept connections")

	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var err error
	if c.VideoBitrate, err = parseBitrate(videoBitrate); err != nil {
		return nil, fmt.Errorf("-video-bitrate: %w", err)
	}
	c.MaxLossPct = -1
	if maxLoss != "" {
		v, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(maxLoss), "%"), 64)
		if err != nil || v < 0 || v > 100 {
			return nil, fmt.Errorf("-max-loss: %q is not a percentage between 0 and 100", maxLoss)
		}
		c.MaxLossPct = v
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *config) validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return fmt.Errorf("-url: %q is not a ws:// or wss:// URL", c.URL)
	}
	switch {
	case c.Room == "":
		return errors.New("-room must not be empty")
	case c.Rooms < 1:
		return errors.New("-rooms must be at least 1")
	case c.Publishers < 0 || c.Subscribers < 0:
		return errors.New("-publishers and -subscribers must not be negative")
	case c.Duration < 0 || c.JoinTimeout < 0 || c.CloseTimeout < 0:
		return errors.New("durations must not be negative")
	case c.Ramp < 0:
		return errors.New("-ramp must not be negative")
	case c.Matrix:
		// The matrix sets its own counts; the rest is checked per scenario.
		return nil
	case c.Publishers == 0:
		return errors.New("-publishers must be at least 1")
	case !c.Video && !c.Audio:
		return errors.New("publishers send nothing: set -video and/or -audio")
	case c.Video && (c.FPS < 1 || c.FPS > 240):
		return errors.New("-fps must be between 1 and 240")
	case c.Video && c.VideoBitrate < 10_000:
		return errors.New("-video-bitrate must be at least 10k")
	case c.Video && c.KeyframeInterval <= 0:
		return errors.New("-keyframe-interval must be positive")
	case c.Subscribers == 0 && !(c.Conference && c.Publishers > 1):
		return errors.New("nobody subscribes: set -subscribers, or -conference with at least 2 publishers")
	}
	switch c.Loopback {
	case "auto", "true", "false":
	default:
		return fmt.Errorf("-loopback: %q is not auto, true or false", c.Loopback)
	}
	return nil
}

// loopbackOnly reports whether ICE should be limited to loopback addresses.
func (c *config) loopbackOnly() bool {
	switch c.Loopback {
	case "true":
		return true
	case "false":
		return false
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// roomName returns the name of room i (0-based).
func (c *config) roomName(i int) string {
	if c.Rooms <= 1 {
		return c.Room
	}
	return fmt.Sprintf("%s-%d", c.Room, i+1)
}

// parseBitrate parses "1500k", "1.5M", "800000" or "1500kbps" into bit/s.
func parseBitrate(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "bps")
	t = strings.TrimSuffix(t, "bit/s")
	mult := 1.0
	switch {
	case strings.HasSuffix(t, "k"):
		mult, t = 1e3, strings.TrimSuffix(t, "k")
	case strings.HasSuffix(t, "m"):
		mult, t = 1e6, strings.TrimSuffix(t, "m")
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 || v*mult > 1e10 {
		return 0, fmt.Errorf("%q is not a bitrate like 1500k or 2.5M", s)
	}
	return int(v * mult), nil
}
