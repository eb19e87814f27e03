package sfu

import (
	"sync/atomic"
	"time"

	pionrtp "github.com/pion/rtp"
	"go.uber.org/zap"

	prtp "github.com/prismsfu/prism/rtp"
)

// worker is one goroutine of the engine. It owns its transports and their
// down-tracks: everything they send, every NACK they answer and every
// report they write happens here, so none of it takes a lock.
type worker struct {
	id   int
	log  *zap.Logger
	quit <-chan struct{}

	// jobs carry packet news from the streams' read loops, ctrl changes to
	// what the worker owns, fb subscribers' feedback. Only ctrl blocks its
	// sender; the others drop when full.
	jobs chan job
	ctrl chan func()
	fb   chan feedback

	// load is the number of transports assigned, for Engine.assign.
	load atomic.Int32
	// missed counts packet news dropped because jobs was full.
	missed atomic.Uint64

	// Owned by the worker goroutine.
	batch      *batch
	now        int64 // Unix nanoseconds, at the start of the current step
	plain      [prtp.MaxPacketSize + 64]byte
	hdr        pionrtp.Header
	rtcp       []byte
	memo       memo
	twcc       []prtp.TWCCPacket // ParseTWCC's buffer
	transports map[*Transport]struct{}
	behind     []*DownTrack
	// fast is set while the timer ticks at tickInterval (someone is
	// catching up); otherwise it ticks at reportTick.
	fast bool
	// nextSelect is when the down-tracks' layers are next re-selected.
	nextSelect int64
}

// job says that packet ext of stream stream of track is in its cache; late
// when it came after a newer packet of its stream.
type job struct {
	track  *Track
	stream uint8
	late   bool
	ext    uint64
}

// feedback is one RTCP feedback packet from a subscriber (a NACK or TWCC
// feedback), copied for the worker.
type feedback struct {
	t   *Transport
	n   int
	pkt [maxFeedback]byte
}

// maxFeedback is the largest feedback packet handed to a worker: a TWCC
// feedback reports on about a hundred packets in 200 bytes. Larger ones
// are dropped; the subscriber sends the next one in 100 ms.
const maxFeedback = 512

// memo is the packet the worker last copied out of a cache: every
// subscriber in its shard forwards the same packet in turn, so it is
// copied once, not once per subscriber.
type memo struct {
	stream *Stream
	ext    uint64
	ok     bool
	n      int
	meta   prtp.Meta
	buf    [prtp.MaxPacketSize]byte
}

// Queue sizes and pacing of a worker.
const (
	jobQueue      = 2048
	ctrlQueue     = 256
	feedbackQueue = 256
	// tickInterval paces keyframe replays and catch-ups while any runs;
	// otherwise the worker wakes every reportTick, the resolution of its
	// transports' sender reports.
	tickInterval = 5 * time.Millisecond
	reportTick   = 100 * time.Millisecond
	// replayPerTick bounds what one down-track catching up (a new
	// subscriber replaying the last keyframe) sends per tick, and
	// replayPerWorker what all of a worker's do: 50 joiners at once share
	// about 13 k packets/s per worker instead of bursting into the socket.
	replayPerTick   = 8
	replayPerWorker = 64
	// selectInterval is how often every down-track's layer is re-selected,
	// which follows layers that stop or start flowing and new picture
	// sizes; a subscriber's own change is applied at once.
	selectInterval = 100 * time.Millisecond
	// maxLag is the oldest packet a worker still forwards live.
	maxLag = 250 * time.Millisecond
	// liveBurst is the most a live down-track catches up for one
	// packet's news; further behind, it resumes at the newest packet.
	liveBurst = 64
)

func newWorker(id int, b *batch, quit <-chan struct{}, log *zap.Logger) *worker {
	return &worker{
		id: id, log: log, quit: quit, batch: b,
		jobs:       make(chan job, jobQueue),
		ctrl:       make(chan func(), ctrlQueue),
		fb:         make(chan feedback, feedbackQueue),
		rtcp:       make([]byte, 0, 1500),
		transports: make(map[*Transport]struct{}),
	}
}

// run serves the worker's queues until the engine closes.
func (w *worker) run() {
	defer w.batch.close()
	timer := time.NewTimer(reportTick)
	defer timer.Stop()
	for {
		select {
		case j := <-w.jobs:
			w.now = time.Now().UnixNano()
			w.onPacket(j)
			w.drainJobs()
		case f := <-w.ctrl:
			w.now = time.Now().UnixNano()
			f()
		case fb := <-w.fb:
			w.now = time.Now().UnixNano()
			w.onFeedback(&fb)
		case now := <-timer.C:
			w.now = now.UnixNano()
			w.onTick(now)
			w.fast = len(w.behind) > 0
			timer.Reset(w.tickPeriod())
		case <-w.quit:
			return
		}
		w.flush()
		if !w.fast && len(w.behind) > 0 {
			// A catch-up began: pace it from now.
			w.fast = true
			timer.Reset(tickInterval)
		}
	}
}

