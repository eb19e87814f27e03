package sfu

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
)

// gcmSealer protects one transport's RTP with AEAD_AES_128_GCM (RFC 7714),
// the profile Prism negotiates whenever the client offers it. It is
// Prism's own rather than pion's srtp.Context because Prism numbers every
// packet itself and so knows each one's rollover counter: pion's context
// parses the header a second time and looks up per-SSRC state in a map on
// every packet. RTCP, a few packets a second, stays with pion's context.
//
// A gcmSealer is owned by its transport's worker.
type gcmSealer struct {
	aead cipher.AEAD
	salt [12]byte
	iv   [12]byte // scratch: a local array would escape through the interface
}

// SRTP key derivation labels (RFC 3711 section 4.3.1).
const (
	labelSRTPEncryption = 0x00
	labelSRTPSalt       = 0x02
)

func newGCMSealer(masterKey, masterSalt []byte) (*gcmSealer, error) {
	if len(masterSalt) != 12 {
		return nil, errors.New("AEAD_AES_128_GCM needs a 12-byte master salt")
	}
	key, err := deriveSRTP(labelSRTPEncryption, masterKey, masterSalt, len(masterKey))
	if err != nil {
		return nil, err
	}
	salt, err := deriveSRTP(labelSRTPSalt, masterKey, masterSalt, 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	g := &gcmSealer{aead: aead}
	copy(g.salt[:], salt)
	return g, nil
}

// deriveSRTP is the AES-CM key derivation of RFC 3711 (appendix B.3) with a
// key derivation rate of 0: the master salt, left-aligned in a block,
// XORed with the label at byte 7, is the counter block.
func deriveSRTP(label byte, masterKey, masterSalt []byte, n int) ([]byte, error) {
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	var in [16]byte
	copy(in[:], masterSalt)
	in[7] ^= label
	out := make([]byte, (n+15)/16*16)
	for i := 0; i*16 < n; i++ {
		binary.BigEndian.PutUint16(in[14:], uint16(i))
		block.Encrypt(out[i*16:], in[:])
	}
	return out[:n], nil
}

// seal protects pkt, an RTP packet whose header is hdrLen bytes, into dst
// (which must not overlap pkt and must have room for len(pkt)+16) and
// returns the SRTP packet. roc is the packet's rollover counter.
func (g *gcmSealer) seal(dst, pkt []byte, hdrLen int, roc uint32) []byte {
	iv := &g.iv
	iv[0], iv[1] = 0, 0
	copy(iv[2:6], pkt[8:12]) // SSRC
	binary.BigEndian.PutUint32(iv[6:], roc)
	copy(iv[10:12], pkt[2:4]) // sequence number
	for i := range iv {
		iv[i] ^= g.salt[i]
	}
	n := copy(dst, pkt[:hdrLen])
	return g.aead.Seal(dst[:n], iv[:], pkt[hdrLen:], pkt[:hdrLen])
}
