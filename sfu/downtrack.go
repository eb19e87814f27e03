package sfu

import (
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	prtp "github.com/prismsfu/prism/rtp"
)

// DownTrack forwards one published track to one subscriber. It is the
// webrtc.TrackLocal on the subscriber's connection, and rewrites every
// packet (SSRC, sequence number, timestamp, payload type, header-extension
// IDs) so the subscriber sees one continuous stream.
//
// The receiver hands it sequence numbers through a bounded queue; its own
// goroutine copies each packet from the receiver's cache, rewrites it and
// writes it. A full queue drops this subscriber's packets (video to the end
// of the frame) and never delays the receiver or any other subscriber.
type DownTrack struct {
	src    *Receiver
	sender *webrtc.RTPSender
	log    *zap.Logger

	queue chan uint64
	// resend carries the packets subscribers' NACKs ask for to the writer
	// goroutine, the one owner of the outgoing SRTP stream.
	resend chan resendRequest
	done   chan struct{}
	// route is the subscribe connection's own write path; nil writes
	// through pion.
	route *route
	// reports carries sender reports to the subscriber; nil sends none.
	// It is the connection's DTLS transport, not the RTPSender, whose lock
	// pion holds while it waits in Unbind for this down-track to stop.
	reports rtcpWriter
	// ready is closed when the subscriber's connection can carry media.
	ready <-chan struct{}
	// dropping is owned by the receiver's read loop: true while it drops
	// the rest of a video frame after the queue overflowed.
	dropping bool

	mu      sync.Mutex
	bound   bool
	writer  webrtc.TrackLocalWriter
	rw      *prtp.Rewriter
	running sync.WaitGroup

	closeOnce sync.Once
	// dropped counts packets this subscriber did not get: queue overflow,
	// gone from the cache, or a failed write.
	dropped atomic.Uint64
}

func newDownTrack(sub *Participant, src *Receiver) *DownTrack {
	d := newForwarding(src, sub.sfu.cfg.QueueLength, sub.subReady, sub.log)
	d.route = sub.route
	d.reports = sub.sub.SCTP().Transport()
	return d
}

// newForwarding returns a DownTrack that is not yet bound to a connection.
func newForwarding(src *Receiver, queue int, ready <-chan struct{}, log *zap.Logger) *DownTrack {
	return &DownTrack{
		src: src, ready: ready,
		log:    log.With(zap.String("track", src.info.ID)),
		queue:  make(chan uint64, queue),
		resend: make(chan resendRequest, resendQueue),
		done:   make(chan struct{}),
	}
}

// ID returns the publisher's track id.
func (d *DownTrack) ID() string { return d.src.info.ID }

// RID returns "": Prism sends one encoding per down-track.
func (d *DownTrack) RID() string { return "" }

// StreamID returns the publisher's participant id, so a subscriber groups
// the tracks of one participant in one stream.
func (d *DownTrack) StreamID() string { return d.src.info.ParticipantID }

// Kind returns audio or video.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.src.track.Kind() }

// Dropped returns how many packets this subscriber did not get.
func (d *DownTrack) Dropped() uint64 { return d.dropped.Load() }

// errNoCodec is returned by Bind when the subscriber cannot receive the
// publisher's codec.
var errNoCodec = errors.New("subscriber does not support the codec")

// Bind is called by pion once the subscriber has accepted the track. It
// picks the subscriber's payload type and header-extension IDs and starts
// forwarding.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, ok := matchCodec(d.src.codec, ctx.CodecParameters())
	if !ok {
		return webrtc.RTPCodecParameters{}, errNoCodec
	}
	var ext prtp.ExtensionMap
	for _, want := range forwardedExtensions {
		src, dst := extensionID(d.src.exts, want), extensionID(ctx.HeaderExtensions(), want)
		if src != 0 && dst != 0 {
			ext.Add(src, dst)
		}
	}
	rw := prtp.NewRewriter(uint32(ctx.SSRC()), uint8(codec.PayloadType), ext, uint16(rand.Uint32()), rand.Uint32())
	d.start(ctx.WriteStream(), rw)
	return codec, nil
}

// start begins forwarding to w, once, and asks for a keyframe so a video
// subscriber can start decoding.
func (d *DownTrack) start(w webrtc.TrackLocalWriter, rw *prtp.Rewriter) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bound {
		return
	}
	d.bound = true
	d.writer, d.rw = w, rw
	d.running.Add(1)
	d.src.addDownTrack(d)
	go d.run()
	if d.src.video {
		d.src.RequestKeyframe()
	}
}

