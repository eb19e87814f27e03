package sfu

import (
	"sync"
	"time"

	"go.uber.org/zap"
)

// keyframeRequester asks a publisher for keyframes of one stream. Requests
// closer together than its interval are coalesced into one sent at the end
// of the interval, so a storm of PLIs from subscribers reaches the
// publisher as at most one request per interval, and none is lost.
type keyframeRequester struct {
	interval time.Duration
	send     func() error
	log      *zap.Logger

	mu      sync.Mutex
	last    time.Time
	timer   *time.Timer
	pending bool
	closed  bool
}

func newKeyframeRequester(interval time.Duration, send func() error, log *zap.Logger) *keyframeRequester {
	return &keyframeRequester{interval: interval, send: send, log: log}
}

// request asks for a keyframe, now or at the end of the current interval.
func (k *keyframeRequester) request() {
	k.mu.Lock()
	if k.closed || k.pending {
		// Closed, or one is already scheduled for the end of the window.
		k.mu.Unlock()
		return
	}
	if since := time.Since(k.last); since < k.interval {
		k.pending = true
		k.timer = time.AfterFunc(k.interval-since, k.flush)
		k.mu.Unlock()
		return
	}
	k.last = time.Now()
	k.mu.Unlock()
	k.sendNow()
}

func (k *keyframeRequester) flush() {
	k.mu.Lock()
	if !k.pending || k.closed {
		k.mu.Unlock()
		return
	}
	k.pending = false
	k.last = time.Now()
	k.mu.Unlock()
	k.sendNow()
}

func (k *keyframeRequester) sendNow() {
	if err := k.send(); err != nil {
		k.log.Debug("send keyframe request", zap.Error(err))
	}
}

// close stops all further requests.
func (k *keyframeRequester) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed = true
	k.pending = false
	if k.timer != nil {
		k.timer.Stop()
	}
}
