package synth

import (
	"context"
	"fmt"
	"time"

	pionrtp "github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// WriteFunc sends one packet. It must not keep the packet or its payload
// after it returns: generators reuse both.
type WriteFunc func(*pionrtp.Packet) error

// WriteTo returns a WriteFunc that writes to track. TrackLocalStaticRTP
// copies the packet's header before it sets the SSRC and payload type of
// each binding, so the generator's packets are left as they were.
func WriteTo(track *webrtc.TrackLocalStaticRTP) WriteFunc {
	return track.WriteRTP
}

// Run sends frames to write at the configured frame rate until ctx is done
// or write fails, and returns ctx.Err() or write's error. The packets of a
// frame are spread evenly over half a frame interval rather than sent in
// one burst, and each packet's stamp carries the time it is handed to
// write. Run allocates nothing per packet; write must not keep the packet.
// Callers that want to survive some write errors filter them in write.
func (v *Video) Run(ctx context.Context, write WriteFunc) error {
	interval := v.FrameInterval()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	p := newPacer()
	defer p.stop()
	for {
		if err := v.sendFrame(ctx, p, interval/2, write); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// sendFrame generates one frame and writes its packets spread over spread.
func (v *Video) sendFrame(ctx context.Context, p *pacer, spread time.Duration, write WriteFunc) error {
	start := time.Now()
	pkts, _ := v.NextFrame(start)
	bs := [1]burst{{v: v, pkts: pkts, write: write}}
	return sendBursts(ctx, p, start, spread, bs[:])
}

// Run sends every active layer's frames, layer i's to writes[i], at the
// configured frame rate until ctx is done or a write fails, and returns
// ctx.Err() or the write's error. At each frame tick every active layer
// makes a frame of the same capture instant; their packets are spread
// evenly over half a frame interval, interleaved, as Video.Run spreads
// one layer's. Run returns an error at once unless writes has one
// function for each layer. It allocates nothing per packet; writes must
// not keep the packets.
func (s *Simulcast) Run(ctx context.Context, writes []WriteFunc) error {
	if err := s.checkWrites(writes); err != nil {
		return err
	}
	interval := s.FrameInterval()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	p := newPacer()
	defer p.stop()
	var bs [MaxSimulcastLayers]burst
	for {
		if err := s.sendTick(ctx, p, interval/2, writes, bs[:len(s.layers)]); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// checkWrites returns an error unless writes has a function for each
// layer of s.
func (s *Simulcast) checkWrites(writes []WriteFunc) error {
	if len(writes) != len(s.layers) {
		return fmt.Errorf("synth: %d write functions for %d simulcast layers", len(writes), len(s.layers))
	}
	for i, w := range writes {
		if w == nil {
			return fmt.Errorf("synth: no write function for simulcast layer %d", i)
		}
	}
	return nil
}

// sendTick makes every active layer's frame of one capture instant and
// writes the frames' packets, layer i's to writes[i], spread over spread.
// bs holds one burst per layer.
func (s *Simulcast) sendTick(ctx context.Context, p *pacer, spread time.Duration, writes []WriteFunc, bs []burst) error {
	start := time.Now()
	for i, v := range s.layers {
		bs[i] = burst{v: v, write: writes[i]}
		if !s.Active(i) {
			v.skip()
			continue
		}
		bs[i].pkts, _ = v.NextFrame(start)
	}
	return sendBursts(ctx, p, start, spread, bs)
}

// Run sends a packet to write every 20 ms until ctx is done or write fails,
// and returns ctx.Err() or write's error. Run allocates nothing per packet;
// write must not keep the packet.
func (a *Audio) Run(ctx context.Context, write WriteFunc) error {
	ticker := time.NewTicker(AudioPacketInterval)
	defer ticker.Stop()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := write(a.NextPacket(time.Now())); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// pacer waits for deadlines with one reusable timer.
type pacer struct {
	timer *time.Timer
}

// newPacer returns a pacer whose timer is stopped.
func newPacer() *pacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pacer{timer: t}
}

// waitUntil returns when due has passed, or ctx.Err() when ctx is done
// first. A deadline already past returns at once, so a late sender catches
// up instead of drifting.
func (p *pacer) waitUntil(ctx context.Context, due time.Time) error {
	d := time.Until(due)
	if d <= 0 {
		return ctx.Err()
	}
	p.timer.Reset(d)
	select {
	case <-ctx.Done():
		p.timer.Stop()
		return ctx.Err()
	case <-p.timer.C:
		return nil
	}
}

// stop releases the pacer's timer.
func (p *pacer) stop() {
	p.timer.Stop()
}
