package sfu

import (
	"bytes"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"
)

// Every subscriber, whichever worker owns it, gets every packet: its own
// SSRC and contiguous sequence numbers, timestamps that keep the source's
// spacing, the payload byte for byte (the first stream keeps its VP8
// numbers), and a transport-wide sequence number on each.
func TestEngineFansOutToEverySubscriber(t *testing.T) {
	s := newTestSFU(t, Config{Workers: 2})
	track := newTestTrack(s, vp8Codec, 1, nil)
	subs := make([]*testSub, 3)
	for i := range subs {
		subs[i] = newTestSub(t, s, true)
		subs[i].subscribe(track, uint32(500+i))
	}
	src := &vp8Source{seq: 65000, ts: 1 << 31, pid: 32700, size: 300}
	var sent [][]byte
	for f := range 100 {
		pkts := src.next(f == 0)
		sent = append(sent, pkts...)
		push(track.Stream(0), pkts)
	}
	for i, sub := range subs {
		ssrc := uint32(500 + i)
		waitFor(t, 5*time.Second, fmt.Sprintf("subscriber %d's packets", i), func() bool { return len(sub.packets(ssrc)) >= len(sent) })
		got := sub.packets(ssrc)
		for j, p := range got {
			var want pionrtp.Packet
			_ = want.Unmarshal(sent[j])
			if j > 0 && p.seq != got[j-1].seq+1 {
				t.Fatalf("subscriber %d packet %d: seq %d after %d", i, j, p.seq, got[j-1].seq)
			}
			if p.ts-got[0].ts != want.Timestamp-(1<<31) || !bytes.Equal(p.payload, want.Payload) || !p.twcc || p.marker != want.Marker {
				t.Fatalf("subscriber %d packet %d differs from what was published", i, j)
			}
		}
	}
	if w := s.engine.workers; subs[0].t.w == subs[1].t.w && subs[1].t.w == subs[2].t.w && len(w) > 1 {
		t.Fatal("all transports on one worker")
	}
}

// blockingConn is an ICE-TCP connection whose peer stopped reading: every
// write blocks until released.
type blockingConn struct {
	net.PacketConn
	release chan struct{}
	writes  atomic.Int64
}

func (c *blockingConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	<-c.release
	c.writes.Add(1)
	return len(b), nil
}

// A subscriber whose route blocks (a TCP peer that stopped reading) drops
// its own packets, whole frames at a time, and never delays the other
// subscribers of its worker; once it drains, it gets whole frames again.
func TestBlockedSubscriberDropsOnlyItsOwnPackets(t *testing.T) {
	s := newTestSFU(t, Config{Workers: 1})
	track := newTestTrack(s, vp8Codec, 1, nil)
	healthy := newTestSub(t, s, true)
	healthy.subscribe(track, 1)
	stuck := newTestSub(t, s, false)
	blocked := &blockingConn{release: make(chan struct{})}
	stuck.t.w.doWait(func() { stuck.t.setRoute(route{tcp: blocked, tcpAddr: &net.TCPAddr{}}) })
	dt := stuck.subscribe(track, 2)
	t.Cleanup(func() {
		select {
		case <-blocked.release:
		default:
			close(blocked.release)
		}
	})

	src := &vp8Source{seq: 1, ts: 1, pid: 1, size: 200}
	total := 0
	for f := range 200 {
		pkts := src.next(f == 0)
		total += len(pkts)
		push(track.Stream(0), pkts)
		if f%10 == 9 {
			waitFor(t, 5*time.Second, "the healthy subscriber to keep up", func() bool { return len(healthy.packets(1)) == total })
		}
	}
	if st := dt.Stats(); st.Dropped == 0 {
		t.Fatal("the blocked subscriber dropped nothing")
	}
	if d := healthy.t.Stats().Dropped; d != 0 {
		t.Fatalf("the healthy subscriber dropped %d packets", d)
	}
	// Unblocked, it drains its queue and takes whole frames again.
	close(blocked.release)
	before := blocked.writes.Load()
	for range 20 {
		push(track.Stream(0), src.next(false))
		time.Sleep(time.Millisecond)
	}
	waitFor(t, 5*time.Second, "the unblocked subscriber's writes", func() bool { return blocked.writes.Load() >= before+60 })
}

