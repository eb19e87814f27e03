package sfu

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	prtp "github.com/prismsfu/prism/rtp"
)

// The in-package tests run the real engine on a real loopback socket:
// Prism's workers encrypt and send real SRTP, and each test subscriber
// reads its own socket and decrypts what arrives, as a subscriber's SRTP
// stack would. Only pion's signalling and ICE are left out: a test
// transport's route and keys are set by hand.

// testKeys are the SRTP keys every test transport uses.
var testKeys = &srtpKeys{
	profile: srtp.ProtectionProfileAeadAes128Gcm,
	key:     make([]byte, 16), salt: make([]byte, 12),
	remoteKey: []byte("0123456789abcdef"), remoteSalt: []byte("0123456789ab"),
}

var vp8Codec = webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, PayloadType: 96}

// testMember is a member that ignores its room.
type testMember struct{ id Identity }

func (m *testMember) Identity() Identity { return m.id }
func (m *testMember) Notify(Event)       {}
func (m *testMember) Leave(error)        {}

// newTestSFU returns an SFU on a loopback socket, closed when tb ends.
func newTestSFU(tb testing.TB, cfg Config) *SFU {
	tb.Helper()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	_ = udp.SetWriteBuffer(4 << 20)
	cfg.UDPConn, cfg.LoopbackOnly = udp, true
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// newTestTrack returns a published track of codec with n streams.
func newTestTrack(s *SFU, codec webrtc.RTPCodecParameters, n int, pli func(uint32) error) *Track {
	kind := "video"
	if codec.MimeType == webrtc.MimeTypeOpus {
		kind = "audio"
	}
	t := s.NewTrack(&testMember{id: Identity{ID: "pub"}}, TrackConfig{
		Info: TrackInfo{ID: "t", ParticipantID: "pub", Kind: kind}, Codec: codec, PLI: pli,
	})
	for i := range n {
		t.addStream(string(rune('a'+i)), uint32(1000+i), nil)
	}
	return t
}

// testSub is a subscriber: its own socket, a transport on the engine
// writing to it, and a reader that decrypts and records what arrives.
type testSub struct {
	tb   testing.TB
	conn *net.UDPConn
	t    *Transport
	enc  *srtp.Context // encrypts the RTCP it sends Prism

	mu   sync.Mutex
	got  map[uint32][]gotPacket // by SSRC
	bad  int
	seen atomic.Int64
	done chan struct{}
}

// gotPacket is one packet a test subscriber decrypted.
type gotPacket struct {
	seq     uint16
	ts      uint32
	marker  bool
	payload []byte
	vp8     prtp.VP8Descriptor
	twcc    bool
}

// newTestSub returns a subscriber on a transport of s's engine. With
// record false it only counts packets (for benchmarks).
func newTestSub(tb testing.TB, s *SFU, record bool) *testSub {
	tb.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	dest := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	sub := &testSub{tb: tb, conn: conn, got: make(map[uint32][]gotPacket), done: make(chan struct{})}
	sub.t = newTestTransport(s, dest)
	enc, err := srtp.CreateContext(testKeys.remoteKey, testKeys.remoteSalt, testKeys.profile)
	if err != nil {
		tb.Fatal(err)
	}
	sub.enc = enc
	go sub.read(record)
	tb.Cleanup(sub.close)
	return sub
}

// newTestTransport returns a transport of s whose route leads to dest,
// with Prism's keys known and its RTCP tapped, as after ICE and DTLS.
func newTestTransport(s *SFU, dest netip.AddrPort) *Transport {
	t := &Transport{sfu: s, log: zap.NewNop(), rbuf: make([]byte, 1500)}
	empty := map[uint32]*DownTrack{}
	t.bySSRC.Store(&empty)
	t.w = s.engine.assign()
	t.keys.keys = testKeys
	t.mu.Lock()
	t.pair = route{udp: dest}
	t.mu.Unlock()
	t.activate()
	t.w.doWait(func() {})
	return t
}

func (s *testSub) read(record bool) {
	defer close(s.done)
	dec, _ := testKeys.newContext()
	buf := make([]byte, 1600)
	plain := make([]byte, 1600)
	var h pionrtp.Header
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			return
		}
		if isRTCP(buf[:n]) {
			continue
		}
		s.seen.Add(1)
		if !record {
			continue
		}
		out, err := dec.DecryptRTP(plain, buf[:n], &h)
		if err != nil {
			s.mu.Lock()
			s.bad++
			s.mu.Unlock()
			continue
		}
		p := gotPacket{seq: h.SequenceNumber, ts: h.Timestamp, marker: h.Marker, payload: append([]byte(nil), out[h.MarshalSize():]...)}
		p.twcc = h.GetExtension(testTWCCID) != nil
		p.vp8.Unmarshal(p.payload)
		s.mu.Lock()
		s.got[h.SSRC] = append(s.got[h.SSRC], p)
		s.mu.Unlock()
	}
}

