package sfu

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// Keyframe requests from many goroutines at once leave the receiver at
// most once per interval, and none is lost: the last one is sent at the
// end of its window.
func TestKeyframeRequestsAreThrottled(t *testing.T) {
	const interval = 100 * time.Millisecond
	var mu sync.Mutex
	var sent []time.Time
	r := newKeyframeRequester(interval, func() error {
		mu.Lock()
		sent = append(sent, time.Now())
		mu.Unlock()
		return nil
	}, zap.NewNop())
	start := time.Now()
	var wg sync.WaitGroup
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < 450*time.Millisecond {
				r.request()
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	time.Sleep(2 * interval)
	r.close()
	mu.Lock()
	defer mu.Unlock()
	if len(sent) < 4 || len(sent) > 6 {
		t.Fatalf("%d requests sent over 450ms of constant asking with a %v interval, want 4 to 6", len(sent), interval)
	}
	for i := 1; i < len(sent); i++ {
		if gap := sent[i].Sub(sent[i-1]); gap < interval-2*time.Millisecond {
			t.Errorf("requests %d and %d only %v apart", i-1, i, gap)
		}
	}
}
