package signaling_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prismsfu/prism/internal/testenv"
)

// windowStats summarises one track's video packets that arrived in
// [from, to): how many, how many of their sequence range never arrived at
// all,
// and the 95th percentile of forwarding latency.
type windowStats struct {
	packets, lost int
	p95           time.Duration
}

func videoWindow(s *subscriber, from, to time.Time) windowStats {
	var w windowStats
	for _, r := range s.snapshot() {
		if !strings.HasPrefix(r.mime, "video/") {
			continue
		}
		var lats []time.Duration
		var lo, hi uint64 = ^uint64(0), 0
		for _, a := range r.arrivals {
			if a.at.Before(from) || !a.at.Before(to) {
				continue
			}
			lats = append(lats, a.latency)
			lo, hi = min(lo, a.seq), max(hi, a.seq)
		}
		// A packet repaired by a retransmission may arrive after the
		// window; it still counts as received.
		seen := r.seen
		w.packets += len(lats)
		for seq := lo; seq <= hi && len(lats) > 0; seq++ {
			if !seen[seq] {
				w.lost++
			}
		}
		if len(lats) > 0 {
			slices.Sort(lats)
			w.p95 = lats[len(lats)*95/100]
		}
	}
	return w
}

// A subscriber that stops reading changes nothing for the others: their
// loss stays zero and their forwarding latency stays where it was. Over
// UDP a stalled reader never blocks Prism's writes, so this checks what a
// user sees; the mechanism that keeps a blocked write from delaying the
// others is tested in sfu (TestBlockedDownTrackDropsOnlyItsOwnPackets).
func TestSlowSubscriberDoesNotAffectOthers(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	startPublisher(t, srv, "slow", "pub", clientConfig())
	healthy := []*subscriber{
		startSubscriber(t, srv, "slow", "h1", clientConfig(), nil),
		startSubscriber(t, srv, "slow", "h2", clientConfig(), nil),
	}
	slow := startSubscriber(t, srv, "slow", "slow", clientConfig(), nil)
	for _, s := range append(healthy, slow) {
		waitFor(t, 5*time.Second, "media to flow", func() bool { return flowing(s, 2) })
	}
	time.Sleep(500 * time.Millisecond)

	t0 := time.Now()
	time.Sleep(2 * time.Second)
	t1 := time.Now()
	slow.stopped.Store(true)
	stalledAt := packetsFrom(slow, "")
	time.Sleep(3 * time.Second)
	t2 := time.Now()

	if got := packetsFrom(slow, ""); got > stalledAt+2 {
		t.Fatalf("the slow subscriber kept reading: %d packets, then %d", stalledAt, got)
	}
	for i, h := range healthy {
		before, after := videoWindow(h, t0, t1), videoWindow(h, t1, t2)
		t.Logf("healthy %d: before %d packets, %d lost, p95 latency %v; after %d packets, %d lost, p95 %v",
			i, before.packets, before.lost, before.p95, after.packets, after.lost, after.p95)
		if before.packets == 0 || after.packets == 0 {
			t.Fatalf("healthy %d received nothing in a window", i)
		}
		if before.lost != 0 || after.lost != 0 {
			t.Errorf("healthy %d lost packets: %d before, %d after the slow one stalled", i, before.lost, after.lost)
		}
		// Loopback forwarding takes well under a millisecond; allow for a
		// noisy shared machine, but a subscriber held up behind the slow
		// one would wait hundreds of milliseconds.
		if after.p95 > before.p95+20*time.Millisecond {
			t.Errorf("healthy %d: p95 latency rose from %v to %v after the slow one stalled", i, before.p95, after.p95)
		}
		// Rate: the same number of packets per second, within 10%.
		rb := float64(before.packets) / t1.Sub(t0).Seconds()
		ra := float64(after.packets) / t2.Sub(t1).Seconds()
		if ra < 0.9*rb {
			t.Errorf("healthy %d: %.0f packets/s before, %.0f after", i, rb, ra)
		}
	}
}
