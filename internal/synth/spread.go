package synth

import (
	"context"
	"time"

	pionrtp "github.com/pion/rtp"
)

// burst is the packets of one frame of one stream, to be written evenly
// spread over a time, and how far their writing has come.
type burst struct {
	v     *Video
	pkts  []*pionrtp.Packet
	write WriteFunc
	gap   time.Duration // between two packets
	next  int           // the next packet to write
}

// sendBursts writes the packets of every burst, each burst's spread evenly
// over spread from start, interleaved in the order they fall due. Each
// packet's stamp carries the time it is handed to its write. It returns
// ctx.Err() when ctx ends first, or the first write error.
func sendBursts(ctx context.Context, p *pacer, start time.Time, spread time.Duration, bs []burst) error {
	for i := range bs {
		bs[i].gap = spread / time.Duration(max(1, len(bs[i].pkts)))
		bs[i].next = 0
	}
	for b := nextDue(bs); b != nil; b = nextDue(bs) {
		if err := p.waitUntil(ctx, start.Add(time.Duration(b.next)*b.gap)); err != nil {
			return err
		}
		pkt := b.pkts[b.next]
		putStampTime(pkt.Payload[b.v.stampAt[b.next]:], time.Now())
		if err := b.write(pkt); err != nil {
			return err
		}
		b.next++
	}
	return nil
}

// nextDue returns the burst whose next packet falls due first, the first
// of those that fall due together, or nil when every packet is written.
func nextDue(bs []burst) *burst {
	var first *burst
	var firstDue time.Duration
	for i := range bs {
		b := &bs[i]
		if b.next >= len(b.pkts) {
			continue
		}
		if due := time.Duration(b.next) * b.gap; first == nil || due < firstDue {
			first, firstDue = b, due
		}
	}
	return first
}
