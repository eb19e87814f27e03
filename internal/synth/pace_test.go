package synth

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/pion/interceptor"
	pionrtp "github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// sent is what a fake write records of one packet.
type sent struct {
	at      time.Time
	stamped time.Time
	marker  bool
	first   bool // S bit of a VP8 descriptor
}

// recorder returns a write function that records packets of the codec.
func recorder(mime string, log *[]sent) WriteFunc {
	return func(p *pionrtp.Packet) error {
		at := time.Now()
		stamped, _, ok := ParseStamp(mime, p.Payload)
		if !ok {
			return errors.New("packet without stamp")
		}
		first := len(p.Payload) > 0 && p.Payload[0]&vp8S != 0
		*log = append(*log, sent{at: at, stamped: stamped, marker: p.Marker, first: first})
		return nil
	}
}

func TestVideoRunPacesFrames(t *testing.T) {
	v := NewVideo(VideoConfig{})
	var log []sent
	const runFor = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), runFor)
	defer cancel()
	start := time.Now()
	err := v.Run(ctx, recorder("video/VP8", &log))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run returned %v, want the context's error", err)
	}
	if late := time.Since(start) - runFor; late > 200*time.Millisecond {
		t.Fatalf("Run returned %v after its context ended", late)
	}
	var frames int
	var frameStart time.Time
	for i, s := range log {
		if s.stamped.After(s.at) || s.at.Sub(s.stamped) > 50*time.Millisecond {
			t.Fatalf("packet %d stamped %v but written %v", i, s.stamped, s.at)
		}
		if s.first {
			frameStart = s.at
		}
		if !s.marker {
			continue
		}
		frames++
		// The first frame is a keyframe of 29 packets: paced, not burst,
		// and done well within one frame interval.
		if spread := s.at.Sub(frameStart); frames == 1 && (spread < 4*time.Millisecond || spread > 60*time.Millisecond) {
			t.Fatalf("keyframe packets spread over %v, want about 16 ms", spread)
		}
	}
	if frames < 20 || frames > 36 {
		t.Fatalf("%d frames in %v, want about 30", frames, runFor)
	}
}

func TestVideoRunStopsOnWriteError(t *testing.T) {
	v := NewVideo(VideoConfig{})
	calls := 0
	err := v.Run(context.Background(), func(*pionrtp.Packet) error {
		calls++
		if calls == 40 {
			return io.ErrClosedPipe
		}
		return nil
	})
	if !errors.Is(err, io.ErrClosedPipe) || calls != 40 {
		t.Fatalf("Run returned %v after %d writes, want io.ErrClosedPipe after 40", err, calls)
	}
}

func TestVideoRunStopsMidFrame(t *testing.T) {
	// At 1 fps a keyframe's packets are spread over half a second.
	v := NewVideo(VideoConfig{FPS: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var cancelled time.Time
	calls := 0
	err := v.Run(ctx, func(*pionrtp.Packet) error {
		calls++
		if calls == 2 {
			cancelled = time.Now()
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 2 {
		t.Fatalf("Run returned %v after %d writes, want context.Canceled after 2", err, calls)
	}
	if d := time.Since(cancelled); d > 100*time.Millisecond {
		t.Fatalf("Run took %v to notice its context ended", d)
	}
}

func TestVideoSendFrameDoesNotAllocate(t *testing.T) {
	v := NewVideo(VideoConfig{})
	p := newPacer()
	defer p.stop()
	ctx := context.Background()
	write := func(*pionrtp.Packet) error { return nil }
	allocs := testing.AllocsPerRun(20, func() {
		if err := v.sendFrame(ctx, p, 2*time.Millisecond, write); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("sending a frame allocates %v times", allocs)
	}
}

func TestAudioRun(t *testing.T) {
	a := NewAudio()
	var log []sent
	const runFor = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), runFor)
	defer cancel()
	start := time.Now()
	if err := a.Run(ctx, recorder("audio/opus", &log)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run returned %v, want the context's error", err)
	}
	if late := time.Since(start) - runFor; late > 200*time.Millisecond {
		t.Fatalf("Run returned %v after its context ended", late)
	}
	if n := len(log); n < 35 || n > 55 {
		t.Fatalf("%d packets in %v, want about 50", n, runFor)
	}
}

func TestAudioRunStopsOnWriteError(t *testing.T) {
	calls := 0
	err := NewAudio().Run(context.Background(), func(*pionrtp.Packet) error {
		calls++
		if calls == 3 {
			return io.ErrClosedPipe
		}
		return nil
	})
	if !errors.Is(err, io.ErrClosedPipe) || calls != 3 {
		t.Fatalf("Run returned %v after %d writes, want io.ErrClosedPipe after 3", err, calls)
	}
}

// fakeBinding is a TrackLocalContext whose write stream records what it is
// given and fails with err once err is set.
type fakeBinding struct {
	headers []pionrtp.Header
	err     error
}

// The methods of fakeBinding implement webrtc.TrackLocalContext and
// webrtc.TrackLocalWriter.

func (f *fakeBinding) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
		PayloadType:        100,
	}}
}
func (f *fakeBinding) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return nil }
func (f *fakeBinding) SSRC() webrtc.SSRC                                      { return 1234 }
func (f *fakeBinding) SSRCRetransmission() webrtc.SSRC                        { return 0 }
func (f *fakeBinding) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (f *fakeBinding) WriteStream() webrtc.TrackLocalWriter                   { return f }
func (f *fakeBinding) ID() string                                             { return "fake" }
func (f *fakeBinding) RTCPReader() interceptor.RTCPReader                     { return nil }
func (f *fakeBinding) Write(b []byte) (int, error)                            { return len(b), f.err }
func (f *fakeBinding) WriteRTP(h *pionrtp.Header, payload []byte) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	f.headers = append(f.headers, *h)
	return len(payload), nil
}

func TestWriteTo(t *testing.T) {
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "synth")
	if err != nil {
		t.Fatal(err)
	}
	binding := &fakeBinding{}
	if _, err := track.Bind(binding); err != nil {
		t.Fatal(err)
	}
	v := NewVideo(VideoConfig{})
	pkts, _ := v.NextFrame(t0)
	before := pkts[0].Header
	write := WriteTo(track)
	if err := write(pkts[0]); err != nil {
		t.Fatalf("write: %v", err)
	}
	if len(binding.headers) != 1 || binding.headers[0].SSRC != 1234 || binding.headers[0].PayloadType != 100 ||
		binding.headers[0].SequenceNumber != before.SequenceNumber {
		t.Fatalf("binding got %+v", binding.headers)
	}
	if pkts[0].SSRC != before.SSRC || pkts[0].PayloadType != before.PayloadType {
		t.Fatal("writing changed the generator's packet")
	}
	binding.err = io.ErrClosedPipe
	if err := v.Run(context.Background(), write); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Run on a closed track returned %v, want io.ErrClosedPipe", err)
	}
}