// tickPeriod is how long the worker sleeps until its next tick.
func (w *worker) tickPeriod() time.Duration {
	if w.fast {
		return tickInterval
	}
	return reportTick
}

// drainJobs handles the packet news already waiting, so that they share
// one flush.
func (w *worker) drainJobs() {
	for range len(w.batch.d) {
		select {
		case j := <-w.jobs:
			w.onPacket(j)
		default:
			return
		}
	}
}

// onPacket forwards one packet to the worker's subscribers of its track.
// A worker too busy to keep up (its queue holds news older than maxLag)
// drops the old news rather than deliver late: its subscribers resume at
// newer packets and NACK what they missed.
func (w *worker) onPacket(j job) {
	if !w.fresh(j) {
		w.missed.Add(1)
		return
	}
	for _, dt := range j.track.shards[w.id].dts {
		dt.deliver(j.stream, j.ext, j.late)
	}
}

// fresh reports whether the packet of j is still in the cache and not
// older than maxLag.
func (w *worker) fresh(j job) bool {
	st := j.track.Stream(int(j.stream))
	if st == nil {
		return false
	}
	var m prtp.Meta
	_, ok := st.cache.Get(j.ext, nil, &m)
	return ok && time.Duration(w.now-m.Arrival) <= maxLag
}

func (w *worker) onFeedback(fb *feedback) {
	pkt := fb.pkt[:fb.n]
	if _, format, _, _, ok := prtp.NextRTCP(pkt); ok && format == prtp.FMTTWCC {
		fb.t.onTWCC(pkt)
		return
	}
	fb.t.onNACK(pkt)
}

// onTick continues catch-ups, paced, and sends the sender reports due.
func (w *worker) onTick(now time.Time) {
	budget := replayPerWorker
	keep := w.behind[:0]
	for _, dt := range w.behind {
		if !dt.catchUp(&budget) {
			keep = append(keep, dt)
		}
	}
	clear(w.behind[len(keep):])
	w.behind = keep
	selecting := w.now >= w.nextSelect
	if selecting {
		w.nextSelect = w.now + int64(selectInterval)
	}
	for t := range w.transports {
		if selecting {
			t.reselect(w.now)
		}
		t.report(now)
	}
}

// datagram returns the next datagram of the batch, flushing it first if
// it is full.
func (w *worker) datagram() *datagram {
	d := w.batch.next()
	if d == nil {
		w.flush()
		d = w.batch.next()
	}
	return d
}

// unget gives back the datagram datagram just returned, unused.
func (w *worker) unget() { w.batch.n-- }

// flush sends the batch; a datagram the socket refused is a drop for its
// subscriber.
func (w *worker) flush() {
	w.batch.flush(func(d *datagram) {
		if d.from != nil {
			d.from.onSendFailed()
		}
	})
}

// fetch returns packet ext of stream s from the memo or the cache.
func (w *worker) fetch(s *Stream, ext uint64) (*prtp.Meta, []byte, bool) {
	m := &w.memo
	if m.stream != s || m.ext != ext {
		m.stream, m.ext = s, ext
		m.n, m.ok = s.cache.Get(ext, m.buf[:], &m.meta)
	}
	return &m.meta, m.buf[:m.n], m.ok
}

// register makes dt one of the worker's subscribers of its track.
func (w *worker) register(dt *DownTrack) {
	sh := &dt.track.shards[w.id]
	sh.dts = append(sh.dts[:len(sh.dts):len(sh.dts)], dt)
	sh.n.Store(int32(len(sh.dts)))
}

// unregister stops forwarding dt's track to it.
func (w *worker) unregister(dt *DownTrack) {
	sh := &dt.track.shards[w.id]
	sh.dts = removeFrom(sh.dts, dt)
	sh.n.Store(int32(len(sh.dts)))
	w.behind = removeFrom(w.behind, dt)
}

// do runs f on the worker, after everything queued before it.
func (w *worker) do(f func()) {
	select {
	case w.ctrl <- f:
	case <-w.quit:
	}
}

// doWait runs f on the worker and returns once it has run.
func (w *worker) doWait(f func()) {
	done := make(chan struct{})
	w.do(func() {
		f()
		close(done)
	})
	select {
	case <-done:
	case <-w.quit:
	}
}

// feedback hands a copy of an RTCP feedback packet to the worker, or
// drops it when the worker is that far behind: the subscriber will ask
// again.
func (w *worker) feedback(t *Transport, pkt []byte) {
	if len(pkt) > maxFeedback {
		return
	}
	fb := feedback{t: t, n: len(pkt)}
	copy(fb.pkt[:], pkt)
	select {
	case w.fb <- fb:
	default:
	}
}

// release forgets one transport, for Engine.assign.
func (w *worker) release() { w.load.Add(-1) }
