package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the result of one run, as written by -json.
type Report struct {
	Started time.Time `json:"started"`
	// Partial is true when the run was interrupted before its steady window
	// ended; Window tells which figures the report holds.
	Partial bool `json:"partial"`
	// Window is "steady" when the counters cover the steady window, or
	// "whole-run" when the run ended before one was measured.
	Window        string  `json:"window"`
	WindowStartS  float64 `json:"window_start_s"` // seconds after the run started
	WindowSeconds float64 `json:"window_seconds"`
	Setup         Setup   `json:"setup"`

	Clients ClientCounts `json:"clients"`
	// JoinMS is, per subscriber, the time from opening the WebSocket to the
	// first packet of every expected track; for a track that went live
	// after the subscriber connected (a conference member joining later),
	// from the moment it went live.
	JoinMS    Percentiles `json:"join_ms"`
	LatencyMS Latency     `json:"latency_ms"`

	TracksExpected int `json:"tracks_expected"`
	TracksReceived int `json:"tracks_received"`

	PacketsSent     uint64  `json:"packets_sent"`
	PacketsExpected uint64  `json:"packets_expected"`
	PacketsReceived uint64  `json:"packets_received"`
	LossPct         float64 `json:"loss_pct"`
	Duplicates      uint64  `json:"duplicates"`
	// UnknownTracks counts remote tracks that matched no bot publisher;
	// UnstampedPackets, packets of bot tracks without a readable stamp.
	UnknownTracks    int64   `json:"unknown_tracks,omitempty"`
	UnstampedPackets uint64  `json:"unstamped_packets,omitempty"`
	PPSOut           float64 `json:"pps_out"` // publishers' packets/s
	PPSIn            float64 `json:"pps_in"`  // subscribers' packets/s (what the server forwarded)
	NacksSent        uint64  `json:"nacks_sent"`
	NackedPackets    uint64  `json:"nacked_packets"`
	PlisSent         uint64  `json:"plis_sent"`
	PlisReceived     uint64  `json:"plis_received"` // keyframe requests the publishers got
	Keyframes        uint64  `json:"keyframes_sent"`

	// BitrateKbps is the distribution of the RTP bitrate of each
	// subscriber's video tracks over the window.
	BitrateKbps Bitrate `json:"bitrate_kbps"`

	ClientCPUSeconds float64 `json:"client_cpu_seconds"`
	Server           *Server `json:"server,omitempty"`
	// UDPRcvbufErrors is the growth of RcvbufErrors (UDP and UDP6) in
	// /proc/net/snmp over the run: datagrams the kernel dropped on this
	// machine because a socket buffer was full. -1 when unavailable.
	UDPRcvbufErrors int64 `json:"udp_rcvbuf_errors"`
	// UDPSocketDrops splits the drops between the server's UDP sockets
	// (with -server-pid) and the bot's own: growth of the per-socket drop
	// counters in /proc/PID/net/udp from the start of the run to the end
	// of the window.
	UDPSocketDrops *SocketDrops `json:"udp_socket_drops,omitempty"`

	MissingTracks []string `json:"missing_tracks,omitempty"`
	JoinErrors    []string `json:"join_errors,omitempty"`
	Violations    []string `json:"violations,omitempty"`
	Pass          bool     `json:"pass"`

	Series []sample `json:"series,omitempty"`
}

// Setup echoes what the run was asked to do.
type Setup struct {
	URL              string   `json:"url"`
	Room             string   `json:"room"`
	Rooms            int      `json:"rooms"`
	Publishers       int      `json:"publishers"`
	Subscribers      int      `json:"subscribers"`
	Conference       bool     `json:"conference"`
	Video            bool     `json:"video"`
	Audio            bool     `json:"audio"`
	VideoBitrateKbps float64  `json:"video_bitrate_kbps"`
	FPS              int      `json:"fps"`
	KeyframeInterval string   `json:"keyframe_interval"`
	Duration         string   `json:"duration"`
	Ramp             float64  `json:"ramp"`
	MaxLossPct       *float64 `json:"max_loss_pct,omitempty"` // nil: no -max-loss
	MaxP99MS         float64  `json:"max_p99_latency_ms,omitempty"`
}

type ClientCounts struct {
	Publishers  int   `json:"publishers"`
	Subscribers int   `json:"subscribers"`
	Joined      int64 `json:"joined"`
	Failed      int64 `json:"failed"`
}

type Percentiles struct {
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	Count int     `json:"count"`
}

type Latency struct {
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	Count uint64  `json:"count"`
}

type Bitrate struct {
	Min    float64 `json:"min"`
	P50    float64 `json:"p50"`
	Tracks int     `json:"tracks"`
}

type SocketDrops struct {
	Client uint64  `json:"client"`
	Server *uint64 `json:"server,omitempty"`
}

