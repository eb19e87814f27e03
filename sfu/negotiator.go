package sfu

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// coalesceDelay is how long the negotiator waits after a change before it
// offers, so that a burst of changes (five people joining at once) becomes
// one offer.
const coalesceDelay = 20 * time.Millisecond

// maxNegotiationFailures is how many offers in a row may go unanswered (or
// be answered with SDP that does not apply) before the client is dropped.
const maxNegotiationFailures = 2

// ErrNegotiation wraps an offer on the subscribe connection that got no
// usable answer. The client is told and offered again; after
// maxNegotiationFailures in a row it is dropped with this error.
var ErrNegotiation = errors.New("subscribe negotiation failed")

// negotiator makes Prism's offers on a subscribe connection: one offer in
// flight at a time, with every change that arrives meanwhile coalesced into
// the next. The client never offers on this connection, so there is no
// glare. An offer whose answer does not come within the timeout, or does
// not apply, is made again (pion cannot roll a local offer back, so the
// same offer is sent again while it is pending); a client that keeps
// failing is dropped.
type negotiator struct {
	pc      *webrtc.PeerConnection
	timeout time.Duration
	send    func(sdp string)
	// warn tells the client of a failed round; fail drops it.
	warn func(err error)
	fail func(err error)
	log  *zap.Logger

	mu        sync.Mutex
	inFlight  bool
	pending   bool
	closed    bool
	round     uint64 // counts offers, so a late timer knows it is stale
	lastOffer string
	failures  int
	timer     *time.Timer // the coalescing delay
	deadline  *time.Timer // the answer's
}

func newNegotiator(pc *webrtc.PeerConnection, timeout time.Duration, send func(string), warn, fail func(error), log *zap.Logger) *negotiator {
	return &negotiator{pc: pc, timeout: timeout, send: send, warn: warn, fail: fail, log: log}
}

// request asks for an offer that reflects the connection's current tracks.
func (n *negotiator) request() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return
	}
	if n.inFlight {
		n.pending = true
		return
	}
	if n.timer == nil {
		n.timer = time.AfterFunc(coalesceDelay, n.offer)
	}
}

// offer creates and sends an offer unless one is already out. After a
// failed round the pending offer, if pion still has one, is sent again.
func (n *negotiator) offer() {
	n.mu.Lock()
	n.timer = nil
	if n.closed || n.inFlight {
		n.mu.Unlock()
		return
	}
	sdp := n.lastOffer
	if n.pc.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
		// Held across CreateOffer and SetLocalDescription (local work,
		// no network I/O) so that answer cannot run between them.
		var err error
		if sdp, err = n.createOffer(); err != nil {
			n.mu.Unlock()
			n.log.Warn("subscribe offer", zap.Error(err))
			return
		}
	}
	n.inFlight, n.pending = true, false
	n.lastOffer = sdp
	n.round++
	round := n.round
	n.deadline = time.AfterFunc(n.timeout, func() { n.expire(round) })
	n.mu.Unlock()
	n.send(sdp)
}

func (n *negotiator) createOffer() (string, error) {
	offer, err := n.pc.CreateOffer(nil)
	if err != nil {
		return "", fmt.Errorf("create offer: %w", err)
	}
	if err := n.pc.SetLocalDescription(offer); err != nil {
		return "", fmt.Errorf("set local offer: %w", err)
	}
	return offer.SDP, nil
}

// answer applies the client's answer and sends the next offer if changes
// arrived while this one was out. An answer that does not apply is a
// failed round: the offer is rolled back and made again.
func (n *negotiator) answer(sdp string) error {
	n.mu.Lock()
	if !n.inFlight {
		n.mu.Unlock()
		return fmt.Errorf("%w: answer without an offer", ErrBadSDP)
	}
	n.deadline.Stop()
	// Held across SetRemoteDescription (local work) so that the answer's
	// timer cannot roll back half of it.
	err := n.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	if err != nil {
		err = fmt.Errorf("%w: %v", ErrBadSDP, err)
		// The client hears of this failure as the answer's error.
		report := n.failLocked(err, false)
		n.mu.Unlock()
		report()
		return err
	}
	n.inFlight, n.failures = false, 0
	again := n.pending
	n.mu.Unlock()
	if again {
		n.request()
	}
	return nil
}

// expire fails the round if its answer has not come.
func (n *negotiator) expire(round uint64) {
	n.mu.Lock()
	if n.closed || !n.inFlight || n.round != round {
		n.mu.Unlock()
		return
	}
	report := n.failLocked(fmt.Errorf("%w: no answer within %v", ErrNegotiation, n.timeout), true)
	n.mu.Unlock()
	report()
}

// failLocked ends a failed round and schedules the next offer, or gives
// up after too many failures. It returns what to tell the client (warn
// only when tell is set; fail always), to be called once n.mu is released.
// Called with n.mu held.
func (n *negotiator) failLocked(cause error, tell bool) (report func()) {
	n.inFlight = false
	n.failures++
	if n.failures >= maxNegotiationFailures {
		n.closed = true
		err := fmt.Errorf("%w: %d offers in a row without a usable answer: %v", ErrNegotiation, n.failures, cause)
		return func() { n.fail(err) }
	}
	n.log.Info("subscribe negotiation failed; offering again", zap.Error(cause))
	if n.timer == nil {
		n.timer = time.AfterFunc(coalesceDelay, n.offer)
	}
	if !tell {
		return func() {}
	}
	return func() { n.warn(cause) }
}

// close stops all further offers.
func (n *negotiator) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closed = true
	if n.timer != nil {
		n.timer.Stop()
		n.timer = nil
	}
	if n.deadline != nil {
		n.deadline.Stop()
	}
}
