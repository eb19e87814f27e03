package sfu

import (
	"math/rand/v2"
	"time"

	prtp "github.com/prismsfu/prism/rtp"
)

// forwarder is a down-track's forwarding state, owned by its worker: which
// stream it forwards and which it wants, how far it has read each stream,
// and the translation that makes every stream it forwards one continuous
// stream for its subscriber (sequence numbers, timestamps, VP8 fields).
type forwarder struct {
	video     bool
	munge     bool // VP8: picture ID, TL0PICIDX and KEYIDX are rewritten
	clockRate uint32

	// cursor is the newest packet of each stream the down-track has dealt
	// with; 0 before its first.
	cursor [maxStreams]uint64
	// current is the stream being forwarded, -1 for none (not started, or
	// paused); target is the stream wanted, -1 to pause; last is the last
	// stream forwarded, -1 for none yet.
	current, target, last int
	// lastExt is the last packet forwarded, of stream last.
	lastExt uint64
	// desired is the stream selection wants (dynacast counts it), which
	// differs from target while that one does not flow; -1 for none.
	desired int
	// behind is set while the down-track catches up from the cache (a
	// keyframe replay), paced by the worker's tick.
	behind bool

	seq      *prtp.Sequencer
	vp8      prtp.VP8Munger
	tsOffset uint32
	// lastTS is the newest output timestamp, and lastArrival when its
	// packet reached Prism.
	lastTS      uint32
	lastArrival int64
	// temporal is the highest temporal layer forwarded.
	temporal int
	// dropToFrameEnd drops the rest of a frame one of whose packets could
	// not be queued.
	dropToFrameEnd bool

	// For sender reports.
	packets, octets uint32
}

// Sequence-map sizes: over two seconds of 1.5 Mbit/s video, and of audio.
const (
	videoSeqMap = 512
	audioSeqMap = 128
)

func (f *forwarder) init(t *Track) {
	f.video, f.munge, f.clockRate = t.video, t.kind == prtp.CodecVP8, t.codec.ClockRate
	if f.clockRate == 0 {
		f.clockRate = 90000
	}
	size := audioSeqMap
	if f.video {
		size = videoSeqMap
	}
	f.seq = prtp.NewSequencer(size, uint16(rand.Uint32()))
	f.current, f.target, f.last, f.desired = -1, 0, -1, -1
	f.temporal = AllTemporal
	f.tsOffset = randomTS()
}

// start makes the down-track live: it selects its layer, and a video
// subscriber is sent that layer's last keyframe from the cache (paced by
// the worker) or, when there is none to replay, a keyframe is requested.
// Called on the worker.
func (dt *DownTrack) start(w *worker) {
	f := &dt.fwd
	dt.reselect(w.now)
	f.target = int(dt.want.Load())
	for i := range dt.track.Streams() {
		f.cursor[i] = dt.track.Stream(i).cache.Highest()
	}
	st := dt.track.Stream(f.target)
	if st == nil || !f.video {
		return // the stream's next packet (for video, keyframe) starts it
	}
	if !dt.replay(w, f.target) {
		st.RequestKeyframe()
	}
}

// replay starts stream i from its last cached keyframe, as a joiner does,
// and reports whether it could: the keyframe must be recent, within
// maxReplay packets of the newest, and not one the subscriber already had
// (a short pause). The worker's tick paces what the replay sends.
func (dt *DownTrack) replay(w *worker, i int) bool {
	f := &dt.fwd
	st := dt.track.Stream(i)
	first, highest, ok := st.cache.LastKeyframe()
	if !ok || highest-first > maxReplay || !st.recent(first) || (f.last == i && first <= f.lastExt) {
		return false
	}
	f.cursor[i] = first - 1
	if f.behind {
		return true // the worker's tick goes on with it
	}
	f.behind = true
	w.behind = append(w.behind, dt)
	budget := replayPerTick
	if dt.catchUp(&budget) {
		w.behind = w.behind[:len(w.behind)-1]
	}
	return true
}

// deliver tells the down-track that packet upto of stream si is in the
// cache: it forwards everything of that stream it has not dealt with, up
// to upto, unless it is replaying a keyframe (the tick paces that). A late
// packet (it came after a newer one) that the down-track has gone past
// fills the gap it left. Called on the worker.
func (dt *DownTrack) deliver(si uint8, upto uint64, late bool) {
	f := &dt.fwd
	i := int(si)
	dt.applyRequests()
	if i != f.current && i != f.target {
		f.cursor[i] = max(f.cursor[i], upto)
		return
	}
	switch {
	case upto <= f.cursor[i]:
		if late {
			dt.process(i, upto)
		}
		return // else a catch-up forwarded it
	case f.behind:
		return // the catch-up will
	case f.cursor[i] == 0:
		f.cursor[i] = upto - 1
	}
	if upto-f.cursor[i] > liveBurst {
		// The worker fell behind (it missed packet news): resume at the
		// newest packet. What was skipped is a gap the subscriber NACKs,
		// not a backlog that would keep it seconds late.
		f.cursor[i] = upto - 1
	}
	budget := liveBurst
	dt.advance(i, upto, &budget)
}

