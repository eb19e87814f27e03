package sfu

import (
	"bytes"
	"math/rand/v2"
	"testing"

	pionrtp "github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// Prism's AES-GCM sealer writes exactly what pion's SRTP writes, across
// rollovers of the sequence number, and what pion's receiving side reads.
func TestGCMSealerMatchesPion(t *testing.T) {
	key, salt := make([]byte, 16), make([]byte, 12)
	for i := range key {
		key[i] = byte(rand.Uint32())
	}
	for i := range salt {
		salt[i] = byte(rand.Uint32())
	}
	mine, err := newGCMSealer(key, salt)
	if err != nil {
		t.Fatal(err)
	}
	theirs, _ := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm)
	recv, _ := srtp.CreateContext(key, salt, srtp.ProtectionProfileAeadAes128Gcm)
	dst := make([]byte, 1600)
	first := uint16(65000)
	for i := range 3000 {
		ext := uint64(1<<16) + uint64(first) + uint64(i)
		p := pionrtp.Packet{Header: pionrtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(ext), Timestamp: uint32(i * 3000), SSRC: 0xcafe}, Payload: make([]byte, 50+i%900)}
		_ = p.Header.SetExtension(3, []byte{byte(i), byte(i >> 8)})
		rand.Shuffle(len(p.Payload), func(a, b int) { p.Payload[a] = byte(a * b) })
		raw, _ := p.Marshal()
		want, err := theirs.EncryptRTP(nil, raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := mine.seal(dst, raw, p.Header.MarshalSize(), uint32(ext>>16)-1)
		if !bytes.Equal(got, want) {
			t.Fatalf("packet %d (seq %d): Prism's SRTP differs from pion's", i, uint16(ext))
		}
		if _, err := recv.DecryptRTP(nil, got, nil); err != nil {
			t.Fatalf("packet %d: the receiver cannot decrypt: %v", i, err)
		}
	}
	if n := testing.AllocsPerRun(100, func() { mine.seal(dst, dst[1000:1500], 12, 0) }); n != 0 {
		t.Fatalf("seal allocates %.1f times", n)
	}
}
