package sfu

import (
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// Transport is Prism's send side of one subscriber's peer connection. It
// owns what is per connection, not per track: the SRTP context, the route
// to the subscriber (which follows the selected ICE pair), the
// transport-wide sequence numbers stamped on every packet it sends, the
// sender reports, and the RTCP the subscriber sends back, handled by
// callback. Its down-tracks are the subscriptions.
//
// One engine worker owns a transport: it sends every packet, answers every
// NACK and writes every report, so none of that takes a lock. Pacing and
// a bandwidth allocator will sit in the worker's send step (send), which
// sees every packet, and in onFeedback, which sees all the feedback.
type Transport struct {
	sfu *SFU
	w   *worker
	pc  *webrtc.PeerConnection
	log *zap.Logger

	keys keyCatcher

	// pair is the latest selected candidate pair's route, set by pion.
	mu     sync.Mutex
	pair   route
	active bool // DTLS is up and the grace period has passed
	closed bool
	tapped tapKey

	// bySSRC finds a down-track from the SSRC an RTCP packet names;
	// replaced, never modified.
	bySSRC atomic.Pointer[map[uint32]*DownTrack]

	// Owned by the worker.
	running    bool // activated and not closed
	mode       sendMode
	r          route
	ctx        *srtp.Context // SRTCP, and SRTP for AES-CM
	gcm        *gcmSealer    // SRTP for AES-GCM
	twccID     uint8
	twccSeq    uint16
	history    sendHistory
	live       []*DownTrack
	pending    []*DownTrack
	nextReport time.Time
	slow       *slowPath

	// Owned by whichever socket goroutine delivers the subscriber's RTCP;
	// rmu covers the moment a pair change makes it two.
	rmu  sync.Mutex
	rctx *srtp.Context
	rbuf []byte

	stats transportStats
	// wg counts the transport's own goroutines: its slow-path writer and,
	// without keys, its senders' RTCP readers.
	wg sync.WaitGroup
}

// transportStats counts what a subscriber's feedback says; read them with
// Stats.
type transportStats struct {
	twccFeedback atomic.Uint64
	twccAcked    atomic.Uint64
	twccLost     atomic.Uint64
	nacks        atomic.Uint64
	retransmits  atomic.Uint64
	keyframeReqs atomic.Uint64
	remb         atomic.Uint64
	sent         atomic.Uint64
	dropped      atomic.Uint64
	routes       atomic.Uint64
}

// TransportStats is a snapshot of what a transport sent and heard.
type TransportStats struct {
	// Mode is how packets reach the subscriber: udp, tcp, pion or none.
	Mode string
	// Sent and Dropped count media packets written and refused (a full
	// socket or writer queue).
	Sent, Dropped uint64
	// TWCCFeedback counts transport-wide congestion-control feedback
	// packets received; TWCCAcked and TWCCLost the packets they reported.
	TWCCFeedback, TWCCAcked, TWCCLost uint64
	// NACKs counts NACK packets received, Retransmits the packets resent.
	NACKs, Retransmits uint64
	// KeyframeRequests counts PLIs and FIRs received.
	KeyframeRequests uint64
	// REMB is the last receiver-estimated maximum bitrate, in bits/s.
	REMB uint64
	// Route is where packets go (the selected pair's remote address, with
	// tcp: for ICE-TCP); RouteChanges counts the times the selected pair
	// changed once media had begun.
	Route        string
	RouteChanges uint64
}

// Stats returns what the transport sent and heard so far.
func (t *Transport) Stats() TransportStats {
	s := &t.stats
	t.mu.Lock()
	mode := t.pair.mode(t.keysKnown())
	if !t.active || t.closed {
		mode = modeNone
	}
	where := t.pair.String()
	t.mu.Unlock()
	return TransportStats{
		Mode: mode.String(), Sent: s.sent.Load(), Dropped: s.dropped.Load(),
		TWCCFeedback: s.twccFeedback.Load(), TWCCAcked: s.twccAcked.Load(), TWCCLost: s.twccLost.Load(),
		NACKs: s.nacks.Load(), Retransmits: s.retransmits.Load(), KeyframeRequests: s.keyframeReqs.Load(), REMB: s.remb.Load(),
		Route: where, RouteChanges: s.routes.Load(),
	}
}

// newTransport returns a subscriber connection and its transport. The
// connection has its own pion API, whose DTLS hooks catch its SRTP keys.
func (s *SFU) newTransport(log *zap.Logger) (*Transport, error) {
	t := &Transport{sfu: s, log: log, rbuf: make([]byte, 1500)}
	empty := map[uint32]*DownTrack{}
	t.bySSRC.Store(&empty)
	api := s.subscribeAPI(&t.keys)
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	t.pc = pc
	t.w = s.engine.assign()
	s.mu.Lock()
	s.transports[t] = struct{}{}
	s.mu.Unlock()
	ice := pc.SCTP().Transport().ICETransport()
	ice.OnSelectedCandidatePairChange(t.selectPair)
	return t, nil
}

// PeerConnection returns the transport's peer connection.
func (t *Transport) PeerConnection() *webrtc.PeerConnection { return t.pc }

// localUfrag returns the connection's local ICE username fragment, which
// names its ICE-TCP connection.
func (t *Transport) localUfrag() string {
	params, _ := t.pc.SCTP().Transport().ICETransport().GetLocalParameters()
	return params.UsernameFragment
}

func (t *Transport) keysKnown() bool {
	k, err := t.keys.get()
	return err == nil && k != nil
}

// selectPair follows the selected candidate pair: a new route for the
// worker, and the tap moves to the new remote address.
func (t *Transport) selectPair(pair *webrtc.ICECandidatePair) {
	r := routeOf(pair, t.localUfrag, t.sfu.tcp)
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	changed := t.pair.String() != r.String()
	t.pair = r
	active := t.active
	if active {
		t.retapLocked()
		if changed {
			t.stats.routes.Add(1)
		}
	}
	t.mu.Unlock()
	t.log.Debug("selected pair", zap.Stringer("pair", pair), zap.Stringer("mode", r.mode(t.keysKnown())))
	if active {
		t.w.do(func() { t.setRoute(r) })
	}
}

// activate is called once DTLS is up (and the grace period for the
// subscriber's own side has passed): the worker may start sending.
func (t *Transport) activate() {
	t.mu.Lock()
	if t.closed || t.active {
		t.mu.Unlock()
		return
	}
	t.active = true
	t.mu.Unlock()
	keys, _ := t.keys.get()
	if keys != nil {
		local, err1 := keys.newContext()
		remote, err2 := keys.newRemoteContext()
		var gcm *gcmSealer
		var err3 error
		if keys.profile == srtp.ProtectionProfileAeadAes128Gcm {
			gcm, err3 = newGCMSealer(keys.key, keys.salt)
		}
		if err1 != nil || err2 != nil || err3 != nil {
			t.log.Warn("SRTP context; writing through pion", zap.NamedError("local", err1), zap.NamedError("remote", err2), zap.NamedError("gcm", err3))
			keys = nil
		} else {
			t.rmu.Lock()
			t.rctx = remote
			t.rmu.Unlock()
			t.w.do(func() { t.ctx, t.gcm = local, gcm })
		}
	}
	t.mu.Lock()
	r := t.pair
	t.retapLocked()
	t.mu.Unlock()
	if keys == nil {
		t.log.Debug("writing through pion: Prism is the DTLS client")
	}
	t.w.do(func() {
		if t.running || t.closedNow() {
			return
		}
		t.running = true
		t.setRoute(r)
		t.nextReport = time.Now().Add(rand.N(reportInterval))
		t.w.transports[t] = struct{}{}
		for _, dt := range t.pending {
			t.startDownTrack(dt)
		}
		t.pending = nil
	})
}

// retapLocked points the RTCP tap at the current pair's address, when
// Prism decrypts this connection's RTCP itself. Called with t.mu held.
func (t *Transport) retapLocked() {
	tap := t.sfu.tap
	tap.remove(t.tapped, t)
	t.tapped = tapKey{}
	if !t.keysKnown() {
		return
	}
	switch {
	case t.pair.udp.IsValid():
		t.tapped = tapKey{addr: t.pair.udp}
	case t.pair.tcp != nil:
		if a, ok := t.pair.tcpAddr.(*net.TCPAddr); ok {
			t.tapped = tapKey{addr: unmapAddr(a.AddrPort()), tcp: true}
		}
	default:
		return
	}
	tap.set(t.tapped, t)
}

// setRoute switches the worker to a route. Called on the worker.
func (t *Transport) setRoute(r route) {
	t.r = r
	t.mode = r.mode(t.ctx != nil)
	if t.mode == modeTCP || t.mode == modePion {
		t.startSlowPath()
	}
}

// attach hands a bound down-track to the worker, which starts it once the
// transport is active.
func (t *Transport) attach(dt *DownTrack) {
	t.addSSRC(dt)
	t.w.do(func() {
		if !t.running {
			t.pending = append(t.pending, dt)
			return
		}
		t.startDownTrack(dt)
	})
}

func (t *Transport) closedNow() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// detach stops a down-track and returns once the worker no longer uses it.
func (t *Transport) detach(dt *DownTrack) {
	t.removeSSRC(dt)
	t.w.doWait(func() {
		t.pending = removeFrom(t.pending, dt)
		if removed := removeFrom(t.live, dt); len(removed) != len(t.live) {
			t.live = removed
			t.w.unregister(dt)
		}
		dt.track.dyn.move(dt.fwd.desired, -1)
		dt.fwd.desired = -1
	})
}

// reselect re-decides every live down-track's layer. Called on the
// worker.
func (t *Transport) reselect(now int64) {
	for _, dt := range t.live {
		dt.reselect(now)
	}
}

// startDownTrack makes dt live on the worker. Called on the worker.
func (t *Transport) startDownTrack(dt *DownTrack) {
	if dt.stopped.Load() {
		return
	}
	if t.twccID == 0 {
		t.twccID = dt.twccID
	}
	t.live = append(t.live, dt)
	t.w.register(dt)
	dt.start(t.w)
	if t.ctx == nil && dt.sender != nil {
		// Without the keys the tap cannot read this connection's RTCP:
		// pion hands each sender's RTCP only to whoever reads it.
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.readSenderRTCP(dt.sender)
		}()
	}
}