// A down-track switched by hand between two streams with unrelated
// numbering gives its subscriber one stream: contiguous sequence numbers,
// rising timestamps, contiguous VP8 picture IDs and TL0PICIDX, and each
// stream starting at its keyframe.
func TestLayerSwitchByHand(t *testing.T) {
	s := newTestSFU(t, Config{Workers: 1})
	track := newTestTrack(s, vp8Codec, 2, nil)
	sub := newTestSub(t, s, true)
	dt := sub.subscribe(track, 7)
	srcs := []*vp8Source{
		{seq: 100, ts: 5000, pid: 30000, tl0: 9, size: 120},
		{seq: 60000, ts: 4_000_000_000, pid: 17, tl0: 200, size: 400},
	}
	// The publisher's sender reports put both streams on one clock.
	now := time.Now().UnixNano()
	base := ntpTime(time.Now())
	for i, src := range srcs {
		track.Stream(i).onSenderReport(base, src.ts, now)
	}
	f := 0
	frame := func() {
		for i, src := range srcs {
			push(track.Stream(i), src.next(f%10 == 0))
		}
		f++
		time.Sleep(time.Millisecond) // at a pace, as from a network
	}
	// switchTo asks for stream i and goes on publishing until the
	// down-track forwards it, then for 20 frames more.
	switchTo := func(i int) {
		dt.pin(i, AllTemporal)
		for deadline := time.Now().Add(5 * time.Second); dt.Stats().Stream != i; frame() {
			if time.Now().After(deadline) {
				t.Fatalf("no switch to stream %d", i)
			}
		}
		for range 20 {
			frame()
		}
	}
	switchTo(0)
	switchTo(1)
	switchTo(0)
	waitFor(t, 5*time.Second, "the last packets", func() bool { return len(sub.packets(7)) >= 3*60 })
	if n := dt.Stats().Switches; n != 2 {
		t.Fatalf("%d switches, want 2", n)
	}
	got := sub.packets(7)
	if !isKeyframeStart(got[0]) {
		t.Fatal("the first packet does not start a keyframe")
	}
	sizes := map[int]int{}
	for j := 1; j < len(got); j++ {
		p, q := got[j-1], got[j]
		if q.seq != p.seq+1 {
			t.Fatalf("packet %d: seq %d after %d", j, q.seq, p.seq)
		}
		if int32(q.ts-p.ts) < 0 || (q.vp8.Start && int32(q.ts-p.ts) <= 0) {
			t.Fatalf("packet %d: timestamp %d after %d", j, q.ts, p.ts)
		}
		if q.vp8.Start {
			if q.vp8.PictureID != (p.vp8.PictureID+1)&0x7fff || q.vp8.TL0PICIDX != p.vp8.TL0PICIDX+1 {
				t.Fatalf("packet %d: picture %d tl0 %d after %d %d", j, q.vp8.PictureID, q.vp8.TL0PICIDX, p.vp8.PictureID, p.vp8.TL0PICIDX)
			}
			if len(q.payload) != len(p.payload) && !isKeyframeStart(q) {
				t.Fatalf("packet %d: the stream changed (%d to %d bytes) at a frame that is not a keyframe", j, len(p.payload), len(q.payload))
			}
		}
		sizes[len(q.payload)]++
	}
	if len(sizes) != 2 {
		t.Fatalf("payload sizes seen %v: want both streams", sizes)
	}
}

func isKeyframeStart(p gotPacket) bool {
	d := int(p.vp8.Len)
	return p.vp8.Start && len(p.payload) > d+5 && p.payload[d]&1 == 0 && p.payload[d+3] == 0x9d
}

// With the temporal limit at 0 only base-layer pictures go out, and the
// subscriber still sees contiguous sequence numbers and picture IDs; raised
// again, the higher layers resume at a layer-sync picture.
func TestTemporalLayerLimit(t *testing.T) {
	s := newTestSFU(t, Config{Workers: 1})
	track := newTestTrack(s, vp8Codec, 1, nil)
	sub := newTestSub(t, s, true)
	dt := sub.subscribe(track, 9)
	dt.pin(0, 0)
	src := &vp8Source{seq: 1, ts: 1, pid: 5, temporal: true, size: 100}
	for f := range 40 {
		push(track.Stream(0), src.next(f == 0))
	}
	waitFor(t, 5*time.Second, "the base layer", func() bool { return len(sub.packets(9)) >= 3*10 })
	dt.pin(0, 2)
	for range 40 {
		push(track.Stream(0), src.next(false))
	}
	waitFor(t, 5*time.Second, "all layers", func() bool { return len(sub.packets(9)) >= 3*(10+39) })
	got := sub.packets(9)
	for j := 1; j < len(got); j++ {
		p, q := got[j-1], got[j]
		if q.seq != p.seq+1 {
			t.Fatalf("packet %d: seq %d after %d", j, q.seq, p.seq)
		}
		if q.vp8.Start && q.vp8.PictureID != p.vp8.PictureID+1 {
			t.Fatalf("packet %d: picture %d after %d", j, q.vp8.PictureID, p.vp8.PictureID)
		}
		if j < 30 && q.vp8.TID != 0 {
			t.Fatalf("packet %d of temporal layer %d while limited to 0", j, q.vp8.TID)
		}
	}
}

