package signaling_test

import (
	"context"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	pionrtp "github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/internal/synth"
	"github.com/prismsfu/prism/internal/testenv"
	prtp "github.com/prismsfu/prism/rtp"
	"github.com/prismsfu/prism/sfu"
	"github.com/prismsfu/prism/signaling/client"
	"github.com/prismsfu/prism/signaling/protocol"
)

// simPublisher is a Go client publishing synth's three-layer VP8 simulcast
// with temporal layers (L1T3): keyframes on request, layers paused and
// resumed as Prism's dynacast asks. It remembers which layer sent each
// packet (by its stamp) and a checksum of the packet's VP8 data.
type simPublisher struct {
	c     *client.Client
	sim   *synth.Simulcast
	track *client.SimulcastTrack

	mu      sync.Mutex
	sent    map[stampKey]sentPacket
	count   [3]int
	firstTS [3]uint32 // each layer's frame 0, sent at the same instant
	started [3]bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type stampKey struct {
	at  int64
	seq uint64
}

type sentPacket struct {
	layer int
	frame int    // the capture tick, the same for every layer
	sum   uint32 // of the payload after the VP8 descriptor, which Prism rewrites
}

func startSimPublisher(t *testing.T, srv *testenv.Server, room string) *simPublisher {
	t.Helper()
	p := &simPublisher{
		sim: synth.NewSimulcast(synth.SimulcastConfig{
			Width: 1280, Height: 720, FPS: 30, TemporalLayers: 3, KeyframeInterval: 10 * time.Second,
			Bitrates: [3]int{100_000, 250_000, 600_000},
		}),
		sent: make(map[stampKey]sentPacket),
	}
	p.c = srv.Join(t, room, "pub", clientConfig())
	rids := make([]string, p.sim.Layers())
	for i := range rids {
		rids[i] = p.sim.RID(i)
	}
	track, err := p.c.PublishSimulcast(client.SimulcastOptions{
		ID: "cam", StreamID: "pub", Codec: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		RIDs: rids, OnKeyframeRequest: p.sim.ForceKeyframe,
		OnLayers: func(active []bool) {
			for i, a := range active {
				p.sim.SetActive(i, a)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	p.track = track
	writes := make([]synth.WriteFunc, p.sim.Layers())
	for i := range writes {
		writes[i] = func(pkt *pionrtp.Packet) error {
			p.record(i, pkt)
			return track.WriteRTP(i, pkt)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = p.sim.Run(ctx, writes)
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *simPublisher) record(layer int, pkt *pionrtp.Packet) {
	at, seq, ok := synth.ParseStamp(webrtc.MimeTypeVP8, pkt.Payload)
	n, dok := prtp.VP8DescriptorLen(pkt.Payload)
	if !ok || !dok {
		return
	}
	p.mu.Lock()
	if !p.started[layer] {
		p.started[layer], p.firstTS[layer] = true, pkt.Timestamp
	}
	frame := int((pkt.Timestamp - p.firstTS[layer]) / 3000)
	p.sent[stampKey{at.UnixNano(), seq}] = sentPacket{layer: layer, frame: frame, sum: crc32.ChecksumIEEE(pkt.Payload[n:])}
	p.count[layer]++
	p.mu.Unlock()
}

// lookup returns what the publisher sent with the stamp of payload.
func (p *simPublisher) lookup(payload []byte) (sentPacket, bool) {
	at, seq, ok := synth.ParseStamp(webrtc.MimeTypeVP8, payload)
	if !ok {
		return sentPacket{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sent[stampKey{at.UnixNano(), seq}]
	return s, ok
}

func (p *simPublisher) stop() {
	p.cancel()
	p.wg.Wait()
}

// videoPacket is one packet a layer-watching subscriber received.
type videoPacket struct {
	seq      uint16
	ts       uint32
	at       time.Time
	frame    int // the publisher's capture tick
	vp8      prtp.VP8Descriptor
	layer    int  // the publisher's layer, from the stamp; -1 unknown
	key      bool // the first packet of a keyframe
	intact   bool // its VP8 data is what the publisher sent
	keyWidth int  // the width a keyframe announces
}

// layerWatcher is a Go client that records every packet of the simulcast
// track it receives.
type layerWatcher struct {
	c   *client.Client
	pub *simPublisher

	mu      sync.Mutex
	packets []videoPacket
	last    atomic.Int32 // layer of the newest packet
}

func startLayerWatcher(t *testing.T, srv *testenv.Server, room, name string, pub *simPublisher, cfg client.Config) *layerWatcher {
	t.Helper()
	w := &layerWatcher{pub: pub}
	w.last.Store(-1)
	cfg.OnTrack = func(rt *client.RemoteTrack) {
		if rt.Kind() != webrtc.RTPCodecTypeVideo {
			go drainRemote(rt)
			return
		}
		go w.read(rt)
	}
	w.c = srv.Join(t, room, name, cfg)
	return w
}

func drainRemote(rt *client.RemoteTrack) {
	for {
		if _, _, err := rt.ReadRTP(); err != nil {
			return
		}
	}
}

func (w *layerWatcher) read(rt *client.RemoteTrack) {
	for {
		pkt, _, err := rt.ReadRTP()
		if err != nil {
			return
		}
		v := videoPacket{seq: pkt.SequenceNumber, ts: pkt.Timestamp, at: time.Now(), layer: -1}
		v.vp8.Unmarshal(pkt.Payload)
		if sent, ok := w.pub.lookup(pkt.Payload); ok {
			v.layer, v.frame = sent.layer, sent.frame
			v.intact = sent.sum == crc32.ChecksumIEEE(pkt.Payload[v.vp8.Len:])
		}
		v.key, v.keyWidth = vp8Keyframe(pkt.Payload, v.vp8)
		w.mu.Lock()
		w.packets = append(w.packets, v)
		w.mu.Unlock()
		w.last.Store(int32(v.layer))
	}
}

// vp8Keyframe reports whether payload starts a keyframe, and its width.
func vp8Keyframe(p []byte, d prtp.VP8Descriptor) (bool, int) {
	h := p[d.Len:]
	if !d.Start || d.PartID != 0 || len(h) < 10 || h[0]&1 != 0 || h[3] != 0x9d || h[4] != 0x01 || h[5] != 0x2a {
		return false, 0
	}
	return true, int(h[6]) | int(h[7]&0x3f)<<8
}

// waitLayer waits until the newest packets come from layer.
func (w *layerWatcher) waitLayer(t *testing.T, layer int, timeout time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	waitFor(t, timeout, what, func() bool { return int(w.last.Load()) == layer })
	return time.Since(start)
}

// inOrder returns the packets received, in output sequence order, each
// once (a retransmission that arrived after its packet is dropped).
func (w *layerWatcher) inOrder() []videoPacket {
	w.mu.Lock()
	got := slices.Clone(w.packets)
	w.mu.Unlock()
	if len(got) == 0 {
		return nil
	}
	var u prtp.Unwrapper
	ext := make(map[uint64]videoPacket, len(got))
	for _, p := range got {
		e := u.Unwrap(p.seq)
		if _, dup := ext[e]; !dup {
			ext[e] = p
		}
	}
	keys := slices.Sorted(func(yield func(uint64) bool) {
		for k := range ext {
			if !yield(k) {
				return
			}
		}
	})
	out := make([]videoPacket, 0, len(keys))
	for _, k := range keys {
		out = append(out, ext[k])
	}
	return out
}

// keyLoss is an interceptor that drops the first arrival of every VP8
// keyframe's first packet, where a layer switch lands: its repair must
// come from the new layer's cache under the new numbering.
type keyLoss struct {
	interceptor.NoOp
	mu      sync.Mutex
	dropped map[uint16]bool
	first   bool // the stream's first packet went through: a receiver cannot NACK what came before its first
}

func (k *keyLoss) NewInterceptor(string) (interceptor.Interceptor, error) { return k, nil }

func (k *keyLoss) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	if info.MimeType != webrtc.MimeTypeVP8 {
		return reader
	}
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attr, err := reader.Read(b, a)
			if err != nil || !k.drop(b[:n]) {
				return n, attr, err
			}
		}
	})
}

func (k *keyLoss) drop(pkt []byte) bool {
	var p pionrtp.Packet
	if p.Unmarshal(pkt) != nil {
		return false
	}
	var d prtp.VP8Descriptor
	if !d.Unmarshal(p.Payload) {
		return false
	}
	if key, _ := vp8Keyframe(p.Payload, d); !key {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.first || k.dropped[p.SequenceNumber] {
		k.first = true
		return false // the stream's first packet, or the retransmission
	}
	k.dropped[p.SequenceNumber] = true
	return true
}

func (k *keyLoss) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.dropped)
}

var qualities = []string{protocol.QualityLow, protocol.QualityMedium, protocol.QualityHigh}

// A subscriber forced through 50 random layer switches, on a link that
// loses 5% of its packets and the first packet of every keyframe, where
// each switch lands (all repaired by NACK), receives one VP8 stream:
// contiguous sequence numbers, timestamps that rise with the source's
// pace, contiguous picture IDs and consistent TL0PICIDX; every switch
// lands on a keyframe of the new layer, and every packet, retransmissions
// included, carries the VP8 data the publisher sent under it.
func TestSimulcastFiftySwitchesKeepOneStream(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{KeyframeInterval: 100 * time.Millisecond})
	pub := startSimPublisher(t, srv, "switch")
	loss := &lossy{every: 20, incoming: true}
	keys := &keyLoss{dropped: map[uint16]bool{}}
	api, err := client.NewAPI(client.APIOptions{
		LoopbackOnly: true,
		Interceptors: func(r *interceptor.Registry) error {
			r.Add(keys)
			return loss.factory()(r)
		},
		Settings: func(se *webrtc.SettingEngine) { se.DisableSRTPReplayProtection(true) },
	})
	if err != nil {
		t.Fatal(err)
	}
	w := startLayerWatcher(t, srv, "switch", "sub", pub, client.Config{API: api})
	w.waitLayer(t, 2, 10*time.Second, "the high layer at first")

	rng := rand.New(rand.NewPCG(1, 2))
	current := 2
	var took []time.Duration
	for range 50 {
		next := (current + 1 + rng.IntN(2)) % 3
		if err := w.c.SetSubscription(pub.c.ID(), "cam", client.Subscription{Quality: qualities[next]}); err != nil {
			t.Fatal(err)
		}
		took = append(took, w.waitLayer(t, next, 3*time.Second, "switch to "+qualities[next]))
		current = next
		time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // the last repairs
	pub.stop()
	time.Sleep(200 * time.Millisecond)
	slices.Sort(took)
	t.Logf("50 switches: median %v, slowest %v; the link dropped %d of %d packets and %d keyframe starts; sent per layer %v",
		took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond), loss.dropped.Load(), loss.seen.Load(), keys.count(), pub.count)
	if keys.count() < 50 {
		t.Fatalf("only %d keyframe starts dropped, want one per switch", keys.count())
	}
	if loss.dropped.Load() < 10 {
		t.Fatalf("the link dropped only %d packets", loss.dropped.Load())
	}
	checkOneStream(t, w.inOrder(), 50)
}

// checkOneStream checks what one down-track's subscriber received.
func checkOneStream(t *testing.T, got []videoPacket, minSwitches int) {
	t.Helper()
	// The newest packets may still be in repair.
	got = got[:max(0, len(got)-20)]
	if len(got) < 50 || !got[0].key {
		t.Fatalf("%d packets; the first a keyframe: %v", len(got), len(got) > 0 && got[0].key)
	}
	widths := map[int]int{1: 640, 0: 320, 2: 1280}
	switches, frames := 0, 0
	lastFrame := got[0]
	for j := 1; j < len(got); j++ {
		p, q := got[j-1], got[j]
		if q.seq != p.seq+1 {
			t.Fatalf("packet %d: seq %d after %d: a gap NACK did not repair", j, q.seq, p.seq)
		}
		if !q.intact {
			t.Fatalf("packet %d (seq %d, layer %d): its VP8 data is not what the publisher sent", j, q.seq, q.layer)
		}
		if q.layer != p.layer {
			switches++
			if !q.key || q.keyWidth != widths[q.layer] {
				t.Fatalf("packet %d: switch from layer %d to %d at a packet that is not its keyframe (key %v, width %d)", j, p.layer, q.layer, q.key, q.keyWidth)
			}
		}
		if !q.vp8.Start || q.vp8.PartID != 0 {
			if q.ts != p.ts {
				t.Fatalf("packet %d: timestamp %d changed inside a frame (%d)", j, q.ts, p.ts)
			}
			continue
		}
		// A new frame: its timestamp moved on as far as the capture
		// clock did, exactly within a layer, and within two frames where
		// a switch puts the new layer on the old one's timeline (through
		// the publisher's sender reports, which carry its send jitter).
		frames++
		d, want := int32(q.ts-p.ts), int32(3000*(q.frame-p.frame))
		slack := int32(0)
		if q.layer != p.layer {
			slack = 6000
		}
		if d <= 0 || d < want-slack || d > want+slack {
			t.Fatalf("packet %d: timestamp step %d, want %d (±%d): %d frames from layer %d to %d", j, d, want, slack, q.frame-p.frame, p.layer, q.layer)
		}
		if q.vp8.PictureID != (p.vp8.PictureID+1)&0x7fff {
			t.Fatalf("packet %d: picture ID %d after %d", j, q.vp8.PictureID, p.vp8.PictureID)
		}
		switch want := lastFrame.vp8.TL0PICIDX; {
		case q.vp8.TID == 0 && q.vp8.TL0PICIDX != want+1:
			t.Fatalf("packet %d: a base-layer frame with TL0PICIDX %d after %d", j, q.vp8.TL0PICIDX, want)
		case q.vp8.TID > 0 && q.vp8.TL0PICIDX != want:
			t.Fatalf("packet %d: a layer-%d frame with TL0PICIDX %d, want %d", j, q.vp8.TID, q.vp8.TL0PICIDX, want)
		}
		lastFrame = q
	}
	span := float64(got[len(got)-1].frame-got[0].frame) / 30
	tsSpan := float64(got[len(got)-1].ts-got[0].ts) / 90000
	t.Logf("%d packets, %d frames, %d layer switches; %.2f s of timestamps over %.2f s of capture", len(got), frames, switches, tsSpan, span)
	if switches < minSwitches {
		t.Fatalf("%d layer switches in the stream, want %d", switches, minSwitches)
	}
}

// A layer that stops flowing does not freeze its subscribers: when the
// publisher's own encoder drops its top layer, the subscriber on it moves
// to the one below; dynacast pauses the layers no subscriber needs and
// resumes one at once when a subscriber asks for it.
func TestSimulcastLayersThatStop(t *testing.T) {
	const delay = 700 * time.Millisecond
	srv := testenv.StartServer(t, testenv.Options{KeyframeInterval: 100 * time.Millisecond, SFU: func(c *sfu.Config) { c.DynacastDelay = delay }})
	pub := startSimPublisher(t, srv, "stop")
	w := startLayerWatcher(t, srv, "stop", "sub", pub, clientConfig())
	w.waitLayer(t, 2, 10*time.Second, "the high layer at first")

	// The publisher's encoder stops the top layer on its own: within
	// 300 ms (nine frames) Prism sees it is gone.
	time.Sleep(time.Second)
	pub.sim.SetActive(2, false)
	d := w.waitLayer(t, 1, time.Second, "the move to the medium layer")
	t.Logf("moved to the medium layer %v after the high one stopped", d.Round(time.Millisecond))
	pub.sim.SetActive(2, true)
	w.waitLayer(t, 2, 3*time.Second, "the move back to the high layer")

	// Dynacast: asked for the low layer only, the other two pause.
	if err := w.c.SetSubscription(pub.c.ID(), "cam", client.Subscription{Quality: protocol.QualityLow}); err != nil {
		t.Fatal(err)
	}
	w.waitLayer(t, 0, 3*time.Second, "the low layer")
	waitFor(t, delay+2*time.Second, "the publisher pausing medium and high", func() bool {
		return pub.track.Active(0) && !pub.track.Active(1) && !pub.track.Active(2)
	})
	asked := time.Now()
	if err := w.c.SetSubscription(pub.c.ID(), "cam", client.Subscription{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "the publisher resuming high", func() bool { return pub.track.Active(2) })
	t.Logf("high layer resumed %v after it was asked for", time.Since(asked).Round(time.Millisecond))
	w.waitLayer(t, 2, 3*time.Second, "the high layer again")
	time.Sleep(300 * time.Millisecond)
	checkOneStream(t, w.inOrder(), 4)
}
