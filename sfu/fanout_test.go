package sfu

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pionrtp "github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	prtp "github.com/prismsfu/prism/rtp"
)

// sinkWriter stands in for pion's write path: it marshals each packet, as
// SRTP does before encrypting, and records the source sequence numbers it
// was given. block, when set, holds every write until closed.
type sinkWriter struct {
	buf     [prtp.MaxPacketSize]byte
	written atomic.Int64
	block   chan struct{}
	mu      sync.Mutex
	record  bool
	seqs    []uint16 // output sequence numbers, when record is set
}

func (w *sinkWriter) WriteRTP(h *pionrtp.Header, payload []byte) (int, error) {
	if w.block != nil {
		<-w.block
	}
	n, err := h.MarshalTo(w.buf[:])
	if err != nil {
		return 0, err
	}
	n += copy(w.buf[n:], payload)
	if w.record {
		w.mu.Lock()
		w.seqs = append(w.seqs, h.SequenceNumber)
		w.mu.Unlock()
	}
	w.written.Add(1)
	return n, nil
}

func (w *sinkWriter) Write(b []byte) (int, error) { return len(b), nil }

var vp8 = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}

// testFanout is a receiver with n down-tracks writing to sinks.
func testFanout(t testing.TB, n, queue int) (*Receiver, []*DownTrack, []*sinkWriter) {
	r := newFanout(nil, vp8, TrackInfo{ID: "v", ParticipantID: "pub"}, time.Second, zap.NewNop())
	ready := make(chan struct{})
	close(ready)
	dts := make([]*DownTrack, n)
	sinks := make([]*sinkWriter, n)
	for i := range dts {
		sinks[i] = &sinkWriter{}
		dts[i] = newForwarding(r, queue, ready, zap.NewNop())
	}
	t.Cleanup(func() {
		for i, d := range dts {
			if sinks[i].block != nil {
				select {
				case <-sinks[i].block:
				default:
					close(sinks[i].block)
				}
			}
			d.stop()
		}
	})
	return r, dts, sinks
}

func startAll(dts []*DownTrack, sinks []*sinkWriter) {
	for i, d := range dts {
		d.start(sinks[i], prtp.NewRewriter(uint32(1000+i), 96, prtp.ExtensionMap{}, 0, 0))
	}
}

// videoPacket returns packet i of a stream of five-packet frames: frame
// starts carry a VP8 descriptor with S=1, the last packet has the marker,
// and every 100th frame is a keyframe.
func videoPacket(i int, size int) []byte {
	frame := i / 5
	payload := make([]byte, size)
	if i%5 == 0 {
		payload[0] = 0x10 // S=1, partition 0
		payload[1] = 0x01 // inter frame
		if frame%100 == 0 {
			payload[1] = 0x00 // P=0: keyframe
			payload[4], payload[5], payload[6] = 0x9d, 0x01, 0x2a
		}
	}
	p := pionrtp.Packet{Header: pionrtp.Header{
		Version: 2, PayloadType: 100, SequenceNumber: uint16(i), Timestamp: uint32(frame * 3000),
		SSRC: 42, Marker: i%5 == 4,
	}, Payload: payload}
	b, _ := p.Marshal()
	return b
}

