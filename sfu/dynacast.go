package sfu

import (
	"sync"
	"sync/atomic"
	"time"
)

// DynacastDelay is how long a stream nobody needs goes on being sent before
// its publisher is asked to pause it, so that a tile resized back and
// forth does not make the publisher's encoder flap (LiveKit waits as long).
const DynacastDelay = 5 * time.Second

// LayerState says whether a publisher should send one of a track's
// streams.
type LayerState struct {
	// RID names the simulcast encoding; "" is the single stream.
	RID string
	// Active is false when no subscriber needs the stream.
	Active bool
}

// dynacast decides which of a video track's streams its publisher should
// send: every stream up to the best one some subscriber wants, so that a
// subscriber can always fall back to a lower one. A stream no longer
// needed is paused after delay; one needed again is resumed at once. A
// track without an announce hook is never paused.
type dynacast struct {
	track    *Track
	delay    time.Duration
	announce func(*Track, []LayerState)

	mu     sync.Mutex
	counts [maxStreams]int       // down-tracks whose wanted stream this is
	active [maxStreams]bool      // what the publisher was last told
	since  [maxStreams]time.Time // when the stream stopped being needed
	timer  *time.Timer
	closed bool
	// paused mirrors !active for the forwarding path: bit i set once
	// stream i was paused.
	paused atomic.Uint32
}

func (d *dynacast) init(t *Track, announce func(*Track, []LayerState), delay time.Duration) {
	d.track, d.announce, d.delay = t, announce, delay
	for i := range d.active {
		d.active[i] = true
	}
}

// wanted reports whether the publisher was last asked to send stream i.
func (d *dynacast) wanted(i int) bool { return d.paused.Load()&(1<<i) == 0 }

// move records that a down-track now wants stream to instead of from
// (either may be -1: none).
func (d *dynacast) move(from, to int) {
	if from == to || d.announce == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if from >= 0 {
		d.counts[from]--
	}
	if to >= 0 {
		d.counts[to]++
	}
	d.updateLocked()
}

// update re-decides after the track's streams or their order changed.
func (d *dynacast) update() {
	if d.announce == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.updateLocked()
}

// updateLocked resumes the streams now needed, pauses those unneeded for
// delay, schedules the next check and tells the publisher of a change.
func (d *dynacast) updateLocked() {
	if d.closed {
		return
	}
	need := d.needed()
	now := time.Now()
	changed := false
	next := time.Duration(-1)
	for i := range d.track.Streams() {
		switch {
		case need[i]:
			d.since[i] = time.Time{}
			if !d.active[i] {
				d.active[i], changed = true, true
			}
		case !d.active[i]:
		case d.since[i].IsZero():
			d.since[i] = now
			next = d.delay
		default:
			left := d.delay - now.Sub(d.since[i])
			if left <= 0 {
				d.active[i], changed = false, true
			} else if next < 0 || left < next {
				next = left
			}
		}
	}
	if next >= 0 {
		d.schedule(next)
	}
	if changed {
		d.publish()
	}
}

// needed returns which streams some subscriber may forward: those no
// better than the best one wanted.
func (d *dynacast) needed() [maxStreams]bool {
	var order [maxStreams]int
	n := d.track.ordered(&order)
	best := -1
	for k, i := range order[:n] {
		if d.counts[i] > 0 {
			best = k
		}
	}
	var need [maxStreams]bool
	for k := 0; k <= best; k++ {
		need[order[k]] = true
	}
	return need
}

// schedule makes the next check happen in after, or sooner.
func (d *dynacast) schedule(after time.Duration) {
	if d.timer == nil {
		d.timer = time.AfterFunc(after, d.update)
		return
	}
	d.timer.Reset(after)
}

// publish mirrors the decision for the forwarding path and tells the
// publisher, under d.mu so that announcements keep their order (the hook
// only queues).
func (d *dynacast) publish() {
	var paused uint32
	states := make([]LayerState, 0, maxStreams)
	for i := range d.track.Streams() {
		if !d.active[i] {
			paused |= 1 << i
		}
		states = append(states, LayerState{RID: d.track.Stream(i).rid, Active: d.active[i]})
	}
	d.paused.Store(paused)
	d.announce(d.track, states)
}

// close stops the checks.
func (d *dynacast) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	if d.timer != nil {
		d.timer.Stop()
	}
}
