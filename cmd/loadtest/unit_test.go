package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/internal/synth"
	prtp "github.com/prismsfu/prism/rtp"
)

func TestHistogramBuckets(t *testing.T) {
	// Every value falls in a bucket whose range holds it, and buckets are
	// contiguous.
	for _, us := range []uint64{0, 1, 63, 64, 65, 127, 128, 129, 1000, 12345, 1 << 20, 1<<36 + 5} {
		i := histIndex(us)
		if lo, hi := histLow(i), histLow(i+1); us < lo || us >= hi {
			t.Errorf("%d µs in bucket %d [%d, %d)", us, i, lo, hi)
		}
	}
	for i := 0; i < histBuckets-1; i++ {
		if histLow(i+1) <= histLow(i) {
			t.Fatalf("bucket %d does not grow", i)
		}
	}
	if histIndex(math.MaxUint64) != histBuckets-1 {
		t.Errorf("huge values must land in the last bucket")
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	// 1..1000 ms, one each.
	for i := 1; i <= 1000; i++ {
		h.Record(time.Duration(i) * time.Millisecond)
	}
	h.Record(-time.Second) // a clock step counts as 0
	s := h.snapshot(false)
	if s.Count() != 1001 {
		t.Fatalf("count %d", s.Count())
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 500}, {0.95, 950}, {0.99, 990}} {
		got := s.Quantile(c.q)
		if math.Abs(got-c.want)/c.want > 0.02 {
			t.Errorf("q%.2f = %.2f ms, want %.0f ±2%%", c.q, got, c.want)
		}
	}
	if s.MaxMS() != 1000 {
		t.Errorf("max %.3f ms", s.MaxMS())
	}
	if h.snapshot(true).Count() != 1001 || h.snapshot(false).Count() != 0 {
		t.Errorf("reset snapshot did not empty the histogram")
	}
	var empty histogram
	if empty.snapshot(false).Quantile(0.99) != 0 {
		t.Errorf("empty histogram quantile not 0")
	}
}

func TestRecvTrackMark(t *testing.T) {
	var r recvTrack
	steps := []struct {
		seq     uint64
		isNew   bool
		advance uint64
	}{
		{100, true, 1},
		{101, true, 1},
		{101, false, 0}, // duplicate
		{105, true, 4},  // 102..104 missing
		{103, true, 0},  // late retransmission
		{103, false, 0}, // and its duplicate
		{99, true, 1},   // before the first: the span grows
		{2000, true, 1895},
		{105, false, 0}, // too old to tell: ignored
		{1999, true, 0},
	}
	for i, s := range steps {
		isNew, adv := r.mark(s.seq)
		if isNew != s.isNew || adv != s.advance {
			t.Errorf("step %d seq %d: new=%v adv=%d, want %v %d", i, s.seq, isNew, adv, s.isNew, s.advance)
		}
	}
	if r.received != 7 || r.firstSeq != 99 || r.highest != 2000 {
		t.Errorf("received %d first %d highest %d", r.received, r.firstSeq, r.highest)
	}
}

func TestWindowCounting(t *testing.T) {
	st := newStats()
	p := &participant{name: "pub", st: st}
	pt := &pubTrack{id: "v", kind: "video", owner: p}
	st.addPub(pt)
	r := &recvTrack{pt: pt}
	now := time.Now()
	pt.nextSeq.Store(10)
	for seq := uint64(0); seq < 10; seq++ {
		st.received(r, seq, 100, now, time.Millisecond)
	}
	w := st.openWindow() // counts seq 10..
	for seq := uint64(10); seq < 20; seq++ {
		if seq != 15 {
			st.received(r, seq, 100, now, time.Millisecond)
		}
	}
	pt.nextSeq.Store(20)
	st.closeWindow(w)
	st.received(r, 20, 100, now, time.Millisecond) // after the window: not counted
	st.received(r, 15, 100, now, time.Millisecond) // late, but sent inside: counted
	if r.winID != w.id || r.winRecv != 10 || r.winBytes != 1000 {
		t.Errorf("window: id %d recv %d bytes %d, want 10 packets", r.winID, r.winRecv, r.winBytes)
	}
	if got := st.latWin.snapshot(false).Count(); got != 10 {
		t.Errorf("window latency samples %d, want 10", got)
	}
}

// A packet of the window's range that arrives while the window is being
// opened (after its start was read, before it was published) still counts.
func TestWindowOpeningRace(t *testing.T) {
	st := newStats()
	p := &participant{name: "pub", st: st}
	pt := &pubTrack{id: "a", kind: "audio", owner: p}
	st.addPub(pt)
	r := &recvTrack{pt: pt}
	now := time.Now()
	for seq := uint64(0); seq < 5; seq++ {
		st.received(r, seq, 100, now, time.Millisecond)
	}
	pt.nextSeq.Store(5)
	// Open the window by hand, receiving seq 5 between reading the start
	// and publishing the window, as openWindow can.
	w := &window{id: 1, start: now, startSeq: []uint64{pt.nextSeq.Load()}, endSeq: make([]atomic.Uint64, 1)}
	w.endSeq[0].Store(math.MaxUint64)
	st.received(r, 5, 100, now, time.Millisecond)
	st.window.Store(w)
	for seq := uint64(6); seq < 10; seq++ {
		st.received(r, seq, 100, now, time.Millisecond)
	}
	pt.nextSeq.Store(10)
	st.closeWindow(w)
	if r.winRecv != 5 {
		t.Errorf("window received %d, want 5 (seq 5..9)", r.winRecv)
	}
	// A gap is not credited.
	r2 := &recvTrack{pt: pt}
	for _, seq := range []uint64{1, 2, 4} {
		r2.mark(seq)
	}
	if got := r2.countSeen(2, 10); got != 2 {
		t.Errorf("countSeen(2, 10) = %d, want 2", got)
	}
}

