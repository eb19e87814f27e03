package synth

import (
	"context"
	"errors"
	"io"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"

	prismrtp "github.com/prismsfu/prism/rtp"
)

// captured is a copy of a packet a write was given.
type captured struct {
	pkt   pionrtp.Packet
	at    time.Time
	order int // place among the writes of all layers
}

// captureLog records the packets of every layer of a Simulcast.
type captureLog struct {
	layers [MaxSimulcastLayers][]captured
	writes int
}

// writeFuncs returns one write function per layer of s, each recording
// copies of the packets it is given.
func (l *captureLog) writeFuncs(s *Simulcast) []WriteFunc {
	var ws []WriteFunc
	for i := range s.Layers() {
		ws = append(ws, func(p *pionrtp.Packet) error {
			c := captured{at: time.Now(), order: l.writes}
			c.pkt.Header = p.Header
			c.pkt.Payload = append([]byte(nil), p.Payload...)
			l.layers[i] = append(l.layers[i], c)
			l.writes++
			return nil
		})
	}
	return ws
}

// frames returns layer i's packets grouped by frame.
func (l *captureLog) frames(i int) [][]captured {
	var fs [][]captured
	for j, c := range l.layers[i] {
		if j == 0 || c.pkt.Timestamp != l.layers[i][j-1].pkt.Timestamp {
			fs = append(fs, nil)
		}
		fs[len(fs)-1] = append(fs[len(fs)-1], c)
	}
	return fs
}

// tickSender sends the frames of Simulcast ticks at once, without pacing.
type tickSender struct {
	s      *Simulcast
	p      *pacer
	writes []WriteFunc
	bs     [MaxSimulcastLayers]burst
}

// newTickSender returns a tickSender for s that writes to writes, whose
// pacer stops with the test.
func newTickSender(t *testing.T, s *Simulcast, writes []WriteFunc) *tickSender {
	tk := &tickSender{s: s, p: newPacer(), writes: writes}
	t.Cleanup(tk.p.stop)
	return tk
}

// tick sends one tick's frames.
func (tk *tickSender) tick(t *testing.T) {
	t.Helper()
	if err := tk.s.sendTick(context.Background(), tk.p, 0, tk.writes, tk.bs[:tk.s.Layers()]); err != nil {
		t.Fatal(err)
	}
}

func TestSimulcastConfig(t *testing.T) {
	type layer struct {
		rid           string
		width, height int
		bitrate       int
	}
	cases := []struct {
		cfg  SimulcastConfig
		want []layer
	}{
		{SimulcastConfig{}, []layer{{"q", 320, 180, 150_000}, {"h", 640, 360, 500_000}, {"f", 1280, 720, 1_700_000}}},
		{SimulcastConfig{Layers: 7}, []layer{{"q", 320, 180, 150_000}, {"h", 640, 360, 500_000}, {"f", 1280, 720, 1_700_000}}},
		{SimulcastConfig{Layers: 2}, []layer{{"h", 640, 360, 500_000}, {"f", 1280, 720, 1_700_000}}},
		{SimulcastConfig{Layers: 1, Width: 640, Height: 480}, []layer{{"f", 640, 480, 1_700_000}}},
		{
			SimulcastConfig{Width: 960, Height: 540, RIDs: [3]string{"lo", "", "hi"}, Bitrates: [3]int{100_000, 0, 900_000}},
			[]layer{{"lo", 240, 135, 100_000}, {"h", 480, 270, 500_000}, {"hi", 960, 540, 900_000}},
		},
	}
	for _, c := range cases {
		s := NewSimulcast(c.cfg)
		if s.Layers() != len(c.want) || s.Config().Layers != len(c.want) {
			t.Fatalf("%+v: %d layers, want %d", c.cfg, s.Layers(), len(c.want))
		}
		ssrcs := map[uint32]bool{}
		for i, want := range c.want {
			vc := s.Layer(i).Config()
			got := layer{s.RID(i), vc.Width, vc.Height, vc.Bitrate}
			if got != want || s.Config().Bitrates[i] != want.bitrate || s.Config().RIDs[i] != want.rid {
				t.Errorf("%+v layer %d: %+v, want %+v", c.cfg, i, got, want)
			}
			if vc.FPS != DefaultFPS || vc.KeyframeInterval != DefaultKeyframeInterval || vc.MTU != DefaultMTU ||
				vc.PayloadType != DefaultVideoPayloadType {
				t.Errorf("%+v layer %d: %+v", c.cfg, i, vc)
			}
			ssrcs[vc.SSRC] = true
		}
		if len(ssrcs) != len(c.want) {
			t.Errorf("%+v: SSRCs not distinct: %v", c.cfg, ssrcs)
		}
		n := len(c.want)
		if s.Layer(-1) != nil || s.Layer(n) != nil || s.RID(n) != "" || s.Active(n) || s.Active(-1) {
			t.Errorf("%+v: a layer past the last", c.cfg)
		}
		s.ForceKeyframe(n)
		s.SetActive(n, true)
	}
}

