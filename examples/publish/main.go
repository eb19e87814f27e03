// Command publish joins a Prism room and publishes video and audio: a
// synthetic VP8 stream and Opus-sized audio by default, or the VP8 of an
// IVF file and the Opus of an Ogg file when given.
//
//	go run ./examples/publish -url ws://localhost:8800/ws -room demo
//	go run ./examples/publish -ivf video.ivf -ogg audio.ogg
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/prismsfu/prism/internal/synth"
	"github.com/prismsfu/prism/signaling/client"
)

func main() {
	url := flag.String("url", "ws://localhost:8800/ws", "Prism's WebSocket URL")
	room := flag.String("room", "demo", "room to join")
	name := flag.String("name", "publisher", "display name")
	ivf := flag.String("ivf", "", "VP8 IVF file to send (default: synthetic VP8)")
	ogg := flag.String("ogg", "", "Opus Ogg file to send (default: synthetic Opus-sized audio)")
	bitrate := flag.Int("bitrate", 1_500_000, "synthetic video bitrate, bits/s")
	loopback := flag.Bool("loopback", false, "use only 127.0.0.1 for ICE")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *room, *name, *ivf, *ogg, *bitrate, *loopback); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "publish:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, room, name, ivf, ogg string, bitrate int, loopback bool) error {
	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: loopback})
	if err != nil {
		return err
	}
	video := synth.NewVideo(synth.VideoConfig{Bitrate: bitrate})
	c, err := client.Join(ctx, client.Config{
		URL: url, Room: room, Name: name, API: api,
		OnKeyframeRequest: func(string) { video.ForceKeyframe() },
	})
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Printf("joined %s as %s (%s)\n", room, name, c.ID())

	errs := make(chan error, 2)
	// start publishes a track as source and runs send for it.
	start := func(t webrtc.TrackLocal, err error, source string, send func() error) error {
		if err != nil {
			return err
		}
		if _, err := c.Publish(t, source); err != nil {
			return err
		}
		go func() { errs <- send() }()
		return nil
	}
	vcap := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	acap := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	if ivf == "" {
		t, err := webrtc.NewTrackLocalStaticRTP(vcap, "video", name)
		err = start(t, err, "camera", func() error { return video.Run(ctx, synth.WriteTo(t)) })
		if err != nil {
			return err
		}
	} else {
		t, err := webrtc.NewTrackLocalStaticSample(vcap, "video", name)
		if err := start(t, err, "camera", func() error { return sendIVF(ctx, ivf, t) }); err != nil {
			return err
		}
	}
	if ogg == "" {
		t, err := webrtc.NewTrackLocalStaticRTP(acap, "audio", name)
		err = start(t, err, "microphone", func() error { return synth.NewAudio().Run(ctx, synth.WriteTo(t)) })
		if err != nil {
			return err
		}
	} else {
		t, err := webrtc.NewTrackLocalStaticSample(acap, "audio", name)
		if err := start(t, err, "microphone", func() error { return sendOgg(ctx, ogg, t) }); err != nil {
			return err
		}
	}
	select {
	case err := <-errs:
		return err
	case <-c.Done():
		return fmt.Errorf("session ended: %w", c.Err())
	case <-ctx.Done():
		return ctx.Err()
	}
}

// sendIVF sends the frames of a VP8 IVF file at its frame rate.
func sendIVF(ctx context.Context, path string, t *webrtc.TrackLocalStaticSample) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, hdr, err := ivfreader.NewWith(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if hdr.TimebaseDenominator == 0 {
		return fmt.Errorf("%s: zero timebase", path)
	}
	frame := time.Duration(float64(time.Second) * float64(hdr.TimebaseNumerator) / float64(hdr.TimebaseDenominator))
	tick := time.NewTicker(frame)
	defer tick.Stop()
	for {
		data, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := t.WriteSample(media.Sample{Data: data, Duration: frame}); err != nil {
			return err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// sendOgg sends the Opus pages of an Ogg file in real time.
func sendOgg(ctx context.Context, path string, t *webrtc.TrackLocalStaticSample) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r, _, err := oggreader.NewWith(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	const page = 20 * time.Millisecond
	tick := time.NewTicker(page)
	defer tick.Stop()
	var last uint64
	for {
		data, hdr, err := r.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		samples := hdr.GranulePosition - last
		last = hdr.GranulePosition
		d := time.Duration(float64(samples) / 48000 * float64(time.Second))
		if err := t.WriteSample(media.Sample{Data: data, Duration: d}); err != nil {
			return err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