func TestParseBitrate(t *testing.T) {
	for in, want := range map[string]int{"1500k": 1_500_000, "1.5M": 1_500_000, "800000": 800_000, "64kbps": 64_000, "2m": 2_000_000} {
		got, err := parseBitrate(in)
		if err != nil || got != want {
			t.Errorf("parseBitrate(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "k", "-5k", "fast"} {
		if _, err := parseBitrate(bad); err == nil {
			t.Errorf("parseBitrate(%q) succeeded", bad)
		}
	}
}

func TestRTPPayloadAndKeyframes(t *testing.T) {
	v := synth.NewVideo(synth.VideoConfig{Bitrate: 1_000_000, FPS: 30, KeyframeInterval: time.Second})
	for frame := 0; frame < 31; frame++ {
		pkts, key := v.NextFrame(time.Now())
		for i, pkt := range pkts {
			pkt.Header.Extension = true
			pkt.Header.ExtensionProfile = 0xBEDE
			_ = pkt.Header.SetExtension(1, []byte{1, 2, 3})
			b, err := pkt.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			payload, ok := rtpPayload(b)
			if !ok || string(payload) != string(pkt.Payload) {
				t.Fatalf("frame %d packet %d: payload not found", frame, i)
			}
			if _, _, ok := synth.ParseStamp("video/VP8", payload); !ok {
				t.Fatalf("frame %d packet %d: no stamp", frame, i)
			}
			if got := prtp.IsKeyframe(webrtc.MimeTypeVP8, payload); got != (key && i == 0) {
				t.Errorf("frame %d packet %d: keyframe start %v, want %v", frame, i, got, key && i == 0)
			}
		}
	}
	if _, ok := rtpPayload([]byte{0x80, 0}); ok {
		t.Errorf("short packet accepted")
	}
	// Padding is dropped.
	pad := []byte{0xA0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 'x', 'y', 0, 0, 3}
	if p, ok := rtpPayload(pad); !ok || string(p) != "xy" {
		t.Errorf("padded payload %q %v", p, ok)
	}
}

func TestSNMPParsing(t *testing.T) {
	snmp := []byte("Ip: Forwarding DefaultTTL\nIp: 1 64\n" +
		"Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\n" +
		"Udp: 100 2 7 90 5 0\n" +
		"UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors\nUdpLite: 0 0 0 0 0 0\n")
	if v, ok := snmpField(snmp, "Udp:", "RcvbufErrors"); !ok || v != 5 {
		t.Errorf("RcvbufErrors = %d, %v; want 5", v, ok)
	}
	udp := []byte("   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n" +
		"  671: 0100007F:B68A 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 179141 2 000000000a9693ac 4\n" +
		" 1011: 0100007F:B7DE 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 179090 2 0000000049d59c3a 9\n")
	if got := sumSocketDrops(udp, map[string]bool{"179090": true}); got != 9 {
		t.Errorf("socket drops %d, want 9", got)
	}
	if _, ok := udpSocketDrops(os.Getpid()); !ok {
		t.Errorf("cannot read our own UDP sockets")
	}
	if _, ok := udpRcvbufErrors(); !ok {
		t.Logf("no /proc/net/snmp here")
	}
	cpu, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	rss, peak, err := procMem(os.Getpid())
	if err != nil || rss == 0 || peak < rss {
		t.Errorf("procMem: rss %d peak %d err %v", rss, peak, err)
	}
	if cpu < 0 || selfCPU() <= 0 {
		t.Errorf("cpu %v self %v", cpu, selfCPU())
	}
}

func TestUpdateBenchFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "BENCHMARKS.md")
	if updated, err := updateBenchFile(path, "table\n"); updated || err != nil {
		t.Fatalf("missing file: updated=%v err=%v", updated, err)
	}
	orig := "# Bench\n\nintro\n" + matrixBegin + "\nold\n" + matrixEnd + "\n\nafter\n"
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := updateBenchFile(path, "new table\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "# Bench\n\nintro\n" + matrixBegin + "\nnew table\n" + matrixEnd + "\n\nafter\n"
	if string(got) != want {
		t.Errorf("rewritten file:\n%s\nwant:\n%s", got, want)
	}
	// Without markers the section is appended.
	if err := os.WriteFile(path, []byte("# Bench\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := updateBenchFile(path, "t\n"); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(path)
	if !strings.HasSuffix(string(got), matrixBegin+"\nt\n"+matrixEnd+"\n") {
		t.Errorf("appended section missing:\n%s", got)
	}
}

func TestMatrixMarkdown(t *testing.T) {
	rep := &Report{
		WindowSeconds: 10, PPSIn: 12345, LossPct: 0.1, TracksExpected: 10, TracksReceived: 10,
		LatencyMS: Latency{P50: 0.5, P99: 2.5}, JoinMS: Percentiles{P50: 120, P99: 300}, ClientCPUSeconds: 5,
		Server:         &Server{CPUUsPerPacket: 7.25, CPUPct: 80, RSSPeakMB: 64},
		UDPSocketDrops: &SocketDrops{Client: 3, Server: new(uint64)},
	}
	md := matrixMarkdown([]matrixRow{{label: "1 → 10", rep: rep}, {label: "broken", err: os.ErrNotExist}},
		"Capacity search probes: 50: pass.", &config{URL: "ws://x/ws", MatrixDuration: 20 * time.Second, MatrixScenarios: "all"}, time.Now())
	for _, want := range []string{"| 1 → 10 | 12345 | 7.2 | 80 % | 0.50 / 2.50 | 0.10 % | 64 MB | 120 / 300 | 50 % | 3 / 0 | 10/10 |", "| broken | failed", "Capacity search"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}