func TestSimulcastLayerSizesInKeyframes(t *testing.T) {
	s := NewSimulcast(SimulcastConfig{TemporalLayers: 3})
	var log captureLog
	newTickSender(t, s, log.writeFuncs(s)).tick(t)
	want := [][2]int{{320, 180}, {640, 360}, {1280, 720}}
	for i := range s.Layers() {
		first := log.layers[i][0].pkt
		n, _ := prismrtp.VP8DescriptorLen(first.Payload)
		tag := parseFrameTag(t, first.Payload[n:])
		if !tag.key || tag.width != want[i][0] || tag.height != want[i][1] {
			t.Errorf("layer %d: frame header %+v, want a %dx%d keyframe", i, tag, want[i][0], want[i][1])
		}
		b, err := first.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		parser := prismrtp.Parser{Codec: prismrtp.CodecVP8}
		var meta prismrtp.Meta
		if err := parser.Parse(b, 0, &meta); err != nil {
			t.Fatal(err)
		}
		if !meta.Is(prismrtp.FlagKeyframe) || int(meta.Width) != want[i][0] || int(meta.Height) != want[i][1] {
			t.Errorf("layer %d: the SFU reads a %dx%d keyframe (%v)", i, meta.Width, meta.Height, meta.Is(prismrtp.FlagKeyframe))
		}
	}
}

func TestSimulcastBitrates(t *testing.T) {
	for _, cfg := range []SimulcastConfig{
		{},
		{TemporalLayers: 3},
		{TemporalLayers: 2, FPS: 15, KeyframeInterval: 3 * time.Second, Bitrates: [3]int{200_000, 600_000, 2_500_000}},
	} {
		s := NewSimulcast(cfg)
		cfg = s.Config()
		var log captureLog
		tk := newTickSender(t, s, log.writeFuncs(s))
		gop := int(math.Round(cfg.KeyframeInterval.Seconds() * float64(cfg.FPS)))
		const intervals = 3
		for range intervals * gop {
			tk.tick(t)
		}
		seconds := float64(intervals*gop) / float64(cfg.FPS)
		for i := range s.Layers() {
			bytes := 0
			for _, c := range log.layers[i] {
				bytes += len(c.pkt.Payload)
			}
			if rate := float64(bytes*8) / seconds; math.Abs(rate/float64(cfg.Bitrates[i])-1) > 0.02 {
				t.Errorf("%+v layer %d: %.0f bit/s, want %d ±2%%", cfg, i, rate, cfg.Bitrates[i])
			}
		}
	}
}

func TestSimulcastTemporalLayers(t *testing.T) {
	s := NewSimulcast(SimulcastConfig{TemporalLayers: 3, FPS: 10, KeyframeInterval: time.Second})
	var log captureLog
	tk := newTickSender(t, s, log.writeFuncs(s))
	for range 45 {
		tk.tick(t)
	}
	for i := range s.Layers() {
		var st frameState
		frames := log.frames(i)
		for n, f := range frames {
			pkts := make([]*pionrtp.Packet, len(f))
			for j := range f {
				pkts[j] = &f[j].pkt
			}
			key := prismrtp.IsKeyframe("video/VP8", pkts[0].Payload)
			if want := n%10 == 0; key != want {
				t.Fatalf("layer %d frame %d: keyframe %v, want %v", i, n, key, want)
			}
			d := checkLayerFrame(t, modelL1T3, pkts, key, &st)
			if n == len(frames)-1 {
				checkLastFrame(t, s.Layer(i), pkts, d)
			}
		}
	}
}