// A NACK reaches Prism's socket as SRTCP, is taken off by the tap before
// pion, and is answered from the cache with the very packets the
// subscriber lost: same numbers, same payload.
func TestNACKAnsweredThroughTheTap(t *testing.T) {
	s := newTestSFU(t, Config{Workers: 1})
	track := newTestTrack(s, vp8Codec, 1, nil)
	sub := newTestSub(t, s, true)
	sub.subscribe(track, 11)
	src := &vp8Source{seq: 10, ts: 10, pid: 1, size: 500}
	for f := range 10 {
		push(track.Stream(0), src.next(f == 0))
	}
	waitFor(t, 5*time.Second, "the stream", func() bool { return len(sub.packets(11)) == 30 })
	first := sub.packets(11)
	lost := []uint16{first[4].seq, first[5].seq, first[17].seq}
	prism := s.cfg.UDPConn.LocalAddr().(*net.UDPAddr).AddrPort()
	sub.sendRTCP(prism, &rtcp.TransportLayerNack{MediaSSRC: 11, Nacks: rtcp.NackPairsFromSequenceNumbers(lost)})
	waitFor(t, 5*time.Second, "the retransmissions", func() bool { return len(sub.packets(11)) == 33 })
	again := sub.packets(11)[30:]
	for i, p := range again {
		orig := first[[]int{4, 5, 17}[i]]
		if p.seq != orig.seq || p.ts != orig.ts || !bytes.Equal(p.payload, orig.payload) {
			t.Fatalf("retransmission %d: seq %d ts %d, want %d %d and the same payload", i, p.seq, p.ts, orig.seq, orig.ts)
		}
	}
	if st := sub.t.Stats(); st.NACKs != 1 || st.Retransmits != 3 {
		t.Fatalf("stats %+v, want 1 NACK and 3 retransmissions", st)
	}
}

// A subscriber that joins after a keyframe is replayed the cached packets
// from it, and no keyframe is requested; 50 that join at once are replayed
// at a pace, not in one burst; one that joins with nothing to replay makes
// Prism ask the publisher.
func TestKeyframeReplayIsPacedAndSparesTheRequest(t *testing.T) {
	s := newTestSFU(t, Config{Workers: 1})
	var plis atomic.Int64
	track := newTestTrack(s, vp8Codec, 1, func(uint32) error { plis.Add(1); return nil })
	src := &vp8Source{seq: 1, ts: 1, pid: 1, size: 1000}
	for f := range 60 {
		push(track.Stream(0), src.next(f == 0))
	}
	const joiners = 50
	subs := make([]*testSub, joiners)
	for i := range subs {
		subs[i] = newTestSub(t, s, true)
	}
	start := time.Now()
	for i, sub := range subs {
		sub.subscribeAsync(track, uint32(100+i))
	}
	replay := 60 * 3
	for i, sub := range subs {
		waitFor(t, 10*time.Second, "every joiner's replay", func() bool { return len(sub.packets(uint32(100+i))) >= replay })
		if got := sub.packets(uint32(100 + i)); !isKeyframeStart(got[0]) {
			t.Fatalf("joiner %d did not start at the keyframe", i)
		}
	}
	took := time.Since(start)
	// Paced, the 9000 packets leave over about 700 ms (64 per 5 ms tick);
	// in one burst they leave in well under 100 ms.
	if took < 300*time.Millisecond {
		t.Fatalf("the replay of %d packets took %v: not paced", joiners*replay, took)
	}
	if n := plis.Load(); n != 0 {
		t.Fatalf("%d keyframe requests although the keyframe was replayed", n)
	}

	empty := newTestTrack(s, vp8Codec, 1, func(uint32) error { plis.Add(1); return nil })
	push(empty.Stream(0), src.next(false))
	newTestSub(t, s, true).subscribe(empty, 999)
	waitFor(t, 2*time.Second, "a keyframe request", func() bool { return plis.Load() == 1 })
}
