package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// The benchmark matrix: a fixed list of scenarios, each run against a fresh
// server when -server-cmd is given (so RSS and CPU belong to that scenario
// alone), summarised in one Markdown table for BENCHMARKS.md.

const (
	matrixBegin = "<!-- load-matrix:begin -->"
	matrixEnd   = "<!-- load-matrix:end -->"
	matrixRamp  = 50 // joins per second in every scenario
)

type scenario struct {
	name  string
	label string
	apply func(c *config)
}

func fanout(n int) scenario {
	return scenario{
		name:  fmt.Sprintf("fanout-%d", n),
		label: fmt.Sprintf("1 → %d, video 1.5 Mbit/s", n),
		apply: func(c *config) {
			c.Publishers, c.Subscribers, c.Video, c.Audio, c.VideoBitrate = 1, n, true, false, 1_500_000
		},
	}
}

func matrixScenarios() []scenario {
	return []scenario{
		fanout(10), fanout(50), fanout(200), fanout(500),
		{
			name:  "conference-5x5",
			label: "5×5 conference, audio + video 1.5 Mbit/s",
			apply: func(c *config) {
				c.Publishers, c.Subscribers, c.Conference, c.Video, c.Audio, c.VideoBitrate = 5, 0, true, true, true, 1_500_000
			},
		},
		{
			// Ten rooms of one speaker and fifty listeners: 500 audio
			// subscriptions. In one room every listener would receive ten
			// tracks (250,000 packets/s), which on this machine measures
			// the load-test client, not the server.
			name:  "audio-10x500",
			label: "10 audio → 500 (10 rooms of 1 → 50)",
			apply: func(c *config) {
				c.Publishers, c.Subscribers, c.Rooms, c.Video, c.Audio = 10, 500, 10, false, true
			},
		},
	}
}

// matrixRow is one line of the table.
type matrixRow struct {
	label string
	rep   *Report
	err   error
}

// runMatrix runs the scenarios cfg.MatrixScenarios selects and prints the
// table. It returns 1 when a scenario could not run or lost tracks.
func runMatrix(ctx context.Context, base *config, stdout, stderr io.Writer) int {
	want := map[string]bool{}
	for _, s := range strings.Split(base.MatrixScenarios, ",") {
		if s = strings.TrimSpace(s); s != "" {
			want[s] = true
		}
	}
	all := want["all"]
	known := map[string]bool{"capacity": true}
	for _, sc := range matrixScenarios() {
		known[sc.name] = true
	}
	for s := range want {
		if s != "all" && !known[s] {
			fmt.Fprintf(stderr, "loadtest: -matrix-scenarios: unknown scenario %q\n", s)
			return exitSetup
		}
	}
	started := time.Now()

	var rows []matrixRow
	code := exitOK
	for _, sc := range matrixScenarios() {
		if ctx.Err() != nil || !(all || want[sc.name]) {
			continue
		}
		c := scenarioConfig(base, sc.name)
		sc.apply(c)
		fmt.Fprintf(stderr, "\n=== %s: %s\n", sc.name, sc.label)
		rep, err := runScenario(ctx, base, c, stderr)
		rows = append(rows, matrixRow{label: sc.label, rep: rep, err: err})
		if err != nil || !rep.Pass {
			code = exitFail
		}
	}
	var capNote string
	if ctx.Err() == nil && (all || want["capacity"]) {
		row, note := capacitySearch(ctx, base, stderr)
		rows = append(rows, row)
		capNote = note
	}

	md := matrixMarkdown(rows, capNote, base, started)
	fmt.Fprint(stdout, "\n"+md)
	if base.MatrixOut != "" {
		if err := os.WriteFile(base.MatrixOut, []byte(md), 0o644); err != nil {
			fmt.Fprintf(stderr, "loadtest: -matrix-out: %v\n", err)
			code = exitSetup
		}
	}
	if base.BenchFile != "" {
		switch updated, err := updateBenchFile(base.BenchFile, md); {
		case err != nil:
			fmt.Fprintf(stderr, "loadtest: %s: %v\n", base.BenchFile, err)
			code = exitSetup
		case updated:
			fmt.Fprintf(stderr, "loadtest: updated the load matrix in %s\n", base.BenchFile)
		}
	}
	return code
}

// scenarioConfig copies the flags that apply to every scenario.
func scenarioConfig(base *config, name string) *config {
	c := *base
	c.Matrix = false
	c.Room = "matrix-" + name
	c.Rooms = 1
	c.Conference = false
	c.Duration = base.MatrixDuration
	c.Ramp = matrixRamp
	c.FPS = 30
	c.KeyframeInterval = 2 * time.Second
	c.JSONFile, c.HTMLFile = "", ""
	c.MaxLossPct, c.MaxP99 = -1, 0
	c.Quiet = base.Quiet
	return &c
}

