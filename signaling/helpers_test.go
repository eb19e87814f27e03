package signaling_test

import (
	"context"
	"hash/crc32"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/internal/synth"
	"github.com/prismsfu/prism/internal/testenv"
	prtp "github.com/prismsfu/prism/rtp"
	"github.com/prismsfu/prism/signaling/client"
)

// sentLog remembers a checksum of every payload a publisher sent, by stamp
// sequence, so a subscriber can check that what arrived is byte-identical.
type sentLog struct {
	mu   sync.Mutex
	sums map[uint64]uint32
	ts   map[uint64]uint32 // RTP timestamp, by stamp sequence
	ssrc uint32
	mime string
}

func newSentLog(mime string) *sentLog {
	return &sentLog{sums: make(map[uint64]uint32), ts: make(map[uint64]uint32), mime: mime}
}

func (l *sentLog) record(p *pionrtp.Packet) {
	_, seq, ok := synth.ParseStamp(l.mime, p.Payload)
	if !ok {
		return
	}
	l.mu.Lock()
	l.sums[seq] = crc32.ChecksumIEEE(p.Payload)
	l.ts[seq] = p.Timestamp
	l.mu.Unlock()
}

// timestamp returns the RTP timestamp the publisher sent stamp seq with.
func (l *sentLog) timestamp(seq uint64) (uint32, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ts, ok := l.ts[seq]
	return ts, ok
}

func (l *sentLog) sum(seq uint64) (uint32, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ok := l.sums[seq]
	return s, ok
}

// publisher is a Go client that sends synthetic VP8 and Opus.
type publisher struct {
	c                *client.Client
	video            *synth.Video
	videoID, audioID string
	videoLog         *sentLog
	audioLog         *sentLog
	keyframeRequests atomic.Int64
	cancel           context.CancelFunc
	wg               sync.WaitGroup
}

// startPublisher joins room as name and publishes VP8 + Opus until the test
// ends.
func startPublisher(t *testing.T, srv *testenv.Server, room, name string, cfg client.Config) *publisher {
	t.Helper()
	p := &publisher{
		video:    synth.NewVideo(synth.VideoConfig{Bitrate: 800_000, KeyframeInterval: 10 * time.Second}),
		videoID:  "video-" + name,
		audioID:  "audio-" + name,
		videoLog: newSentLog(webrtc.MimeTypeVP8),
		audioLog: newSentLog(webrtc.MimeTypeOpus),
	}
	outer := cfg.OnKeyframeRequest
	cfg.OnKeyframeRequest = func(id string) {
		p.keyframeRequests.Add(1)
		p.video.ForceKeyframe()
		if outer != nil {
			outer(id)
		}
	}
	p.c = srv.Join(t, room, name, cfg)
	vt, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, p.videoID, name)
	if err != nil {
		t.Fatal(err)
	}
	at, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, p.audioID, name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.c.Publish(vt, "camera"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.c.Publish(at, "microphone"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	vw, aw := synth.WriteTo(vt), synth.WriteTo(at)
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		_ = p.video.Run(ctx, func(pkt *pionrtp.Packet) error { p.videoLog.record(pkt); return vw(pkt) })
	}()
	go func() {
		defer p.wg.Done()
		_ = synth.NewAudio().Run(ctx, func(pkt *pionrtp.Packet) error { p.audioLog.record(pkt); return aw(pkt) })
	}()
	t.Cleanup(p.stop)
	return p
}

// videoSSRC and audioSSRC return the SSRCs the publisher sends with.
func (p *publisher) videoSSRC() uint32 { return p.ssrcOf(p.videoID) }
func (p *publisher) audioSSRC() uint32 { return p.ssrcOf(p.audioID) }

func (p *publisher) ssrcOf(id string) uint32 {
	for _, tr := range p.c.PublishConnection().GetTransceivers() {
		if s := tr.Sender(); s != nil && s.Track() != nil && s.Track().ID() == id {
			return uint32(s.GetParameters().Encodings[0].SSRC)
		}
	}
	return 0
}

func (p *publisher) stop() {
	p.cancel()
	p.wg.Wait()
}

