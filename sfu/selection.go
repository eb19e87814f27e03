package sfu

// Quality caps the layer a subscriber receives of a simulcast track.
type Quality uint8

// The qualities. The zero value is QualityHigh: no cap.
const (
	// QualityHigh is the best layer the track has.
	QualityHigh Quality = iota
	// QualityMedium is the middle layer of three (the upper of two).
	QualityMedium
	// QualityLow is the lowest layer.
	QualityLow
)

// Preferences are a subscriber's own choices for one of its tracks. The
// zero value is the default: forwarding, the best layer, every frame.
type Preferences struct {
	// Paused stops the track: nothing is forwarded until it is resumed,
	// and then the picture restarts at a keyframe.
	Paused bool
	// MaxQuality caps the layer.
	MaxQuality Quality
	// Width and Height are the size, in pixels, the subscriber shows the
	// video at: Prism forwards the smallest layer that fills it. 0 is
	// unknown: no cap.
	Width, Height int
	// MaxFPS caps the frame rate, through temporal layers where the
	// publisher sends them. 0: no cap.
	MaxFPS int
}

// fillSlack is how much smaller than the tile a layer may be and still
// fill it: a 1280×720 layer fills a 1300×731 tile, rather than forcing a
// layer twice the size.
const fillSlack = 0.9

// layerView is what selection knows of one stream of a track.
type layerView struct {
	stream        int
	width, height int
	usable        bool // live, and dynacast wants it
}

// choose returns the position, in views (lowest quality first), of the
// layer a subscriber with preferences p should see, or -1 to forward
// nothing. It ignores whether layers flow: see usable.
func choose(views []layerView, p Preferences) int {
	n := len(views)
	if p.Paused || n == 0 {
		return -1
	}
	top := n - 1
	switch p.MaxQuality {
	case QualityLow:
		top = 0
	case QualityMedium:
		top = min(1, n-1)
	}
	if p.Width <= 0 || p.Height <= 0 {
		return top
	}
	for k := range top {
		w, h := layerSize(views, k)
		if w == 0 {
			return top // no size known yet: the best, until one is
		}
		if float64(w) >= fillSlack*float64(p.Width) && float64(h) >= fillSlack*float64(p.Height) {
			return k
		}
	}
	return top
}

// layerSize returns the picture size of views[k], estimated when its
// keyframes have not said it yet: simulcast layers are scaled by two from
// the largest one known. 0 when no layer's size is known.
func layerSize(views []layerView, k int) (int, int) {
	if v := views[k]; v.width != 0 {
		return v.width, v.height
	}
	for j := len(views) - 1; j > k; j-- {
		if v := views[j]; v.width != 0 {
			return v.width >> (j - k), v.height >> (j - k)
		}
	}
	return 0, 0
}

// usable returns the position of the layer to forward to a subscriber that
// wants views[want]: that one while it flows, else the best one below it
// that does, else the nearest above; want itself when none flows (the
// publisher may be resuming it).
func usable(views []layerView, want int) int {
	if want < 0 || views[want].usable {
		return want
	}
	for k := want - 1; k >= 0; k-- {
		if views[k].usable {
			return k
		}
	}
	for k := want + 1; k < len(views); k++ {
		if views[k].usable {
			return k
		}
	}
	return want
}

// reselect decides, from the subscriber's preferences and the track's
// layers, which stream the down-track forwards (and which it wants, for
// dynacast) and its temporal cap. The forwarding takes the decision up at
// the next packet. Called on the worker.
func (dt *DownTrack) reselect(now int64) {
	dt.mu.Lock()
	p, pinned := dt.prefs, dt.pinned
	dt.mu.Unlock()
	if pinned || dt.stopped.Load() {
		return
	}
	want, desired, temporal := dt.selectLayer(p, now)
	if f := &dt.fwd; desired != f.desired {
		dt.track.dyn.move(f.desired, desired)
		f.desired = desired
	}
	dt.want.Store(int32(want))
	dt.maxTemporal.Store(int32(temporal))
}

// selectLayer returns the stream to forward (-1: none), the stream wanted
// (which differs while the one wanted does not flow) and the temporal cap.
func (dt *DownTrack) selectLayer(p Preferences, now int64) (want, desired, temporal int) {
	t := dt.track
	var order [maxStreams]int
	n := t.ordered(&order)
	switch {
	case p.Paused:
		return -1, -1, AllTemporal
	case !t.video || n == 0:
		return 0, -1, AllTemporal
	}
	var views [maxStreams]layerView
	for k, i := range order[:n] {
		st := t.Stream(i)
		w, h := st.stats.picture()
		views[k] = layerView{stream: i, width: w, height: h, usable: st.stats.live(now) && t.dyn.wanted(i)}
	}
	pos := choose(views[:n], p)
	want, desired = order[usable(views[:n], pos)], order[pos]
	return want, desired, t.Stream(want).stats.temporalFor(p.MaxFPS)
}