// One down-track whose writes block forever delays neither the receiver
// nor the other down-tracks; it drops its own packets, whole frames at a
// time, and resumes at a frame boundary.
func TestBlockedDownTrackDropsOnlyItsOwnPackets(t *testing.T) {
	r, dts, sinks := testFanout(t, 3, 64)
	sinks[0].block = make(chan struct{})
	sinks[0].record = true
	startAll(dts, sinks)
	var in ingest
	const total = 2000
	caughtUp := func(n int64) {
		deadline := time.Now().Add(5 * time.Second)
		for sinks[1].written.Load() < n || sinks[2].written.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("healthy down-tracks wrote %d and %d of %d packets", sinks[1].written.Load(), sinks[2].written.Load(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// Packets arrive in bursts of 16, as from a network; the healthy
	// down-tracks keep up while the blocked one holds its writer.
	for i := 0; i < total; i++ {
		r.push(&in, videoPacket(i, 200))
		if i%16 == 15 {
			caughtUp(int64(i + 1))
		}
	}
	caughtUp(total)
	for i := 1; i < 3; i++ {
		if d := dts[i].Dropped(); d != 0 {
			t.Errorf("healthy down-track %d dropped %d packets", i, d)
		}
	}
	if d := dts[0].Dropped(); d == 0 {
		t.Fatal("blocked down-track dropped nothing")
	}

	// Unblock; once it drains, new packets flow again from a frame start.
	close(sinks[0].block)
	for i := total; i < total+100; i++ {
		r.push(&in, videoPacket(i, 200))
		time.Sleep(100 * time.Microsecond)
	}
	time.Sleep(100 * time.Millisecond)
	sinks[0].mu.Lock()
	seqs := append([]uint16(nil), sinks[0].seqs...)
	sinks[0].mu.Unlock()
	// The rewriter keeps the source numbering (offset 0 here), so a gap in
	// output numbers is a gap in source packets, and the packet after a
	// gap must start a frame.
	gaps := 0
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			gaps++
			if seqs[i]%5 != 0 {
				t.Fatalf("after a drop, forwarding resumed mid-frame at packet %d", seqs[i])
			}
		}
	}
	if gaps == 0 || int(seqs[len(seqs)-1]) != total+99 {
		t.Fatalf("blocked down-track: %d gaps, last packet %d; want drops and recovery to %d", gaps, seqs[len(seqs)-1], total+99)
	}
}

// BenchmarkFanout measures the forwarding path for one packet sent to N
// down-tracks: cache store, queue hand-off, copy out of the cache, header
// rewrite and marshal. ns/sub-pkt is the cost per subscriber-packet.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("N=%d", n), func(b *testing.B) {
			r, dts, sinks := testFanout(b, n, 512)
			startAll(dts, sinks)
			pkts := make([][]byte, 1024)
			for i := range pkts {
				pkts[i] = videoPacket(i+5, 1200) // start after the keyframe
			}
			var in ingest
			r.push(&in, videoPacket(0, 1200))
			wait := func(want int64) {
				for {
					var got int64
					for i, s := range sinks {
						got += s.written.Load() + int64(dts[i].Dropped())
					}
					if got >= want {
						return
					}
					time.Sleep(20 * time.Microsecond)
				}
			}
			wait(int64(n))
			base := int64(n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pkt := pkts[i%len(pkts)]
				seq := uint16(i + 5)
				pkt[2], pkt[3] = byte(seq>>8), byte(seq)
				r.push(&in, pkt)
				if i%256 == 255 {
					wait(base + int64(i+1)*int64(n))
				}
			}
			wait(base + int64(b.N)*int64(n))
			b.StopTimer()
			var dropped uint64
			for _, d := range dts {
				dropped += d.Dropped()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/sub-pkt")
			b.ReportMetric(float64(dropped)/float64(b.N*n), "drops/sub-pkt")
		})
	}
}

// BenchmarkDownTrackMemory reports what one running down-track costs in
// heap and goroutine stacks: Prism's own share of a subscriber track,
// without pion's per-connection state.
func BenchmarkDownTrackMemory(b *testing.B) {
	const n = 1000
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r, dts, sinks := testFanout(b, n, 128)
		// Prism's own write path, as on a real subscribe connection, but
		// with no selected address: writes end before the socket.
		rt := &route{}
		rt.keys.keys = &srtpKeys{profile: srtp.ProtectionProfileAeadAes128Gcm, key: make([]byte, 16), salt: make([]byte, 12)}
		for _, d := range dts {
			d.route = rt
		}
		startAll(dts, sinks)
		var in ingest
		for i := 0; i < 600; i++ { // fill the cache and every queue's buffers once
			r.push(&in, videoPacket(i, 1200))
		}
		time.Sleep(50 * time.Millisecond)
		runtime.GC()
		runtime.ReadMemStats(&after)
		perTrack := (float64(after.HeapInuse+after.StackInuse) - float64(before.HeapInuse+before.StackInuse) - float64(r.cache.Size()*prtp.MaxPacketSize)) / n
		b.ReportMetric(perTrack, "B/downtrack")
		for _, d := range dts {
			d.stop()
		}
	}
}