// received is what a subscriber got on one remote track.
type received struct {
	mime          string
	packets       int
	firstKeyframe bool // the first packet began a keyframe
	firstAt       time.Time
	lastStamp     uint64
	outOfOrder    int
	mismatched    int
	seen          map[uint64]bool
	arrivals      []arrival
	ended         bool // the track's Read returned an error: it was removed
}

// arrival is one packet's arrival: when, its stamp sequence, and the time
// from the publisher's send.
type arrival struct {
	at      time.Time
	seq     uint64
	latency time.Duration
}

// subscriber is a Go client that records every remote track's packets.
type subscriber struct {
	c       *client.Client
	mu      sync.Mutex
	tracks  map[string]*received // by participant/track id
	logs    func(key string) *sentLog
	stopped atomic.Bool // stop reading: a slow subscriber
	quit    chan struct{}
}

// startSubscriber joins room as name and records what arrives. logs maps a
// track key to its publisher's sent log, for byte comparison; it may be nil.
func startSubscriber(t *testing.T, srv *testenv.Server, room, name string, cfg client.Config, logs func(string) *sentLog) *subscriber {
	t.Helper()
	s := newSubscriber(t, logs)
	cfg.OnTrack = s.onTrack
	s.c = srv.Join(t, room, name, cfg)
	return s
}

func newSubscriber(t *testing.T, logs func(string) *sentLog) *subscriber {
	s := &subscriber{tracks: make(map[string]*received), logs: logs, quit: make(chan struct{})}
	t.Cleanup(func() { close(s.quit) })
	return s
}

// member is a participant that publishes and subscribes.
type member struct {
	*publisher
	sub *subscriber
}

func startMember(t *testing.T, srv *testenv.Server, room, name string, logs func(string) *sentLog) *member {
	t.Helper()
	s := newSubscriber(t, logs)
	p := startPublisher(t, srv, room, name, client.Config{OnTrack: s.onTrack})
	s.c = p.c
	return &member{publisher: p, sub: s}
}

func (s *subscriber) onTrack(rt *client.RemoteTrack) {
	key := rt.ParticipantID + "/" + rt.ID()
	r := &received{mime: rt.Codec().MimeType, seen: make(map[uint64]bool)}
	s.mu.Lock()
	s.tracks[key] = r
	s.mu.Unlock()
	var log *sentLog
	if s.logs != nil {
		log = s.logs(rt.ID())
	}
	buf := make([]byte, 1500)
	var pkt pionrtp.Packet
	for {
		for s.stopped.Load() {
			select {
			case <-s.quit:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
		n, _, err := rt.Read(buf)
		if err != nil {
			s.mu.Lock()
			r.ended = true
			s.mu.Unlock()
			return
		}
		if pkt.Unmarshal(buf[:n]) != nil {
			continue
		}
		s.record(r, &pkt, log)
	}
}

func (s *subscriber) record(r *received, pkt *pionrtp.Packet, log *sentLog) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.packets == 0 {
		r.firstAt = now
		r.firstKeyframe = prtp.IsKeyframe(r.mime, pkt.Payload)
	}
	r.packets++
	sent, seq, ok := synth.ParseStamp(r.mime, pkt.Payload)
	if !ok {
		r.mismatched++
		return
	}
	r.arrivals = append(r.arrivals, arrival{at: now, seq: seq, latency: now.Sub(sent)})
	if r.packets > 1 && seq <= r.lastStamp {
		r.outOfOrder++
	}
	if seq > r.lastStamp {
		r.lastStamp = seq
	}
	r.seen[seq] = true
	if log != nil {
		if sum, ok := log.sum(seq); ok && sum != crc32.ChecksumIEEE(pkt.Payload) {
			r.mismatched++
		}
	}
}

// snapshot returns a copy of the per-track records.
func (s *subscriber) snapshot() map[string]received {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]received, len(s.tracks))
	for k, r := range s.tracks {
		c := *r
		c.seen = maps.Clone(r.seen)
		c.arrivals = slices.Clone(r.arrivals)
		out[k] = c
	}
	return out
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func clientConfig() client.Config { return client.Config{} }