func TestSimulcastSetActive(t *testing.T) {
	s := NewSimulcast(SimulcastConfig{})
	var log captureLog
	tk := newTickSender(t, s, log.writeFuncs(s))
	var active [MaxSimulcastLayers][]bool // by layer, by tick
	for tick := range 30 {
		switch tick {
		case 5:
			s.SetActive(1, false)
			s.SetActive(1, false)
		case 15:
			s.SetActive(1, true)
		case 20:
			s.SetActive(1, true) // already active: no keyframe
			s.SetActive(2, false)
			s.SetActive(2, true) // paused and resumed before a tick
		}
		for i := range s.Layers() {
			active[i] = append(active[i], s.Active(i))
		}
		tk.tick(t)
	}
	wantKeys := [MaxSimulcastLayers][]int{{0}, {0, 15}, {0, 20}}
	for i := range s.Layers() {
		frames := log.frames(i)
		var ticks, keys []int
		for tick, a := range active[i] {
			if a {
				ticks = append(ticks, tick)
			}
		}
		if len(frames) != len(ticks) {
			t.Fatalf("layer %d: %d frames in %d active ticks", i, len(frames), len(ticks))
		}
		for n, f := range frames {
			p := f[0].pkt
			if prismrtp.IsKeyframe("video/VP8", p.Payload) {
				keys = append(keys, ticks[n])
			}
			if n == 0 {
				continue
			}
			prev := frames[n-1][len(frames[n-1])-1].pkt
			if p.SequenceNumber != prev.SequenceNumber+1 {
				t.Errorf("layer %d tick %d: seq %d after %d", i, ticks[n], p.SequenceNumber, prev.SequenceNumber)
			}
			if want := prev.Timestamp + uint32(ticks[n]-ticks[n-1])*3000; p.Timestamp != want {
				t.Errorf("layer %d tick %d: timestamp %d, want %d: the clock runs on while paused", i, ticks[n], p.Timestamp, want)
			}
		}
		if !equalInts(keys, wantKeys[i]) {
			t.Errorf("layer %d: keyframes at ticks %v, want %v", i, keys, wantKeys[i])
		}
	}
	if !active[1][4] || active[1][5] || active[1][14] || !active[1][15] {
		t.Errorf("layer 1 active by tick: %v", active[1])
	}
}

// equalInts reports whether a and b hold the same ints in the same order.
func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSimulcastRun(t *testing.T) {
	s := NewSimulcast(SimulcastConfig{TemporalLayers: 3})
	var log captureLog
	const runFor = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), runFor)
	defer cancel()
	start := time.Now()
	if err := s.Run(ctx, log.writeFuncs(s)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run returned %v, want the context's error", err)
	}
	if late := time.Since(start) - runFor; late > 200*time.Millisecond {
		t.Fatalf("Run returned %v after its context ended", late)
	}
	var frames [MaxSimulcastLayers][][]captured
	for i := range s.Layers() {
		frames[i] = log.frames(i)
		t.Logf("layer %d (%s): %d packets in %d frames", i, s.RID(i), len(log.layers[i]), len(frames[i]))
		if n := len(frames[i]); n < 20 || n > 36 {
			t.Fatalf("layer %d: %d frames in %v, want about 30", i, n, runFor)
		}
		if i > 0 && len(log.layers[i]) <= len(log.layers[i-1]) {
			t.Errorf("layer %d sent %d packets, layer %d %d", i, len(log.layers[i]), i-1, len(log.layers[i-1]))
		}
	}
	checkSameCaptureInstants(t, s, frames[:s.Layers()])
	checkTicksSpread(t, s, frames[:s.Layers()])
}

// checkSameCaptureInstants checks that the nth frames of all layers have
// the same RTP time, each from its own base.
func checkSameCaptureInstants(t *testing.T, s *Simulcast, frames [][][]captured) {
	t.Helper()
	n := len(frames[0])
	for _, f := range frames {
		n = min(n, len(f))
	}
	for k := range n {
		for i := range frames {
			rel := frames[i][k][0].pkt.Timestamp - frames[i][0][0].pkt.Timestamp
			if rel != uint32(k)*3000 {
				t.Fatalf("layer %d frame %d: %d ticks of the RTP clock after its first, want %d", i, k, rel, k*3000)
			}
			if frames[i][k][0].pkt.SSRC != s.Layer(i).Config().SSRC {
				t.Fatalf("layer %d frame %d: SSRC %d", i, k, frames[i][k][0].pkt.SSRC)
			}
		}
	}
}

