package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/interceptor"

	"github.com/prismsfu/prism/internal/testenv"
)

// These tests run the bot in-process against a real Prism server on
// 127.0.0.1. The server shares the test's process, so -server-pid is our
// own PID: its CPU figures include the bot's, but every field is exercised.

// baseArgs are the flags every end-to-end test uses: a low bitrate keeps
// the race detector's cost down, and no ramp keeps the runs short.
func baseArgs(url string) []string {
	return []string{
		"-url", url, "-ramp", "0", "-video-bitrate", "400k", "-fps", "20",
		"-keyframe-interval", "1s", "-join-timeout", "10s", "-close-timeout", "10s",
		"-server-pid", strconv.Itoa(os.Getpid()),
	}
}

func runBot(t *testing.T, ctx context.Context, args []string, extra func(*interceptor.Registry) error) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runWith(ctx, args, &stdout, &stderr, extra)
	return code, stdout.String(), stderr.String()
}

func readReport(t *testing.T, path string) (*Report, map[string]any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read report: %v", err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("decode report: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("decode report: %v", err)
	}
	return &rep, raw
}

// requireFields fails unless raw holds every dotted path.
func requireFields(t *testing.T, raw map[string]any, paths ...string) {
	t.Helper()
	for _, p := range paths {
		var cur any = raw
		for _, k := range strings.Split(p, ".") {
			m, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur, ok = m[k]
			if !ok {
				cur = nil
				break
			}
		}
		if cur == nil {
			t.Errorf("report JSON has no %q", p)
		}
	}
}

func TestFanoutReportsEverything(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	dir := t.TempDir()
	jsonPath, htmlPath := filepath.Join(dir, "report.json"), filepath.Join(dir, "report.html")
	args := append(baseArgs(srv.WSURL), "-room", "fanout", "-publishers", "1", "-subscribers", "5",
		"-audio", "-duration", "3s", "-json", jsonPath, "-html", htmlPath,
		"-max-loss", "0", "-max-p99-latency", "2s")

	code, stdout, stderr := runBot(t, context.Background(), args, nil)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"Prism load test", "latency", "PASS"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "joined 6/6") {
		t.Errorf("no progress line saying everyone joined:\n%s", stderr)
	}

	rep, raw := readReport(t, jsonPath)
	requireFields(t, raw,
		"join_ms.p50", "join_ms.p95", "join_ms.p99",
		"latency_ms.p50", "latency_ms.p95", "latency_ms.p99", "latency_ms.max",
		"tracks_expected", "tracks_received",
		"packets_sent", "packets_expected", "packets_received", "loss_pct", "nacks_sent", "plis_sent",
		"bitrate_kbps.min", "bitrate_kbps.p50", "client_cpu_seconds",
		"server.cpu_seconds", "server.rss_mb", "server.cpu_us_per_packet",
		"udp_rcvbuf_errors", "udp_socket_drops.client", "udp_socket_drops.server", "series")

	if rep.Partial || rep.Window != "steady" || !rep.Pass {
		t.Errorf("partial=%v window=%q pass=%v violations=%v", rep.Partial, rep.Window, rep.Pass, rep.Violations)
	}
	if rep.TracksExpected != 10 || rep.TracksReceived != 10 {
		t.Errorf("tracks: %d of %d received, want 10 of 10 (%v)", rep.TracksReceived, rep.TracksExpected, rep.MissingTracks)
	}
	if rep.LossPct != 0 || rep.PacketsReceived != rep.PacketsExpected {
		t.Errorf("loss %.3f%%: received %d of %d", rep.LossPct, rep.PacketsReceived, rep.PacketsExpected)
	}
	// 5 subscribers of every packet the publisher sent in the window.
	if rep.PacketsSent == 0 || rep.PacketsExpected != 5*rep.PacketsSent {
		t.Errorf("packets: sent %d, expected %d; want expected = 5 x sent", rep.PacketsSent, rep.PacketsExpected)
	}
	l := rep.LatencyMS
	if !(l.P50 > 0 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latency percentiles not positive and ordered: %+v", l)
	}
	j := rep.JoinMS
	if j.Count != 5 || !(j.P50 > 0 && j.P50 <= j.P95 && j.P95 <= j.P99) {
		t.Errorf("join percentiles: %+v, want 5 positive ordered samples", j)
	}
	// 400 kbit/s of payload, plus RTP headers: anything near is right.
	if rep.BitrateKbps.Tracks != 5 || rep.BitrateKbps.Min < 250 || rep.BitrateKbps.P50 > 600 {
		t.Errorf("bitrate: %+v, want 5 tracks near 400 kbit/s", rep.BitrateKbps)
	}
	if rep.Server == nil || rep.Server.CPUSeconds <= 0 || rep.Server.RSSMB <= 0 || rep.Server.CPUUsPerPacket <= 0 {
		t.Errorf("server figures missing: %+v", rep.Server)
	}
	if rep.ClientCPUSeconds <= 0 {
		t.Errorf("client_cpu_seconds = %v", rep.ClientCPUSeconds)
	}
	if len(rep.Series) < 3 {
		t.Errorf("only %d progress samples", len(rep.Series))
	}

	html, err := os.ReadFile(htmlPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "Packets per second", "Latency percentiles", "Loss", "CPU", "PASS"} {
		if !bytes.Contains(html, []byte(want)) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script src", "<link ", "http://", "https://"} {
		if bytes.Contains(html, []byte(bad)) && !bytes.Contains(html, []byte("http://www.w3.org/2000/svg")) {
			t.Errorf("HTML report is not self-contained: has %q", bad)
		}
	}
}