type Server struct {
	PID            int     `json:"pid"`
	CPUSeconds     float64 `json:"cpu_seconds"`
	CPUPct         float64 `json:"cpu_pct"` // of one core, over the window
	RSSMB          float64 `json:"rss_mb"`
	RSSPeakMB      float64 `json:"rss_peak_mb"`
	CPUUsPerPacket float64 `json:"cpu_us_per_packet"`
}

// plural returns "1 room" or "3 rooms".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func round(v float64, digits int) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}

// durationPercentiles computes nearest-rank percentiles in milliseconds.
func durationPercentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		i = max(0, min(i, len(s)-1))
		return round(float64(s[i])/float64(time.Millisecond), 2)
	}
	return Percentiles{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: at(1), Count: len(s)}
}

func floatPercentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func writeJSON(path string, r *Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// writeTable prints the human summary.
func writeTable(w io.Writer, r *Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k, format string, args ...any) {
		fmt.Fprintf(tw, "  %s\t"+format+"\n", append([]any{k}, args...)...)
	}
	title := "steady window"
	if r.Window != "steady" {
		title = "whole run (no steady window was measured)"
	}
	if r.Partial {
		title += ", INTERRUPTED"
	}
	fmt.Fprintf(tw, "\nPrism load test: %s, %.1f s\n", title, r.WindowSeconds)
	s := r.Setup
	media := []string{}
	if s.Video {
		media = append(media, fmt.Sprintf("video %.0f kbit/s @ %d fps", s.VideoBitrateKbps, s.FPS))
	}
	if s.Audio {
		media = append(media, "audio")
	}
	mode := "fan-out"
	if s.Conference {
		mode = "conference"
	}
	row("setup", "%s, %s, %s, %s, %s", mode, plural(s.Publishers, "publisher"), plural(s.Subscribers, "subscriber"),
		plural(s.Rooms, "room"), strings.Join(media, " + "))
	row("clients", "%d joined, %d failed", r.Clients.Joined, r.Clients.Failed)
	row("join", "p50 %.0f ms  p95 %.0f ms  p99 %.0f ms  max %.0f ms  (%d)", r.JoinMS.P50, r.JoinMS.P95, r.JoinMS.P99, r.JoinMS.Max, r.JoinMS.Count)
	row("tracks", "%d of %d expected received", r.TracksReceived, r.TracksExpected)
	row("latency", "p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms", r.LatencyMS.P50, r.LatencyMS.P95, r.LatencyMS.P99, r.LatencyMS.Max)
	row("packets", "sent %d  expected %d  received %d  (%.0f/s out, %.0f/s in)", r.PacketsSent, r.PacketsExpected, r.PacketsReceived, r.PPSOut, r.PPSIn)
	row("loss", "%.3f %%  (%d duplicates)", r.LossPct, r.Duplicates)
	if r.UnknownTracks > 0 || r.UnstampedPackets > 0 {
		row("unrecognised", "%d remote tracks from no bot publisher, %d packets without a stamp", r.UnknownTracks, r.UnstampedPackets)
	}
	row("rtcp", "%d NACKs sent (%d packets asked for), %d PLIs sent, %d keyframe requests reached publishers", r.NacksSent, r.NackedPackets, r.PlisSent, r.PlisReceived)
	if r.BitrateKbps.Tracks > 0 {
		row("video bitrate", "min %.0f kbit/s  p50 %.0f kbit/s  (%d subscriber tracks)", r.BitrateKbps.Min, r.BitrateKbps.P50, r.BitrateKbps.Tracks)
	}
	row("client cpu", "%.2f s", r.ClientCPUSeconds)
	if r.Server != nil {
		row("server", "pid %d: cpu %.2f s (%.0f %% of a core), %.2f µs per forwarded packet, rss %.1f MB (peak %.1f MB)",
			r.Server.PID, r.Server.CPUSeconds, r.Server.CPUPct, r.Server.CPUUsPerPacket, r.Server.RSSMB, r.Server.RSSPeakMB)
	}
	if r.UDPRcvbufErrors >= 0 {
		drops := ""
		if d := r.UDPSocketDrops; d != nil {
			drops = fmt.Sprintf("  (socket drops: client %d", d.Client)
			if d.Server != nil {
				drops += fmt.Sprintf(", server %d", *d.Server)
			}
			drops += ")"
		}
		row("udp rcvbuf errors", "%d%s", r.UDPRcvbufErrors, drops)
	}
	for _, m := range r.MissingTracks {
		row("MISSING", "%s", m)
	}
	for _, e := range r.JoinErrors {
		row("JOIN ERROR", "%s", e)
	}
	for _, v := range r.Violations {
		row("FAIL", "%s", v)
	}
	if r.Pass {
		if r.Setup.MaxLossPct == nil && r.Setup.MaxP99MS == 0 && r.LossPct > 0 {
			row("result", "PASS (every track arrived; set -max-loss / -max-p99-latency to judge loss and latency)")
		} else {
			row("result", "PASS")
		}
	} else {
		row("result", "FAIL")
	}
	tw.Flush()
}