// runScenario starts a server if -server-cmd says how, runs c against it
// and stops it again.
func runScenario(ctx context.Context, base, c *config, stderr io.Writer) (*Report, error) {
	if base.ServerCmd != "" {
		srv, err := startServer(ctx, base.ServerCmd, c.URL, base.MatrixServerWait, stderr)
		if err != nil {
			return nil, err
		}
		defer srv.stop()
		c.ServerPID = srv.pid()
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	rep, leave, err := runLoad(ctx, c, stderr, nil)
	if err != nil {
		return nil, err
	}
	writeTable(stderr, rep)
	leave() // before the server stops
	return rep, nil
}

// capacitySearch finds the largest number of subscribers of one 1.5 Mbit/s
// video stream that the server forwards with loss under -capacity-loss and
// p99 latency under -capacity-p99: it doubles from 50 until a run fails,
// then bisects to within 5%. A failed probe is run once more before it
// counts, since a shared machine's hiccup fails runs more often than it
// passes them.
func capacitySearch(ctx context.Context, base *config, stderr io.Writer) (matrixRow, string) {
	label := fmt.Sprintf("capacity: 1 → N, video 1.5 Mbit/s (loss < %g %%, p99 < %v)", base.CapacityLossPct, base.CapacityP99)
	var best *Report
	var probes []string
	probe := func(n int) bool {
		c := scenarioConfig(base, fmt.Sprintf("capacity-%d", n))
		fanout(n).apply(c)
		c.Duration = min(base.MatrixDuration, 10*time.Second)
		fmt.Fprintf(stderr, "\n=== capacity probe: %d subscribers\n", n)
		rep, err := runScenario(ctx, base, c, stderr)
		ok := err == nil && rep.TracksReceived == rep.TracksExpected && rep.Clients.Failed == 0 &&
			rep.LossPct < base.CapacityLossPct && rep.LatencyMS.P99 < float64(base.CapacityP99)/float64(time.Millisecond)
		switch {
		case err != nil:
			probes = append(probes, fmt.Sprintf("%d: error", n))
		default:
			probes = append(probes, fmt.Sprintf("%d: %s (loss %.2f %%, p99 %.1f ms)", n, map[bool]string{true: "pass", false: "fail"}[ok], rep.LossPct, rep.LatencyMS.P99))
		}
		if ok && (best == nil || n > best.Setup.Subscribers) {
			best = rep
		}
		return ok
	}
	try := func(n int) bool {
		return probe(n) || (ctx.Err() == nil && probe(n))
	}
	lo, hi := 0, 0 // lo passes, hi fails (0: unknown)
	for n := 50; n <= base.CapacityMax && ctx.Err() == nil; n *= 2 {
		if !try(n) {
			hi = n
			break
		}
		lo = n
	}
	if hi == 0 && lo > 0 && lo < base.CapacityMax && ctx.Err() == nil {
		if try(base.CapacityMax) {
			lo = base.CapacityMax
		} else {
			hi = base.CapacityMax
		}
	}
	for hi > 0 && hi-lo > max(10, lo/20) && ctx.Err() == nil {
		mid := (lo + hi) / 2
		if try(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	note := "Capacity search probes: " + strings.Join(probes, "; ") + "."
	if best == nil {
		return matrixRow{label: label, err: errors.New("no probe passed")}, note
	}
	return matrixRow{label: fmt.Sprintf("%s: **%d**", label, best.Setup.Subscribers), rep: best}, note
}

func matrixMarkdown(rows []matrixRow, capNote string, base *config, started time.Time) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "Measured %s on %s (%d cores, %s, GOMAXPROCS %d); server and load-test client on the same machine. ",
		started.UTC().Format("2006-01-02 15:04 MST"), host, runtime.NumCPU(), runtime.Version(), runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "Each scenario: joins at %d/s, then a %v steady window; figures cover the window. ", matrixRamp, base.MatrixDuration)
	b.WriteString("Packets/s out: packets the subscribers received per second. CPU/packet: server CPU time over the window divided by those packets. ")
	b.WriteString("Latency: publisher send to subscriber read. Join: WebSocket connect to the first packet of every track. Server RSS: peak resident memory. ")
	b.WriteString("UDP drops: datagrams the kernel dropped at the load-test client's / the server's sockets (full receive buffers); drops at the client mean the client, not the server, was the limit.\n")
	fmt.Fprintf(&b, "Command: `go run ./cmd/loadtest -matrix%s`", commandFlags(base))
	if base.ServerCmd != "" {
		fmt.Fprintf(&b, ", with a fresh `%s` for each scenario", serverLabel(base.ServerCmd))
	}
	b.WriteString(".\n\n")
	b.WriteString("| Scenario | Packets/s out | Server µs CPU / packet | Server CPU | Latency p50 / p99 (ms) | Loss | Server RSS | Join p50 / p99 (ms) | Client CPU | UDP drops client / server | Tracks |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		if r.rep == nil {
			msg := "failed"
			if r.err != nil {
				msg = "failed: " + strings.ReplaceAll(r.err.Error(), "|", "/")
			}
			fmt.Fprintf(&b, "| %s | %s | | | | | | | | | |\n", r.label, msg)
			continue
		}
		rp := r.rep
		us, cpu, rss := "n/a", "n/a", "n/a"
		if rp.Server != nil {
			us = fmt.Sprintf("%.1f", rp.Server.CPUUsPerPacket)
			cpu = fmt.Sprintf("%.0f %%", rp.Server.CPUPct)
			mb := rp.Server.RSSPeakMB
			if mb == 0 {
				mb = rp.Server.RSSMB
			}
			rss = fmt.Sprintf("%.0f MB", mb)
		}
		clientPct := 0.0
		if rp.WindowSeconds > 0 {
			clientPct = 100 * rp.ClientCPUSeconds / rp.WindowSeconds
		}
		drops := "n/a"
		if d := rp.UDPSocketDrops; d != nil {
			drops = fmt.Sprintf("%d / n/a", d.Client)
			if d.Server != nil {
				drops = fmt.Sprintf("%d / %d", d.Client, *d.Server)
			}
		}
		tracks := fmt.Sprintf("%d/%d", rp.TracksReceived, rp.TracksExpected)
		if rp.TracksReceived < rp.TracksExpected {
			tracks = "**" + tracks + "**"
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %.2f / %.2f | %.2f %% | %s | %.0f / %.0f | %.0f %% | %s | %s |\n",
			r.label, rp.PPSIn, us, cpu, rp.LatencyMS.P50, rp.LatencyMS.P99, rp.LossPct, rss,
			rp.JoinMS.P50, rp.JoinMS.P99, clientPct, drops, tracks)
	}
	if capNote != "" {
		b.WriteString("\n" + capNote + "\n")
	}
	return b.String()
}