// Unbind is called by pion when the track is removed from the connection.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.stop()
	return nil
}

// matchCodec finds the subscriber's payload type for the publisher's codec.
func matchCodec(want webrtc.RTPCodecParameters, have []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	var fallback *webrtc.RTPCodecParameters
	for i, c := range have {
		if !strings.EqualFold(c.MimeType, want.MimeType) {
			continue
		}
		if c.SDPFmtpLine == want.SDPFmtpLine {
			return c, true
		}
		if fallback == nil {
			fallback = &have[i]
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return webrtc.RTPCodecParameters{}, false
}

func extensionID(exts []webrtc.RTPHeaderExtensionParameter, uri string) uint8 {
	for _, e := range exts {
		if e.URI == uri {
			return uint8(e.ID)
		}
	}
	return 0
}

// enqueue hands a packet to the down-track without blocking. Called only
// from the receiver's read loop.
func (d *DownTrack) enqueue(ext uint64, flags prtp.Flags) {
	if d.dropping {
		// Drop the rest of the frame whose packet was dropped, so the
		// subscriber never gets half a frame after a gap it cannot fill.
		d.dropped.Add(1)
		if flags&prtp.FlagMarker != 0 {
			d.dropping = false
		}
		return
	}
	select {
	case d.queue <- ext:
	default:
		d.dropped.Add(1)
		d.dropping = d.src.video && flags&prtp.FlagMarker == 0
	}
}

// run is the down-track's writer: it replays the last keyframe to a new
// video subscriber, then forwards queued packets, answers NACKs and sends
// sender reports until stopped. It alone writes the outgoing stream.
func (d *DownTrack) run() {
	defer d.running.Done()
	select {
	case <-d.ready:
	case <-d.done:
		return
	}
	f := forwarder{
		d: d, out: d.writer, buf: make([]byte, prtp.MaxPacketSize),
		waitKey: d.src.video, clockRate: d.src.codec.ClockRate,
	}
	if d.route != nil {
		if w, err := d.route.writer(); err == nil {
			f.out = w
		} else {
			d.log.Debug("writing through pion", zap.Error(err))
		}
	}
	var replayedTo uint64
	if d.src.video {
		replayedTo = f.replay()
	}
	// Spread the reports of many down-tracks over the interval.
	report := time.NewTimer(rand.N(reportInterval))
	defer report.Stop()
	for {
		select {
		case ext := <-d.queue:
			if ext <= replayedTo {
				continue
			}
			f.forward(ext)
		case r := <-d.resend:
			f.retransmit(r)
		case <-report.C:
			f.report()
			report.Reset(reportInterval)
		case <-d.done:
			return
		}
	}
}

// rtcpWriter sends RTCP on a subscriber's connection.
type rtcpWriter interface {
	WriteRTCP(pkts []rtcp.Packet) (int, error)
}

// reportInterval is the time between two RTCP sender reports per
// down-track, as pion's sender interceptor does.
const reportInterval = time.Second

// resendQueue bounds the retransmissions waiting for the writer.
const resendQueue = 64

// resendRequest asks the writer to resend the cached packet ext under the
// subscriber's sequence number seq.
type resendRequest struct {
	ext uint64
	seq uint16
}

// forwarder is the state of a down-track's writer goroutine.
type forwarder struct {
	d       *DownTrack
	out     rtpWriter
	buf     []byte
	h       pionrtp.Header
	waitKey bool

	// What the next sender report says: packets and payload octets sent,
	// and the last packet's outgoing timestamp and source position.
	clockRate uint32
	packets   uint32
	octets    uint32
	lastTS    uint32
	lastExt   uint64
}

// replay sends the cached packets from the last keyframe on, so a new
// subscriber can decode at once, and returns the last one sent.
func (f *forwarder) replay() uint64 {
	first, last, ok := f.d.src.cache.LastKeyframe()
	if !ok || last-first > maxReplay {
		return 0
	}
	for ext := first; ext <= last; ext++ {
		f.forward(ext)
	}
	return last
}

// forward copies one packet from the cache, rewrites it and writes it.
func (f *forwarder) forward(ext uint64) {
	d := f.d
	n, flags, ok := d.src.cache.Get(ext, f.buf)
	if !ok {
		d.dropped.Add(1)
		return
	}
	if f.waitKey {
		if flags&prtp.FlagKeyframe == 0 {
			return
		}
		f.waitKey = false
	}
	payload, ok := parse(&f.h, f.buf[:n])
	if !ok {
		return
	}
	d.rw.Rewrite(&f.h)
	f.lastTS, f.lastExt = f.h.Timestamp, ext
	f.write(payload)
}

// retransmit resends one packet a subscriber's NACK asked for.
func (f *forwarder) retransmit(r resendRequest) {
	n, _, ok := f.d.src.cache.Get(r.ext, f.buf)
	if !ok {
		return
	}
	payload, ok := parse(&f.h, f.buf[:n])
	if !ok || !f.d.rw.Retransmit(&f.h, r.seq) {
		return
	}
	f.write(payload)
}

func (f *forwarder) write(payload []byte) {
	if _, err := f.out.WriteRTP(&f.h, payload); err != nil {
		f.d.dropped.Add(1)
		return
	}
	f.packets++
	f.octets += uint32(len(payload))
}

// report sends an RTCP sender report. Its wall-clock time maps to the
// outgoing timestamp of the last packet, advanced by the time since that
// packet reached Prism: every track of a publisher is timed on the same
// clock, which is what a subscriber needs to synchronise them.
func (f *forwarder) report() {
	if f.packets == 0 || f.d.reports == nil {
		return
	}
	age, ok := f.d.src.cache.Age(f.lastExt)
	if !ok {
		return
	}
	now := time.Now()
	sr := &rtcp.SenderReport{
		SSRC:        f.d.rw.SSRC(),
		NTPTime:     ntpTime(now),
		RTPTime:     f.lastTS + uint32(age.Seconds()*float64(f.clockRate)),
		PacketCount: f.packets,
		OctetCount:  f.octets,
	}
	if _, err := f.d.reports.WriteRTCP([]rtcp.Packet{sr}); err != nil {
		f.d.log.Debug("sender report", zap.Error(err))
	}
}

// ntpTime converts t to the 64-bit NTP format of RTCP sender reports.
func ntpTime(t time.Time) uint64 {
	const unixToNTP = 2208988800
	secs := uint64(t.Unix() + unixToNTP)
	frac := uint64(t.Nanosecond()) << 32 / 1e9
	return secs<<32 | frac
}

// parse reads the header of pkt into h and returns the payload without
// padding; h keeps the padding size so the writer adds it back.
func parse(h *pionrtp.Header, pkt []byte) ([]byte, bool) {
	hlen, err := h.Unmarshal(pkt)
	if err != nil {
		return nil, false
	}
	end := len(pkt)
	h.PaddingSize = 0
	if h.Padding {
		pad := int(pkt[end-1])
		if pad == 0 || pad > end-hlen {
			return nil, false
		}
		end -= pad
		h.PaddingSize = byte(pad)
	}
	return pkt[hlen:end], true
}

// maxRetransmitAge is the oldest packet a NACK is answered with: older
// ones arrive after the subscriber's jitter buffer has given up on them,
// and under overload answering them feeds a retransmission storm.
const maxRetransmitAge = time.Second

// readRTCP answers the subscriber's feedback: NACKs from the receiver's
// cache, PLI and FIR by asking the publisher for a keyframe. It returns
// when the sender stops.
func (d *DownTrack) readRTCP() {
	for {
		pkts, _, err := d.sender.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.TransportLayerNack:
				d.answerNACK(p)
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				d.src.RequestKeyframe()
			}
		}
	}
}

// answerNACK maps the sequence numbers a subscriber lost back to the
// publisher's and asks the writer to resend those still worth sending.
func (d *DownTrack) answerNACK(nack *rtcp.TransportLayerNack) {
	d.mu.Lock()
	rw := d.rw
	d.mu.Unlock()
	if rw == nil {
		return
	}
	highest := d.src.cache.Highest()
	for _, pair := range nack.Nacks {
		for _, seq := range pair.PacketList() {
			src, ok := rw.Source(seq)
			if !ok {
				continue
			}
			ext := prtp.Extend(highest, src)
			if age, ok := d.src.cache.Age(ext); !ok || age > maxRetransmitAge {
				continue // too late to help; resending only adds load
			}
			select {
			case d.resend <- resendRequest{ext: ext, seq: seq}:
			default: // the writer is behind; the subscriber will ask again
			}
		}
	}
}

// stop ends forwarding and waits for the writer goroutine.
func (d *DownTrack) stop() {
	d.closeOnce.Do(func() {
		d.src.removeDownTrack(d)
		close(d.done)
	})
	d.running.Wait()
}
