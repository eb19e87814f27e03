package sfu

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestChooseLayer(t *testing.T) {
	sized := []layerView{{width: 320, height: 180}, {width: 640, height: 360}, {width: 1280, height: 720}}
	unsized := []layerView{{}, {}, {}}
	topOnly := []layerView{{}, {}, {width: 1280, height: 720}}
	for _, tc := range []struct {
		name  string
		views []layerView
		p     Preferences
		want  int
	}{
		{"default is the best", sized, Preferences{}, 2},
		{"paused", sized, Preferences{Paused: true}, -1},
		{"low", sized, Preferences{MaxQuality: QualityLow}, 0},
		{"medium", sized, Preferences{MaxQuality: QualityMedium}, 1},
		{"medium of two is the upper", sized[:2], Preferences{MaxQuality: QualityMedium}, 1},
		{"a small tile", sized, Preferences{Width: 320, Height: 180}, 0},
		{"a tile a little larger than a layer", sized, Preferences{Width: 340, Height: 190}, 0},
		{"a tile between layers", sized, Preferences{Width: 400, Height: 225}, 1},
		{"a big tile", sized, Preferences{Width: 1920, Height: 1080}, 2},
		{"a portrait tile needs the height", sized, Preferences{Width: 200, Height: 700}, 2},
		{"tile and quality: the smaller", sized, Preferences{Width: 1280, Height: 720, MaxQuality: QualityMedium}, 1},
		{"sizes unknown: the best", unsized, Preferences{Width: 320, Height: 180}, 2},
		{"sizes estimated from the top", topOnly, Preferences{Width: 320, Height: 180}, 0},
		{"one layer", sized[:1], Preferences{Width: 1280, Height: 720}, 0},
	} {
		if got := choose(tc.views, tc.p); got != tc.want {
			t.Errorf("%s: choose = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestUsableLayer(t *testing.T) {
	v := func(ok ...bool) []layerView {
		out := make([]layerView, len(ok))
		for i, b := range ok {
			out[i].usable = b
		}
		return out
	}
	for _, tc := range []struct {
		views []layerView
		want  int
		got   int
	}{
		{v(true, true, true), 2, 2},
		{v(true, true, false), 2, 1},
		{v(true, false, false), 2, 0},
		{v(false, false, true), 0, 2},
		{v(false, true, false), 0, 1},
		{v(false, false, false), 1, 1},
		{v(true, true, true), -1, -1},
	} {
		if got := usable(tc.views, tc.want); got != tc.got {
			t.Errorf("usable(%v, %d) = %d, want %d", tc.views, tc.want, got, tc.got)
		}
	}
}

// feed publishes a simulcast track's streams at a pace (100 frames/s),
// with keyframes every 50 frames and whenever Prism asks for one; a stream
// can be stopped, as a publisher's encoder pauses a layer.
type feed struct {
	srcs  []*vp8Source
	ssrcs []uint32
	key   [maxStreams]atomic.Bool
	off   [maxStreams]atomic.Bool
	plis  [maxStreams]atomic.Int64
	stop  chan struct{}
	done  chan struct{}
}

func newFeed(srcs ...*vp8Source) *feed {
	f := &feed{srcs: srcs, stop: make(chan struct{}), done: make(chan struct{})}
	for i := range srcs {
		f.ssrcs = append(f.ssrcs, uint32(2000+i))
	}
	return f
}

// pli is the track's keyframe request hook.
func (f *feed) pli(ssrc uint32) error {
	for i, s := range f.ssrcs {
		if s == ssrc {
			f.key[i].Store(true)
			f.plis[i].Add(1)
		}
	}
	return nil
}

// setOff stops or restarts stream i; a restarted stream starts with a
// keyframe, as an encoder does.
func (f *feed) setOff(i int, off bool) {
	if !off && f.off[i].Load() {
		f.key[i].Store(true)
	}
	f.off[i].Store(off)
}

// run publishes until stopped.
func (f *feed) run(track *Track) {
	defer close(f.done)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		for i, src := range f.srcs {
			key := f.key[i].Swap(false) || n%50 == 0
			if f.off[i].Load() {
				continue
			}
			push(track.Stream(i), src.next(key))
		}
		select {
		case <-f.stop:
			return
		case <-tick.C:
		}
	}
}

// simulcastTrack publishes three streams added in an order that is neither
// their quality's nor their rids' (high "a", low "b", medium "c"); it
// returns the track, its feed and the stream indices of low, medium, high.
func simulcastTrack(t *testing.T, s *SFU, temporal bool, onLayers func(*Track, []LayerState)) (*Track, *feed, [3]int) {
	t.Helper()
	f := newFeed(
		&vp8Source{seq: 100, ts: 1, pid: 10, size: 900, w: 1280, h: 720, temporal: temporal},
		&vp8Source{seq: 30000, ts: 1 << 20, pid: 2000, size: 100, w: 320, h: 180, temporal: temporal},
		&vp8Source{seq: 60000, ts: 1 << 30, pid: 9000, size: 300, w: 640, h: 360, temporal: temporal},
	)
	track := s.NewTrack(&testMember{id: Identity{ID: "pub"}}, TrackConfig{
		Info: TrackInfo{ID: "cam", ParticipantID: "pub", Kind: "video"}, Codec: vp8Codec, PLI: f.pli, OnLayers: onLayers,
	})
	for i, rid := range []string{"a", "b", "c"} {
		track.addStream(rid, f.ssrcs[i], nil)
	}
	go f.run(track)
	t.Cleanup(func() {
		close(f.stop)
		<-f.done
		track.Close()
	})
	return track, f, [3]int{1, 2, 0}
}

// streamOf says which stream a packet came from, by its payload size.
func streamOf(p gotPacket) int {
	switch len(p.payload) {
	case 900:
		return 0
	case 100:
		return 1
	case 300:
		return 2
	}
	return -1
}

// waitStream waits until dt forwards stream i.
func waitStream(t *testing.T, dt *DownTrack, i int, timeout time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	waitFor(t, timeout, what, func() bool { return dt.Stats().Stream == i })
	return time.Since(start)
}

// checkContinuous checks that what a subscriber received is one stream:
// contiguous sequence numbers, rising timestamps, contiguous picture IDs,
// and a change of source stream only at a keyframe.
func checkContinuous(t *testing.T, got []gotPacket) {
	t.Helper()
	if len(got) == 0 || !isKeyframeStart(got[0]) {
		t.Fatal("the first packet does not start a keyframe")
	}
	for j := 1; j < len(got); j++ {
		p, q := got[j-1], got[j]
		if q.seq != p.seq+1 {
			t.Fatalf("packet %d: seq %d after %d", j, q.seq, p.seq)
		}
		if int32(q.ts-p.ts) < 0 || (q.vp8.Start && int32(q.ts-p.ts) <= 0) {
			t.Fatalf("packet %d: timestamp %d after %d", j, q.ts, p.ts)
		}
		if q.vp8.Start && q.vp8.PictureID != (p.vp8.PictureID+1)&0x7fff {
			t.Fatalf("packet %d: picture %d after %d", j, q.vp8.PictureID, p.vp8.PictureID)
		}
		if streamOf(q) != streamOf(p) && !isKeyframeStart(q) {
			t.Fatalf("packet %d: stream %d after %d at a frame that is not a keyframe", j, streamOf(q), streamOf(p))
		}
	}
}

// Subscribers of one simulcast track each get the layer their preferences
// call for (a tile's size, a quality cap), ordered by resolution whatever
// the rids and the order the streams arrived in; a change switches at the
// new layer's keyframe with the old one flowing until then; a pause stops
// the packets and a resume restarts at a keyframe at once, from the cache.
func TestSelectionFollowsPreferences(t *testing.T) {
	s := newTestSFU(t, Config{Workers: 1})
	track, f, layer := simulcastTrack(t, s, false, nil)
	low, medium, high := layer[0], layer[1], layer[2]
	time.Sleep(100 * time.Millisecond) // every stream has sent a keyframe

	small, big := newTestSub(t, s, true), newTestSub(t, s, true)
	sdt := small.subscribe(track, 1)
	sdt.SetPreferences(Preferences{Width: 320, Height: 180})
	bdt := big.subscribe(track, 2)
	waitStream(t, sdt, low, 3*time.Second, "the small tile's low layer")
	waitStream(t, bdt, high, 3*time.Second, "the big tile's high layer")

	// Enlarged: the high layer, at its keyframe, within 2 s.
	sdt.SetPreferences(Preferences{Width: 1280, Height: 720})
	d := waitStream(t, sdt, high, 2*time.Second, "the enlarged tile's switch up")
	t.Logf("switched up in %v (%d keyframe requests for the high layer)", d.Round(time.Millisecond), f.plis[high].Load())
	sdt.SetPreferences(Preferences{MaxQuality: QualityMedium})
	waitStream(t, sdt, medium, 2*time.Second, "the switch to the medium cap")

	// Paused: nothing more within a moment; resumed: a keyframe at once.
	sdt.SetPreferences(Preferences{Paused: true})
	time.Sleep(50 * time.Millisecond)
	before := len(small.packets(1))
	time.Sleep(300 * time.Millisecond)
	if n := len(small.packets(1)); n != before {
		t.Fatalf("%d packets while paused", n-before)
	}
	resumed := time.Now()
	sdt.SetPreferences(Preferences{MaxQuality: QualityMedium})
	waitFor(t, 500*time.Millisecond, "packets after the resume", func() bool { return len(small.packets(1)) > before })
	t.Logf("first packet %v after the resume", time.Since(resumed).Round(time.Millisecond))
	if p := small.packets(1)[before]; !isKeyframeStart(p) || streamOf(p) != medium {
		t.Fatalf("after the resume: stream %d, keyframe %v; want the medium layer's keyframe", streamOf(p), isKeyframeStart(p))
	}
	time.Sleep(100 * time.Millisecond)
	checkContinuous(t, small.packets(1))
	checkContinuous(t, big.packets(2))
}

// A frame-rate cap forwards only the temporal layers that reach it.
func TestSelectionCapsTheFrameRate(t *testing.T) {
	s := newTestSFU(t, Config{Workers: 1})
	track, _, layer := simulcastTrack(t, s, true, nil)
	sub := newTestSub(t, s, true)
	dt := sub.subscribe(track, 1)
	// 100 frames/s in the pattern 0 2 1 2: layers up to 1 give 50.
	dt.SetPreferences(Preferences{MaxQuality: QualityLow, MaxFPS: 50})
	waitStream(t, dt, layer[0], 2*time.Second, "the low layer")
	waitFor(t, 3*time.Second, "the temporal cap", func() bool { return dt.maxTemporal.Load() == 1 })
	from := len(sub.packets(1))
	time.Sleep(300 * time.Millisecond)
	got := sub.packets(1)[from:]
	tids := map[uint8]int{}
	for _, p := range got {
		tids[p.vp8.TID]++
	}
	if len(got) == 0 || tids[2] != 0 || tids[1] == 0 {
		t.Fatalf("temporal layers received under a 50 fps cap: %v", tids)
	}
}

// A layer that stops flowing (its publisher paused it) does not leave its
// subscribers frozen: they move to a layer that flows, and back once it
// flows again.
func TestStoppedLayerMovesItsSubscribers(t *testing.T) {
	s := newTestSFU(t, Config{Workers: 1})
	track, f, layer := simulcastTrack(t, s, false, nil)
	sub := newTestSub(t, s, true)
	dt := sub.subscribe(track, 1)
	waitStream(t, dt, layer[2], 3*time.Second, "the high layer")
	time.Sleep(500 * time.Millisecond) // its frame rate is known
	f.setOff(layer[2], true)
	d := waitStream(t, dt, layer[1], time.Second, "the move to the medium layer")
	t.Logf("moved to the medium layer %v after the high one stopped", d.Round(time.Millisecond))
	f.setOff(layer[2], false)
	waitStream(t, dt, layer[2], 3*time.Second, "the move back to the high layer")
	checkContinuous(t, sub.packets(1))
}

// layerLog records what dynacast tells the publisher.
type layerLog struct {
	mu   sync.Mutex
	f    *feed
	last map[string]bool
	n    int
}

func (l *layerLog) announce(track *Track, states []LayerState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	l.last = map[string]bool{}
	for i, st := range states {
		l.last[st.RID] = st.Active
		l.f.setOff(i, !st.Active)
	}
}

func (l *layerLog) state() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.last)
}