// advance deals with stream i's packets up to upto, within budget (of
// packets forwarded: one the cache does not have costs nothing), and
// reports whether it got there. Packets older than the cache holds are
// skipped at once.
func (dt *DownTrack) advance(i int, upto uint64, budget *int) bool {
	f := &dt.fwd
	if window := uint64(dt.track.Stream(i).cache.Size()); upto-f.cursor[i] > window {
		f.cursor[i] = upto - window
	}
	for f.cursor[i] < upto {
		if *budget <= 0 {
			return false
		}
		f.cursor[i]++
		if dt.process(i, f.cursor[i]) {
			*budget--
		}
	}
	return true
}

// catchUp continues a catch-up from the cache, within budget (shared by
// the worker's down-tracks) and at most replayPerTick packets, and reports
// whether the down-track is live again.
func (dt *DownTrack) catchUp(budget *int) bool {
	f := &dt.fwd
	dt.applyRequests()
	mine := min(replayPerTick, *budget)
	had := mine
	done := true
	for i := range dt.track.Streams() {
		if i == f.current || i == f.target {
			done = dt.advance(i, dt.track.Stream(i).cache.Highest(), &mine) && done
		}
	}
	*budget -= had - mine
	if done {
		f.behind = false
	}
	return done
}

// applyRequests takes up what selection decided: another stream, a pause
// or a resume. A new stream starts at its next keyframe, requested now; a
// resume replays the stream's last keyframe when it can, as a joiner's
// start does.
func (dt *DownTrack) applyRequests() {
	f := &dt.fwd
	want := int(dt.want.Load())
	if want == f.target {
		return
	}
	f.target = want
	if want < 0 {
		f.current = -1
		return
	}
	st := dt.track.Stream(want)
	if st == nil || want == f.current {
		return
	}
	if f.current < 0 && f.video && dt.replay(dt.t.w, want) {
		return
	}
	// From the newest packet on: it may be the keyframe's first.
	f.cursor[want] = max(st.cache.Highest(), 1) - 1
	st.RequestKeyframe()
}

// process deals with packet ext of stream i, which the down-track follows,
// and reports whether the packet was there to deal with.
func (dt *DownTrack) process(i int, ext uint64) bool {
	f := &dt.fwd
	st := dt.track.Stream(i)
	if st == nil {
		return false
	}
	m, pkt, ok := dt.t.w.fetch(st, ext)
	if !ok {
		return false // lost before Prism, or gone from the cache
	}
	if i != f.current {
		// The wanted stream: it starts at its next keyframe (audio at
		// any packet).
		if i != f.target || (f.video && !m.Is(prtp.FlagKeyframe)) {
			return true
		}
		dt.switchTo(i, m)
	}
	dt.forward(i, m, pkt)
	return true
}

// switchTo starts forwarding stream i at m, a keyframe: a new epoch of
// sequence numbers that continues the output, a timestamp offset that puts
// the stream on the timeline of the one before, VP8 fields that continue.
func (dt *DownTrack) switchTo(i int, m *prtp.Meta) {
	f := &dt.fwd
	if f.seq.Started() {
		f.alignTimestamps(dt.track.Stream(f.last), dt.track.Stream(i), m)
		dt.stats.switches.Add(1)
	}
	f.seq.Start(uint8(i), m.Ext)
	if f.munge {
		f.vp8.Switch(&m.VP8)
	}
	f.current, f.last = i, i
	f.temporal = int(dt.maxTemporal.Load())
	f.dropToFrameEnd = false
	dt.current.Store(int32(i))
}

// alignTimestamps recomputes the timestamp offset at a switch from stream
// from to stream to, whose first packet is m: from both streams' clock
// mappings when they have them, from elapsed time otherwise. Output
// timestamps never go back.
func (f *forwarder) alignTimestamps(from, to *Stream, m *prtp.Meta) {
	switch delta, ok := alignTS(from, to); {
	case from == to:
		// Resuming the same stream: its own timeline goes on.
	case ok:
		f.tsOffset += delta
	default:
		gap := uint32((m.Arrival - f.lastArrival) * int64(f.clockRate) / int64(time.Second))
		f.tsOffset = f.lastTS + gap - m.Timestamp
	}
	if int32(m.Timestamp+f.tsOffset-f.lastTS) <= 0 {
		f.tsOffset = f.lastTS + 1 - m.Timestamp
	}
}

