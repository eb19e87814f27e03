package sfu

import (
	"net"
	"testing"

	pionrtp "github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// BenchmarkDirectWrite measures one packet on Prism's own write path to one
// subscriber: header marshal, AES-GCM SRTP encrypt and a UDP send to
// loopback. It must report 0 allocs/op: the path runs once per packet per
// subscriber.
func BenchmarkDirectWrite(b *testing.B) {
	ctx, err := srtp.CreateContext(make([]byte, 16), make([]byte, 12), srtp.ProtectionProfileAeadAes128Gcm)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	r := &route{conn: conn}
	r.dest.Store(conn.LocalAddr().(*net.UDPAddr)) // to itself; nobody reads
	w := &directWriter{route: r, ctx: ctx, plain: make([]byte, 1500), enc: make([]byte, 1500+srtpOverhead)}
	h := pionrtp.Header{Version: 2, PayloadType: 96, SSRC: 5}
	payload := make([]byte, 1100)
	b.ReportAllocs()
	for b.Loop() {
		h.SequenceNumber++
		if _, err := w.WriteRTP(&h, payload); err != nil {
			b.Fatal(err)
		}
	}
}
