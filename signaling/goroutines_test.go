package signaling_test

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prismsfu/prism/internal/testenv"
)

// sfuGoroutines counts the goroutines the sfu package started itself, by
// what their stacks say created them.
func sfuGoroutines() int {
	buf := make([]byte, 64<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "\ncreated by github.com/prismsfu/prism/sfu.") {
			n++
		}
	}
	return n
}

// With 200 subscribers of one publisher's audio and video, the sfu package
// runs a fixed number of goroutines: its fan-out workers and two per
// published stream. Nothing it starts grows with subscribers, let alone
// with subscribers × tracks (the first core had two per down-track: 800
// here).
func TestGoroutinesBoundedByTheEngine(t *testing.T) {
	if testing.Short() {
		t.Skip("200 peers")
	}
	srv := testenv.StartServer(t, testenv.Options{})
	startPublisher(t, srv, "crowd", "pub", clientConfig())
	join := func(from, to int) []*subscriber {
		subs := make([]*subscriber, to-from)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range subs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				subs[i] = startSubscriber(t, srv, "crowd", "sub", clientConfig(), nil)
			}()
		}
		wg.Wait()
		return subs
	}
	const few, many = 20, 200
	subs := join(0, few)
	waitFor(t, 60*time.Second, "media to every subscriber", func() bool { return allFlowing(subs) })
	atFew := sfuGoroutines()
	subs = append(subs, join(few, many)...)
	waitFor(t, 120*time.Second, "media to every subscriber", func() bool { return allFlowing(subs) })
	atMany := sfuGoroutines()
	st := srv.SFU.Stats()
	workers := st.Workers
	if st.Transports["udp"] != many {
		t.Errorf("transports by mode %v, want %d on Prism's own path", st.Transports, many)
	}
	t.Logf("sfu goroutines: %d with %d subscribers, %d with %d (%d workers)", atFew, few, atMany, many, workers)
	// Workers, and a read loop and an RTCP reader per published stream.
	if limit := workers + 2*2; atMany > limit || atMany != atFew {
		t.Fatalf("%d sfu goroutines with %d subscribers of 2 tracks (%d with %d): want at most %d, the same for any number of subscribers",
			atMany, many, atFew, few, limit)
	}
}

func allFlowing(subs []*subscriber) bool {
	for _, s := range subs {
		if !flowing(s, 2) {
			return false
		}
	}
	return true
}