// dropFactory builds an interceptor that drops every 10th incoming RTP
// packet by sequence number. The choice depends on the sequence number
// alone, so a retransmission of a dropped packet is dropped too and the
// loss stays visible after NACKs.
type dropFactory struct{}

func (dropFactory) NewInterceptor(string) (interceptor.Interceptor, error) { return &dropper{}, nil }

type dropper struct{ interceptor.NoOp }

func (d *dropper) BindRemoteStream(_ *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attrs, err := r.Read(b, a)
			if err != nil || n < 4 || binary.BigEndian.Uint16(b[2:4])%10 != 3 {
				return n, attrs, err
			}
		}
	})
}

func TestInjectedLossShows(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	jsonPath := filepath.Join(t.TempDir(), "report.json")
	args := append(baseArgs(srv.WSURL), "-room", "lossy", "-publishers", "1", "-subscribers", "3",
		"-duration", "3s", "-json", jsonPath)
	code, stdout, stderr := runBot(t, context.Background(), args, func(r *interceptor.Registry) error {
		r.Add(dropFactory{})
		return nil
	})
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	rep, _ := readReport(t, jsonPath)
	// About 10 % are dropped for good.
	if rep.LossPct < 5 || rep.LossPct > 15 {
		t.Errorf("loss_pct = %.2f, want about 10", rep.LossPct)
	}
	if rep.NacksSent == 0 || rep.NackedPackets == 0 {
		t.Errorf("nacks_sent = %d (%d packets): the NACK generator should ask for the dropped packets", rep.NacksSent, rep.NackedPackets)
	}

	// The same run with a loss threshold fails.
	code, stdout, _ = runBot(t, context.Background(),
		append(baseArgs(srv.WSURL), "-room", "lossy2", "-subscribers", "2", "-duration", "2s", "-max-loss", "1"),
		func(r *interceptor.Registry) error { r.Add(dropFactory{}); return nil })
	if code != exitFail || !strings.Contains(stdout, "exceeds -max-loss") {
		t.Errorf("exit %d with -max-loss 1 and 10%% loss, want 1:\n%s", code, stdout)
	}
}

func TestLatencyThresholdExits1(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	args := append(baseArgs(srv.WSURL), "-room", "strict", "-subscribers", "2", "-duration", "1s",
		"-max-p99-latency", "1us")
	code, stdout, stderr := runBot(t, context.Background(), args, nil)
	if code != exitFail {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "exceeds -max-p99-latency") || !strings.Contains(stdout, "FAIL") {
		t.Errorf("table does not say why:\n%s", stdout)
	}
}

