package main

import (
	"context"
	"fmt"

	pionrtp "github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/internal/synth"
	prtp "github.com/prismsfu/prism/rtp"
	"github.com/prismsfu/prism/signaling/protocol"
)

// startPublishing creates p's tracks, publishes them and starts one sending
// goroutine per track, paced by synth. Keyframe requests arrive through
// keyframeRequested.
func (p *participant) startPublishing(ctx context.Context, cfg *config) error {
	if cfg.Video {
		v := synth.NewVideo(synth.VideoConfig{
			Bitrate:          cfg.VideoBitrate,
			FPS:              cfg.FPS,
			KeyframeInterval: cfg.KeyframeInterval,
		})
		err := p.publishTrack(ctx, "video", webrtc.MimeTypeVP8, 90000, 0, protocol.SourceCamera,
			v.Run, v.ForceKeyframe)
		if err != nil {
			return err
		}
	}
	if cfg.Audio {
		a := synth.NewAudio()
		err := p.publishTrack(ctx, "audio", webrtc.MimeTypeOpus, 48000, 2, protocol.SourceMicrophone,
			a.Run, nil)
		if err != nil {
			return err
		}
	}
	return nil
}

type runFunc func(context.Context, synth.WriteFunc) error

func (p *participant) publishTrack(ctx context.Context, kind, mime string, clock uint32, channels uint16,
	source string, run runFunc, forceKeyframe func()) error {
	pt := &pubTrack{
		id:    fmt.Sprintf("%s-%s", p.name, kind),
		kind:  kind,
		mime:  mime,
		owner: p,
	}
	track, err := webrtc.NewTrackLocalStaticRTP(
		webrtc.RTPCodecCapability{MimeType: mime, ClockRate: clock, Channels: channels},
		pt.id, p.name)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.pubs = append(p.pubs, pt)
	p.forceKey[pt.id] = forceKeyframe
	p.mu.Unlock()
	ssrc, err := p.publish(track, source)
	if err != nil {
		return fmt.Errorf("publish %s: %w", kind, err)
	}
	p.st.addPub(pt)
	p.st.registerSSRC(ssrc, pt)

	st := p.st
	isVideo := kind == "video"
	write := func(pkt *pionrtp.Packet) error {
		if _, seq, ok := synth.ParseStamp(mime, pkt.Payload); ok {
			// Announce the packet before it leaves, so that a window
			// boundary never falls behind a packet already in flight.
			pt.nextSeq.Store(seq + 1)
		}
		if isVideo && prtp.IsKeyframe(webrtc.MimeTypeVP8, pkt.Payload) {
			pt.keyframes.Add(1)
		}
		if err := track.WriteRTP(pkt); err != nil {
			// WriteRTP fails only when a binding's transport is closed,
			// which happens as the client leaves. Keep the pace.
			return nil
		}
		pt.sent.Add(1)
		st.pktsOut.Add(1)
		st.bytesOut.Add(uint64(pkt.MarshalSize()))
		return nil
	}

	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		_ = run(p.ctx, write)
	}()
	return nil
}

// keyframeRequested handles a PLI or FIR that Prism sent for one of p's
// tracks: the synthetic encoder sends a keyframe next, as a real one would.
func (p *participant) keyframeRequested(trackID string) {
	p.mu.Lock()
	force := p.forceKey[trackID]
	var pt *pubTrack
	for _, t := range p.pubs {
		if t.id == trackID {
			pt = t
		}
	}
	p.mu.Unlock()
	if pt != nil {
		pt.plisIn.Add(1)
	}
	if force != nil {
		force()
	}
}
