package sfu

import (
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

// negotiator makes Prism's offers on a subscribe connection: one offer in
// flight at a time, with every change that arrives meanwhile coalesced into
// the next. The client never offers on this connection, so there is no
// glare.
type negotiator struct {
	pc   *webrtc.PeerConnection
	send func(sdp string)
	log  *zap.Logger

	mu       sync.Mutex
	inFlight bool
	pending  bool
	timer    *time.Timer
	closed   bool
}

func newNegotiator(pc *webrtc.PeerConnection, send func(string), log *zap.Logger) *negotiator {
	return &negotiator{pc: pc, send: send, log: log}
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

// offer creates and sends an offer unless one is already out.
func (n *negotiator) offer() {
	n.mu.Lock()
	n.timer = nil
	if n.closed || n.inFlight {
		n.mu.Unlock()
		return
	}
	n.inFlight = true
	n.pending = false
	// Held across CreateOffer and SetLocalDescription (local work, no
	// network I/O) so that answer cannot run between them.
	sdp, err := n.createOffer()
	if err != nil {
		n.inFlight = false
		n.mu.Unlock()
		n.log.Warn("subscribe offer", zap.Error(err))
		return
	}
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
// arrived while this one was out.
func (n *negotiator) answer(sdp string) error {
	n.mu.Lock()
	if !n.inFlight {
		n.mu.Unlock()
		return fmt.Errorf("%w: answer without an offer", ErrBadSDP)
	}
	n.mu.Unlock()
	err := n.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	n.mu.Lock()
	n.inFlight = false
	again := n.pending
	n.mu.Unlock()
	if again {
		n.request()
	}
	return nil
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
}
