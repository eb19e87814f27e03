package sfu

import (
	"net"
	"testing"

	pionrtp "github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	prtp "github.com/prismsfu/prism/rtp"
)

// BenchmarkCeiling measures the physical floor of forwarding on this
// machine: one SRTP decrypt and parse per incoming packet, then for each of
// 50 subscribers its packet written (rtp.OutHeader), an SRTP encrypt with
// that subscriber's key
// (AEAD_AES_128_GCM, the profile Prism negotiates) and a UDP send to
// loopback. Run it on one core (-cpu 1); ns/fwd-pkt is the cost of one
// forwarded packet, and Prism's server CPU per forwarded packet (from
// cmd/loadtest) is compared with it in BENCHMARKS.md.
func BenchmarkCeiling(b *testing.B) {
	for _, profile := range []struct {
		name string
		p    srtp.ProtectionProfile
	}{
		{"AES128GCM", srtp.ProtectionProfileAeadAes128Gcm},
		{"AES128CM_SHA1_80", srtp.ProtectionProfileAes128CmHmacSha1_80},
	} {
		b.Run(profile.name, func(b *testing.B) { benchCeiling(b, profile.p) })
	}
}

func benchCeiling(b *testing.B, profile srtp.ProtectionProfile) {
	const subscribers = 50
	newCtx := func(seed byte) *srtp.Context {
		kl, _ := profile.KeyLen()
		sl, _ := profile.SaltLen()
		key, salt := make([]byte, kl), make([]byte, sl)
		for i := range key {
			key[i] = seed + byte(i)
		}
		c, err := srtp.CreateContext(key, salt, profile)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	// The publisher's side: a 1200-byte packet encrypted once.
	pubEnc, pubDec := newCtx(1), newCtx(1)
	src := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: 96, SSRC: 1}, Payload: make([]byte, 1200-12)}
	encrypted := make([][]byte, 4096)
	for i := range encrypted {
		src.SequenceNumber = uint16(i)
		raw, _ := src.Marshal()
		enc, err := pubEnc.EncryptRTP(nil, raw, nil)
		if err != nil {
			b.Fatal(err)
		}
		encrypted[i] = enc
	}

	recv, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer recv.Close()
	_ = recv.SetReadBuffer(8 << 20)
	go func() { // drain, so the kernel never pushes back
		buf := make([]byte, 1500)
		for {
			if _, _, err := recv.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	send, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer send.Close()
	dst := recv.LocalAddr().(*net.UDPAddr).AddrPort()

	subs := make([]*srtp.Context, subscribers)
	hdrs := make([]prtp.OutHeader, subscribers)
	for i := range subs {
		subs[i] = newCtx(byte(10 + i))
		hdrs[i] = prtp.OutHeader{SSRC: uint32(100 + i), PayloadType: 96}
	}
	plain := make([]byte, 1500)
	out := make([]byte, 1500)
	encBuf := make([]byte, 1500)
	var h pionrtp.Header
	parser := prtp.Parser{Codec: prtp.CodecVP8}
	var m prtp.Meta

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%len(encrypted) == 0 {
			pubDec = newCtx(1) // replay protection would refuse a second lap
		}
		dec, err := pubDec.DecryptRTP(plain, encrypted[i%len(encrypted)], nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := parser.Parse(dec, 1, &m); err != nil {
			b.Fatal(err)
		}
		for s := range subs {
			hdrs[s].Seq++
			hdrs[s].Timestamp = m.Timestamp
			n := hdrs[s].WriteTo(out, dec, &m, nil)
			pkt, err := subs[s].EncryptRTP(encBuf, out[:n], &h)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := send.WriteToUDPAddrPort(pkt, dst); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*subscribers), "ns/fwd-pkt")
	b.ReportMetric(1e9/(float64(b.Elapsed().Nanoseconds())/float64(b.N*subscribers)), "fwd-pkt/s")
}