// Dynacast pauses the layers no subscriber needs, after the delay, and
// resumes a layer at once when one is needed again; the subscriber that
// needs it is moved up once it flows.
func TestDynacast(t *testing.T) {
	const delay = 300 * time.Millisecond
	s := newTestSFU(t, Config{Workers: 1, DynacastDelay: delay})
	log := &layerLog{}
	track, f, layer := simulcastTrack(t, s, false, log.announce)
	log.mu.Lock()
	log.f = f
	log.mu.Unlock()
	all := func(a, b, c bool) string { return fmt.Sprint(map[string]bool{"a": a, "b": b, "c": c}) }

	// No subscriber: everything pauses.
	waitFor(t, 2*time.Second, "every layer paused", func() bool { return log.state() == all(false, false, false) })
	sub := newTestSub(t, s, true)
	dt := sub.subscribe(track, 1)
	dt.SetPreferences(Preferences{MaxQuality: QualityLow})
	// a is high, b low, c medium. The subscriber's first choice (the
	// best, before its preferences came) resumes all; the two it does not
	// need pause after the delay.
	waitFor(t, 200*time.Millisecond, "the layers resumed", func() bool { return log.state() == all(true, true, true) })
	waitStream(t, dt, layer[0], 2*time.Second, "the low layer forwarded")
	waitFor(t, 3*delay, "the unneeded layers paused", func() bool { return log.state() == all(false, true, false) })
	dt.SetPreferences(Preferences{})
	waitFor(t, 200*time.Millisecond, "every layer resumed", func() bool { return log.state() == all(true, true, true) })
	d := waitStream(t, dt, layer[2], 3*time.Second, "the high layer forwarded")
	t.Logf("high layer forwarded %v after it was resumed", d.Round(time.Millisecond))
	dt.SetPreferences(Preferences{MaxQuality: QualityMedium})
	waitFor(t, 3*delay, "the high layer paused", func() bool { return log.state() == all(false, true, true) })
	if dt.Stats().Stream != layer[1] {
		t.Fatalf("forwarding stream %d after the high layer paused, want the medium one", dt.Stats().Stream)
	}
	// A quick resize and back does not pause a layer.
	before := log.n
	dt.SetPreferences(Preferences{MaxQuality: QualityLow})
	time.Sleep(delay / 3)
	dt.SetPreferences(Preferences{MaxQuality: QualityMedium})
	time.Sleep(delay)
	if log.n != before {
		t.Fatalf("a quick change paused a layer: %s", log.state())
	}
	checkContinuous(t, sub.packets(1))
}
