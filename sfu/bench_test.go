package sfu

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"
	"unsafe"

	prtp "github.com/prismsfu/prism/rtp"
)

// benchSink is a loopback socket the benchmarks send to; nobody reads it,
// so the kernel drops what overflows its buffer, as it would at a slow
// receiver.
func benchSink(b *testing.B) netip.AddrPort {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })
	return conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// benchFanout is a track with n subscribers, each on a transport of its own
// whose route leads to dest.
func benchFanout(_ testing.TB, s *SFU, n int, dest netip.AddrPort) (*Track, []*Transport) {
	track := newTestTrack(s, vp8Codec, 1, nil)
	ts := make([]*Transport, n)
	for i := range ts {
		ts[i] = newTestTransport(s, dest)
		dt := newDownTrack(ts[i], track)
		dt.bound = true
		dt.hdr = prtp.OutHeader{SSRC: uint32(i + 1), PayloadType: 96}
		dt.twccID = testTWCCID
		ts[i].attach(dt)
	}
	for _, w := range s.engine.workers {
		w.doWait(func() {})
	}
	return track, ts
}

func sent(ts []*Transport) (n uint64) {
	for _, t := range ts {
		n += t.stats.sent.Load() + t.stats.dropped.Load()
	}
	return n
}

// BenchmarkFanout measures the engine's cost of one 1200-byte VP8 packet
// forwarded to N subscribers: the stream's parse and cache store, the
// workers' wake-up, the copy out of the cache, each subscriber's packet
// written, SRTP-encrypted (AES-GCM) and sent to loopback with sendmmsg.
// ns/sub-pkt is the cost per subscriber-packet; allocs/op must be 0.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			s := newTestSFU(b, Config{})
			track, ts := benchFanout(b, s, n, benchSink(b))
			st := track.Stream(0)
			src := &vp8Source{seq: 1, ts: 1, pid: 1, size: 1200 - 12}
			push(st, src.next(true))
			seq := src.seq
			var frames [][]byte
			for range 341 {
				frames = append(frames, src.next(false)...)
			}
			wait := func(want uint64) {
				deadline := time.Now().Add(5 * time.Second)
				for sent(ts) < want {
					if time.Now().After(deadline) {
						var pk, dr uint64
						for _, t := range ts {
							for _, dt := range *t.bySSRC.Load() {
								pk += dt.stats.packets.Load()
								dr += dt.stats.dropped.Load()
							}
						}
						st := s.Stats()
						b.Fatalf("sent %d of %d (down-tracks: %d packets, %d dropped; missed jobs %d; modes %v)", sent(ts), want, pk, dr, st.MissedJobs, st.Transports)
					}
					time.Sleep(20 * time.Microsecond)
				}
			}
			base := uint64(3 * n)
			wait(base)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pkt := frames[i%len(frames)]
				pkt[2], pkt[3] = byte(seq>>8), byte(seq)
				seq++
				st.push(pkt, time.Now().UnixNano())
				if i%64 == 63 {
					wait(base + uint64(i+1)*uint64(n))
				}
			}
			wait(base + uint64(b.N)*uint64(n))
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sub-pkt")
		})
	}
}

// BenchmarkSubscriberMemory reports what one subscriber of one video track
// costs Prism in heap, without pion's peer connection: its transport (SRTP
// context, send history) and its down-track (sequence map, forwarding
// state).
func BenchmarkSubscriberMemory(b *testing.B) {
	const n = 1000
	dest := benchSink(b)
	for range b.N {
		s := newTestSFU(b, Config{})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		track, ts := benchFanout(b, s, n, dest)
		src := &vp8Source{seq: 1, ts: 1, pid: 1, size: 1000}
		for f := range 200 { // every down-track's state in use
			push(track.Stream(0), src.next(f == 0))
		}
		time.Sleep(50 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&after)
		shared := float64(track.Stream(0).cache.Size()) * float64(unsafe.Sizeof(prtp.Meta{})+prtp.MaxPacketSize)
		b.ReportMetric((float64(after.HeapInuse-before.HeapInuse)-shared)/n, "B/subscriber")
		for _, t := range ts {
			t.close()
		}
		_ = s.Close()
	}
}