// forward sends m, a packet of the current stream, unless it is one the
// down-track drops on purpose (padding, a temporal layer above its limit),
// which leaves no gap in the subscriber's numbering.
func (dt *DownTrack) forward(i int, m *prtp.Meta, pkt []byte) {
	f := &dt.fwd
	if m.PayloadEnd() == int(m.HeaderSize) || (f.video && !f.admit(dt, m)) {
		f.seq.Skip(m.Ext)
		return
	}
	out, ok := f.seq.Next(m.Ext)
	if !ok {
		return
	}
	ts := m.Timestamp + f.tsOffset
	var vp8 *prtp.VP8Descriptor
	var d prtp.VP8Descriptor
	if f.munge && m.VP8.Len > 0 {
		d = m.VP8
		f.vp8.Munge(&d)
		vp8 = &d
	}
	f.seq.Record(prtp.SeqEntry{Src: uint32(m.Ext), Timestamp: ts, Out: out, PictureID: d.PictureID, TL0PICIDX: d.TL0PICIDX, KeyIdx: d.KeyIdx, Stream: uint8(i)})
	if f.packets == 0 || int32(ts-f.lastTS) > 0 {
		f.lastTS, f.lastArrival = ts, m.Arrival
	}
	if f.dropToFrameEnd {
		f.dropToFrameEnd = !m.Is(prtp.FlagFrameEnd)
		dt.stats.dropped.Add(1)
		return
	}
	h := dt.hdr
	h.Seq, h.Timestamp, h.Marker = out, ts, m.Is(prtp.FlagMarker)
	if !dt.t.send(dt, &h, pkt, m, vp8, f.seq.ROC(out)) {
		// Numbered but not sent: the subscriber sees the gap and NACKs
		// it. The rest of the frame goes the same way.
		dt.stats.dropped.Add(1)
		f.dropToFrameEnd = f.video && !m.Is(prtp.FlagFrameEnd)
		return
	}
	f.packets++
	f.lastExt = m.Ext
	f.octets += uint32(m.PayloadEnd() - int(m.HeaderSize))
	dt.stats.packets.Add(1)
}

// admit applies the temporal-layer limit to a video packet: the limit goes
// down at a frame start, up at a frame that lets the higher layer start
// (a layer sync or a keyframe). A dropped picture's VP8 numbers are
// handed on, so the subscriber sees no gap.
func (f *forwarder) admit(dt *DownTrack, m *prtp.Meta) bool {
	if f.munge && f.vp8.Dropped(&m.VP8) {
		return false
	}
	if m.Is(prtp.FlagFrameStart) {
		want := int(dt.maxTemporal.Load())
		tid := int(m.Temporal)
		switch {
		case want < f.temporal:
			f.temporal = want
		case want > f.temporal && tid > f.temporal && tid <= want && (m.Is(prtp.FlagLayerSync) || m.Is(prtp.FlagKeyframe)):
			f.temporal = tid
		}
	}
	if int(m.Temporal) <= f.temporal {
		return true
	}
	if f.munge {
		f.vp8.Drop(&m.VP8)
	}
	return false
}

// retransmit resends the packet the subscriber received as seq, exactly as
// it was sent, and reports whether it did. Called on the worker.
func (dt *DownTrack) retransmit(seq uint16) bool {
	f := &dt.fwd
	e, ok := f.seq.Lookup(seq)
	if !ok {
		return false
	}
	st := dt.track.Stream(int(e.Stream))
	if st == nil {
		return false
	}
	w := dt.t.w
	m, pkt, ok := w.fetch(st, e.ExtendFrom(st.cache.Highest()))
	if !ok || time.Duration(w.now-m.Arrival) > maxRetransmitAge {
		return false // too late to help; resending only adds load
	}
	h := dt.hdr
	h.Seq, h.Timestamp, h.Marker = e.Out, e.Timestamp, m.Is(prtp.FlagMarker)
	var vp8 *prtp.VP8Descriptor
	if f.munge && m.VP8.Len > 0 {
		d := m.VP8
		d.PictureID, d.TL0PICIDX, d.KeyIdx = e.PictureID, e.TL0PICIDX, e.KeyIdx
		vp8 = &d
	}
	return dt.t.send(dt, &h, pkt, m, vp8, f.seq.ROC(e.Out))
}