func TestMissingTrackExits1(t *testing.T) {
	// Nothing listens here: every join fails and no track arrives.
	args := []string{"-url", "ws://127.0.0.1:1/ws", "-subscribers", "2", "-duration", "1s",
		"-join-timeout", "1s", "-quiet"}
	code, stdout, _ := runBot(t, context.Background(), args, nil)
	if code != exitFail {
		t.Fatalf("exit %d, want 1:\n%s", code, stdout)
	}
	if !strings.Contains(stdout, "failed to join") {
		t.Errorf("table does not say the clients failed:\n%s", stdout)
	}
}

func TestConferenceAndRooms(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	jsonPath := filepath.Join(t.TempDir(), "report.json")
	// Two rooms, each a meeting of two publishers (audio + video) with one
	// extra listener: every member receives the other publishers' tracks.
	args := append(baseArgs(srv.WSURL), "-room", "meet", "-rooms", "2", "-conference", "-publishers", "4",
		"-subscribers", "2", "-audio", "-duration", "2s", "-json", jsonPath, "-quiet")
	code, stdout, stderr := runBot(t, context.Background(), args, nil)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	rep, _ := readReport(t, jsonPath)
	// Per room: 2 publishers x 1 other publisher x 2 kinds + 1 listener x
	// 2 publishers x 2 kinds = 8; two rooms = 16.
	if rep.TracksExpected != 16 || rep.TracksReceived != 16 {
		t.Errorf("tracks %d of %d, want 16 of 16: %v", rep.TracksReceived, rep.TracksExpected, rep.MissingTracks)
	}
	if rep.LossPct != 0 {
		t.Errorf("loss %.3f%%: received %d of %d; rcvbuf errors %d, socket drops %+v, nacks %d",
			rep.LossPct, rep.PacketsReceived, rep.PacketsExpected, rep.UDPRcvbufErrors, rep.UDPSocketDrops, rep.NacksSent)
	}
	// Every member and listener has a join time, including the members
	// whose peers published after they joined.
	if j := rep.JoinMS; j.Count != 6 || j.P50 <= 0 || j.P99 < j.P50 {
		t.Errorf("join_ms %+v, want 6 positive samples", j)
	}
}

func TestInterruptPrintsReport(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	jsonPath := filepath.Join(t.TempDir(), "report.json")
	ctx, cancel := context.WithCancel(context.Background())
	args := append(baseArgs(srv.WSURL), "-room", "ctrlc", "-subscribers", "2", "-duration", "1m", "-json", jsonPath)
	go func() {
		time.Sleep(3 * time.Second)
		cancel()
	}()
	start := time.Now()
	code, stdout, stderr := runBot(t, ctx, args, nil)
	if time.Since(start) > 30*time.Second {
		t.Errorf("interrupt took %v", time.Since(start))
	}
	if code != exitOK {
		t.Errorf("exit %d after interrupt with everything flowing\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "INTERRUPTED") {
		t.Errorf("table does not say the run was interrupted:\n%s", stdout)
	}
	rep, _ := readReport(t, jsonPath)
	if !rep.Partial || rep.PacketsReceived == 0 || rep.LatencyMS.P50 <= 0 {
		t.Errorf("partial report: partial=%v received=%d latency=%+v", rep.Partial, rep.PacketsReceived, rep.LatencyMS)
	}
}

func TestHelpExplainsFlags(t *testing.T) {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &out, &out); code != exitOK {
		t.Fatalf("-h exit %d", code)
	}
	for _, f := range []string{"-url", "-room", "-rooms", "-publishers", "-subscribers", "-duration", "-ramp",
		"-video", "-audio", "-video-bitrate", "-fps", "-keyframe-interval", "-json", "-html", "-server-pid",
		"-max-loss", "-max-p99-latency", "-conference", "-matrix"} {
		if !strings.Contains(out.String(), "  "+f+" ") && !strings.Contains(out.String(), "  "+f+"\n") {
			t.Errorf("-h does not explain %s", f)
		}
	}
	if code := run(context.Background(), []string{"-publishers", "0"}, &out, &out); code != exitSetup {
		t.Errorf("-publishers 0: exit %d, want %d", code, exitSetup)
	}
}
