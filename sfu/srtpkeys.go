package sfu

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/prf"
	"github.com/pion/dtls/v3/pkg/protocol/extension"
	"github.com/pion/dtls/v3/pkg/protocol/handshake"
	"github.com/pion/srtp/v3"
)

// srtpKeys is what Prism needs to protect and unprotect SRTP for one
// connection itself: the protection profile, Prism's master key and salt
// (for what it sends) and the peer's (for the RTCP it receives).
type srtpKeys struct {
	profile    srtp.ProtectionProfile
	key, salt  []byte
	remoteKey  []byte
	remoteSalt []byte
}

// newContext returns a fresh SRTP context for what Prism sends. A context
// is not safe for concurrent use: its owner is the transport's worker.
func (k *srtpKeys) newContext() (*srtp.Context, error) {
	return srtp.CreateContext(k.key, k.salt, k.profile)
}

// newRemoteContext returns a fresh SRTP context for what the peer sends.
func (k *srtpKeys) newRemoteContext() (*srtp.Context, error) {
	return srtp.CreateContext(k.remoteKey, k.remoteSalt, k.profile)
}

// keyCatcher learns a connection's SRTP keys from its DTLS handshake, when
// Prism is the DTLS server. pion does not expose a connection's keys, but
// it offers two debugging hooks that together hold everything the RFC 5705
// exporter needs: the ServerHello (server random, cipher suite, SRTP
// profile) and the key log line (client random, master secret).
//
// When Prism is the DTLS client the ServerHello hook never runs, keys stays
// nil, and the connection's down-tracks write through pion instead.
type keyCatcher struct {
	mu      sync.Mutex
	hello   *handshake.MessageServerHello
	keys    *srtpKeys
	failure error
}

// serverHello is the DTLS ServerHello hook: it records the message and
// sends it unchanged.
func (c *keyCatcher) serverHello(m handshake.MessageServerHello) handshake.Message {
	c.mu.Lock()
	c.hello = &m
	c.mu.Unlock()
	return &m
}

// Write receives the DTLS key log: one line "CLIENT_RANDOM <hex> <hex>" per
// handshake.
func (c *keyCatcher) Write(line []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hello == nil {
		return len(line), nil // Prism is the DTLS client: no server random
	}
	c.keys, c.failure = deriveSRTPKeys(c.hello, line)
	return len(line), nil
}

// get returns the keys, or why there are none.
func (c *keyCatcher) get() (*srtpKeys, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keys == nil && c.failure == nil {
		return nil, errors.New("no SRTP keys: Prism is not the DTLS server")
	}
	return c.keys, c.failure
}

// deriveSRTPKeys computes the keying material RFC 5764 extracts from DTLS,
// then splits it the way pion's SRTP does, and returns the server's half.
func deriveSRTPKeys(hello *handshake.MessageServerHello, keyLog []byte) (*srtpKeys, error) {
	fields := bytes.Fields(keyLog)
	if len(fields) != 3 || string(fields[0]) != "CLIENT_RANDOM" {
		return nil, errors.New("key log: unexpected line") // never echo secrets
	}
	clientRandom, err := hex.DecodeString(string(fields[1]))
	if err != nil || len(clientRandom) != handshake.RandomLength {
		return nil, errors.New("key log: bad client random")
	}
	master, err := hex.DecodeString(string(fields[2]))
	if err != nil || len(master) == 0 {
		return nil, errors.New("key log: bad master secret")
	}
	if hello.CipherSuiteID == nil {
		return nil, errors.New("server hello without a cipher suite")
	}
	hash := prf.HashFunc(sha256.New)
	if strings.HasSuffix(dtls.CipherSuiteName(dtls.CipherSuiteID(*hello.CipherSuiteID)), "SHA384") {
		hash = sha512.New384
	}
	profile, err := helloProfile(hello)
	if err != nil {
		return nil, err
	}
	serverRandom := hello.Random.MarshalFixed()
	exporter := exporterFunc(func(label string, _ []byte, length int) ([]byte, error) {
		seed := make([]byte, 0, len(label)+2*handshake.RandomLength)
		seed = append(append(append(seed, label...), clientRandom...), serverRandom[:]...)
		return prf.PHash(master, seed, length, hash)
	})
	var cfg srtp.Config
	cfg.Profile = profile
	if err := cfg.ExtractSessionKeysFromDTLS(exporter, false); err != nil {
		return nil, fmt.Errorf("extract SRTP keys: %w", err)
	}
	return &srtpKeys{
		profile: profile, key: cfg.Keys.LocalMasterKey, salt: cfg.Keys.LocalMasterSalt,
		remoteKey: cfg.Keys.RemoteMasterKey, remoteSalt: cfg.Keys.RemoteMasterSalt,
	}, nil
}

// helloProfile returns the SRTP protection profile the ServerHello chose.
func helloProfile(hello *handshake.MessageServerHello) (srtp.ProtectionProfile, error) {
	for _, e := range hello.Extensions {
		u, ok := e.(*extension.UseSRTP)
		if !ok || len(u.ProtectionProfiles) != 1 {
			continue
		}
		switch p := srtp.ProtectionProfile(u.ProtectionProfiles[0]); p {
		case srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAes128CmHmacSha1_80:
			return p, nil
		default:
			return 0, fmt.Errorf("SRTP profile %#x not handled", uint16(p))
		}
	}
	return 0, errors.New("server hello without an SRTP profile")
}

// exporterFunc adapts a function to srtp.KeyingMaterialExporter.
type exporterFunc func(label string, context []byte, length int) ([]byte, error)

func (f exporterFunc) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	return f(label, context, length)
}