// readSenderRTCP reads one sender's RTCP through pion until the sender
// stops: the fallback for connections whose keys Prism does not hold.
func (t *Transport) readSenderRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		n, _, err := s.Read(buf)
		if err != nil {
			return
		}
		t.handleRTCP(buf[:n])
	}
}

func (t *Transport) addSSRC(dt *DownTrack) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.bySSRC.Load()
	next := make(map[uint32]*DownTrack, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[dt.hdr.SSRC] = dt
	t.bySSRC.Store(&next)
}

func (t *Transport) removeSSRC(dt *DownTrack) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.bySSRC.Load()
	next := make(map[uint32]*DownTrack, len(old))
	for k, v := range old {
		if v != dt {
			next[k] = v
		}
	}
	t.bySSRC.Store(&next)
}

func (t *Transport) downTrack(ssrc uint32) *DownTrack { return (*t.bySSRC.Load())[ssrc] }

// close stops the transport: its down-tracks must already be detached.
// The peer connection is closed by its owner.
func (t *Transport) close() {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.closed = true
	t.sfu.tap.remove(t.tapped, t)
	t.mu.Unlock()
	t.w.doWait(func() {
		delete(t.w.transports, t)
		t.running = false
		t.mode = modeNone
		t.pending, t.live = nil, nil
		if t.slow != nil {
			t.slow.stop()
		}
	})
	t.wg.Wait()
	t.w.release()
	t.sfu.mu.Lock()
	delete(t.sfu.transports, t)
	t.sfu.mu.Unlock()
}

func removeFrom(list []*DownTrack, dt *DownTrack) []*DownTrack {
	out := list[:0:0]
	for _, x := range list {
		if x != dt {
			out = append(out, x)
		}
	}
	return out
}