// testTWCCID is the transport-wide sequence number extension's ID in tests.
const testTWCCID = 5

// subscribe starts forwarding track to the subscriber, as Bind does, and
// returns once the worker has started the down-track.
func (s *testSub) subscribe(track *Track, ssrc uint32) *DownTrack {
	dt := s.subscribeAsync(track, ssrc)
	s.t.w.doWait(func() {})
	return dt
}

// subscribeAsync is subscribe without waiting for the worker.
func (s *testSub) subscribeAsync(track *Track, ssrc uint32) *DownTrack {
	dt := newDownTrack(s.t, track)
	dt.bound = true
	dt.hdr = prtp.OutHeader{SSRC: ssrc, PayloadType: 96}
	dt.twccID = testTWCCID
	s.t.attach(dt)
	return dt
}

// packets returns what arrived for ssrc so far.
func (s *testSub) packets(ssrc uint32) []gotPacket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]gotPacket(nil), s.got[ssrc]...)
}

// waitFor polls until cond holds, or fails the test after timeout.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// sendRTCP sends an SRTCP packet to Prism, as the subscriber.
func (s *testSub) sendRTCP(to netip.AddrPort, pkts ...rtcp.Packet) {
	raw, err := rtcp.Marshal(pkts)
	if err != nil {
		s.tb.Fatal(err)
	}
	enc, err := s.enc.EncryptRTCP(nil, raw, nil)
	if err != nil {
		s.tb.Fatal(err)
	}
	if _, err := s.conn.WriteToUDPAddrPort(enc, to); err != nil {
		s.tb.Fatal(err)
	}
}

func (s *testSub) close() {
	s.t.close()
	_ = s.conn.Close()
	<-s.done
}

// vp8Frame returns the packets of one synthetic VP8 frame of a stream: n
// packets of size bytes, the first with S=1 and, for a keyframe, the key
// frame header (a w×h picture; 1280×720 when w is 0); the descriptor
// carries picture ID pid, TL0PICIDX tl0 and temporal layer tid (with the
// layer-sync bit y).
func vp8Frame(seq uint16, ts uint32, pid uint16, tl0, tid uint8, y, key bool, n, size, w, h int) [][]byte {
	if w == 0 {
		w, h = 1280, 720
	}
	out := make([][]byte, n)
	for i := range n {
		d := prtp.VP8Descriptor{Start: i == 0, HasPictureID: true, LongID: true, PictureID: pid,
			HasTL0PICIDX: true, TL0PICIDX: tl0, HasTID: true, TID: tid, LayerSync: y}
		payload := make([]byte, size)
		dl := d.MarshalTo(payload)
		if i == 0 {
			payload[dl] = 0x01 // inter frame
			if key {
				copy(payload[dl:], []byte{0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, byte(w), byte(w >> 8), byte(h), byte(h >> 8)})
			}
		}
		payload[size-1] = byte(i)
		p := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: 100, SequenceNumber: seq + uint16(i), Timestamp: ts, SSRC: 42, Marker: i == n-1}, Payload: payload}
		out[i], _ = p.Marshal()
	}
	return out
}

// vp8Source generates one synthetic VP8 stream with its own numbering.
type vp8Source struct {
	seq  uint16
	ts   uint32
	pid  uint16
	tl0  uint8
	n    int // frames so far
	size int
	// w and h are the picture size keyframes announce; 0 is 1280×720.
	w, h int
	// temporal, when set, gives frames the L1T3 pattern 0 2 1 2.
	temporal bool
}

// next returns the next frame's packets.
func (v *vp8Source) next(key bool) [][]byte {
	tid := uint8(0)
	if v.temporal && !key {
		tid = [4]uint8{0, 2, 1, 2}[v.n%4]
	}
	if tid == 0 && v.n > 0 {
		v.tl0++
	}
	pkts := vp8Frame(v.seq, v.ts, v.pid, v.tl0, tid, tid > 0, key, 3, v.size, v.w, v.h)
	v.seq += 3
	v.ts += 3000
	v.pid = (v.pid + 1) & 0x7fff
	v.n++
	return pkts
}

// push hands packets to a stream as its read loop would.
func push(st *Stream, pkts [][]byte) {
	for _, p := range pkts {
		st.push(p, time.Now().UnixNano())
	}
}