// checkTicksSpread checks that each tick's packets are stamped when they
// are written, that ticks are spread over about half a frame interval
// (the median: a loaded machine delays some), and that the layers' first
// keyframes are interleaved rather than sent one after the other.
func checkTicksSpread(t *testing.T, s *Simulcast, frames [][][]captured) {
	t.Helper()
	var spreads []time.Duration
	for k := range len(frames[0]) - 1 {
		first, last := frames[0][k][0].at, frames[0][k][0].at
		for i := range frames {
			for _, c := range frames[i][k] {
				first, last = minTime(first, c.at), maxTime(last, c.at)
				stamped, _, ok := ParseStamp("video/VP8", c.pkt.Payload)
				if !ok || stamped.After(c.at) || c.at.Sub(stamped) > 50*time.Millisecond {
					t.Fatalf("layer %d frame %d: stamped %v, written %v", i, k, stamped, c.at)
				}
			}
		}
		spread := last.Sub(first)
		if k == 0 && (spread < 4*time.Millisecond || spread > 60*time.Millisecond) {
			t.Errorf("first keyframes written over %v, want about 16 ms", spread)
		}
		spreads = append(spreads, spread)
	}
	slices.Sort(spreads)
	if median := spreads[len(spreads)/2]; median > 3*s.FrameInterval()/4 {
		t.Errorf("ticks written over %v (median), want under half a frame interval", median)
	}
	lowKey, topKey := frames[0][0], frames[len(frames)-1][0]
	if lowKey[len(lowKey)-1].order > topKey[len(topKey)-1].order || lowKey[len(lowKey)-1].order < topKey[0].order {
		t.Errorf("lowest layer's keyframe written at %d to %d, top layer's at %d to %d: not interleaved",
			lowKey[0].order, lowKey[len(lowKey)-1].order, topKey[0].order, topKey[len(topKey)-1].order)
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func TestSimulcastRunErrors(t *testing.T) {
	s := NewSimulcast(SimulcastConfig{Layers: 2})
	nop := func(*pionrtp.Packet) error { return nil }
	for _, writes := range [][]WriteFunc{nil, {nop}, {nop, nop, nop}, {nop, nil}} {
		if err := s.Run(context.Background(), writes); err == nil {
			t.Errorf("Run with %d write functions for 2 layers returned nil", len(writes))
		}
	}
	calls := 0
	failing := func(*pionrtp.Packet) error {
		calls++
		if calls == 40 {
			return io.ErrClosedPipe
		}
		return nil
	}
	if err := s.Run(context.Background(), []WriteFunc{nop, failing}); !errors.Is(err, io.ErrClosedPipe) || calls != 40 {
		t.Fatalf("Run returned %v after %d writes, want io.ErrClosedPipe after 40", err, calls)
	}
}

func TestSimulcastControlDuringRun(t *testing.T) {
	s := NewSimulcast(SimulcastConfig{FPS: 60, TemporalLayers: 2})
	var log captureLog
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ctx.Err() == nil; n++ {
			s.SetActive(n%3, n%2 == 1)
			_ = s.Active(n % 3)
			if n%10 == 0 {
				s.ForceKeyframe(0)
			}
			time.Sleep(7 * time.Millisecond)
		}
	}()
	err := s.Run(ctx, log.writeFuncs(s))
	wg.Wait()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run returned %v", err)
	}
	// After every pause a layer resumes with a keyframe.
	for i := range s.Layers() {
		frames := log.frames(i)
		for n := 1; n < len(frames); n++ {
			gap := frames[n][0].pkt.Timestamp - frames[n-1][0].pkt.Timestamp
			if gap > 1500 && !prismrtp.IsKeyframe("video/VP8", frames[n][0].pkt.Payload) {
				t.Fatalf("layer %d resumed after %d RTP ticks with a delta frame", i, gap)
			}
		}
	}
}

func TestSimulcastSendTickDoesNotAllocate(t *testing.T) {
	s := NewSimulcast(SimulcastConfig{TemporalLayers: 3, KeyframeInterval: 200 * time.Millisecond})
	nop := func(*pionrtp.Packet) error { return nil }
	tk := newTickSender(t, s, []WriteFunc{nop, nop, nop})
	s.SetActive(1, false)
	tk.tick(t)
	s.SetActive(1, true) // the warm-up makes every layer's largest frame
	allocs := testing.AllocsPerRun(50, func() {
		if tk.s.sendTick(context.Background(), tk.p, time.Millisecond, tk.writes, tk.bs[:]) != nil {
			t.Fatal("sendTick failed")
		}
	})
	if allocs != 0 {
		t.Fatalf("sending a tick's frames allocates %v times", allocs)
	}
}