// commandFlags renders the matrix flags that differ from the defaults.
func commandFlags(c *config) string {
	s := " -url " + c.URL
	if c.MatrixDuration != 20*time.Second {
		s += " -matrix-duration " + c.MatrixDuration.String()
	}
	if c.MatrixScenarios != "all" {
		s += " -matrix-scenarios " + c.MatrixScenarios
	}
	return s
}

// serverLabel shortens a server command for the table's caption: the
// program's base name (the build directory is temporary) and its flags.
func serverLabel(cmd string) string {
	f := strings.Fields(cmd)
	if len(f) == 0 {
		return ""
	}
	f[0] = filepath.Base(f[0])
	return strings.Join(f, " ")
}

// updateBenchFile replaces the text between the matrix markers in path
// with md. A file without the markers gets them, with md, at its end; a
// missing file is left alone (updated is false).
func updateBenchFile(path, md string) (updated bool, err error) {
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	section := matrixBegin + "\n" + md + matrixEnd
	var out []byte
	i := bytes.Index(old, []byte(matrixBegin))
	j := bytes.Index(old, []byte(matrixEnd))
	switch {
	case i >= 0 && j > i:
		out = append(append(append([]byte{}, old[:i]...), section...), old[j+len(matrixEnd):]...)
	case i >= 0 || j >= 0:
		return false, errors.New("only one of the load-matrix markers is present")
	default:
		out = append(bytes.TrimRight(old, "\n"), []byte("\n\n"+section+"\n")...)
	}
	return true, os.WriteFile(path, out, 0o644)
}

// managedServer is a server process the matrix started.
type managedServer struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func (s *managedServer) pid() int { return s.cmd.Process.Pid }

// startServer runs command with sh (exec'd, so the PID is the server's)
// and waits until the host:port of wsURL accepts TCP connections.
func startServer(ctx context.Context, command, wsURL string, wait time.Duration, stderr io.Writer) (*managedServer, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, err
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"ws": "80", "wss": "443"}[u.Scheme])
	}
	if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("something already listens on %s: stop it, or run the matrix without -server-cmd", addr)
	}
	cmd := exec.Command("sh", "-c", "exec "+command)
	cmd.Stdout = io.Discard
	cmd.Stderr = &tailWriter{w: stderr, prefix: "server: "}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("-server-cmd: %w", err)
	}
	s := &managedServer{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(wait)
	for {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("-server-cmd exited before listening on %s: %v", addr, cmd.ProcessState)
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("-server-cmd did not listen on %s within %v", addr, wait)
		}
	}
}

// stop sends the server SIGTERM, then SIGKILL after five seconds.
func (s *managedServer) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// tailWriter passes a child's stderr through with a prefix on each line.
type tailWriter struct {
	w      io.Writer
	prefix string
	buf    []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	for {
		i := bytes.IndexByte(t.buf, '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(t.w, "%s%s\n", t.prefix, t.buf[:i])
		t.buf = t.buf[i+1:]
	}
	return len(p), nil
}
