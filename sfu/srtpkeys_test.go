package sfu

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	pionrtp "github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// Prism's own SRTP path depends on two hooks pion documents as debugging
// aids (the DTLS ServerHello hook and the key log). This test runs a real
// DTLS handshake with them and checks that the keys Prism derives are the
// ones the peer derives through the standard exporter: if a pion upgrade
// changes either hook, it fails here, loudly, rather than as silent
// subscribers.
func TestKeysCaughtFromDTLSMatchThePeers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		suite   dtls.CipherSuiteID
		profile dtls.SRTPProtectionProfile
	}{
		{"AES-GCM over SHA-256 suite", dtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, dtls.SRTP_AEAD_AES_128_GCM},
		{"AES-CM over SHA-384 suite", dtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, dtls.SRTP_AES128_CM_HMAC_SHA1_80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var caught keyCatcher
			server, client := dtlsPair(t, tc.suite, tc.profile, &caught)
			keys, err := caught.get()
			if err != nil {
				t.Fatalf("no keys caught from the handshake: %v (did a pion upgrade change its DTLS hooks?)", err)
			}
			state, ok := client.ConnectionState()
			if !ok {
				t.Fatal("client has no connection state")
			}
			var peer srtp.Config
			peer.Profile = srtp.ProtectionProfile(tc.profile)
			if err := peer.ExtractSessionKeysFromDTLS(&state, true); err != nil {
				t.Fatal(err)
			}
			if keys.profile != peer.Profile || !bytes.Equal(keys.key, peer.Keys.RemoteMasterKey) || !bytes.Equal(keys.salt, peer.Keys.RemoteMasterSalt) ||
				!bytes.Equal(keys.remoteKey, peer.Keys.LocalMasterKey) || !bytes.Equal(keys.remoteSalt, peer.Keys.LocalMasterSalt) {
				t.Fatal("the keys Prism derived are not the peer's: its own SRTP would be undecryptable")
			}
			// And what Prism encrypts, the peer decrypts.
			enc, _ := keys.newContext()
			dec, _ := srtp.CreateContext(peer.Keys.RemoteMasterKey, peer.Keys.RemoteMasterSalt, peer.Profile)
			p := pionrtp.Packet{Header: pionrtp.Header{Version: 2, SSRC: 9, SequenceNumber: 1}, Payload: []byte("media")}
			raw, _ := p.Marshal()
			sealed, err := enc.EncryptRTP(nil, raw, nil)
			if err != nil {
				t.Fatal(err)
			}
			if out, err := dec.DecryptRTP(nil, sealed, nil); err != nil || !bytes.HasSuffix(out, []byte("media")) {
				t.Fatalf("the peer cannot decrypt Prism's SRTP: %v", err)
			}
			_ = server.Close()
			_ = client.Close()
		})
	}
}

// A DTLS client, whose hooks see nothing of the server random, yields no
// keys and says why: its connections write through pion.
func TestNoKeysAsDTLSClient(t *testing.T) {
	var c keyCatcher
	if _, err := c.Write([]byte("CLIENT_RANDOM 00 11\n")); err != nil {
		t.Fatal(err)
	}
	if k, err := c.get(); k != nil || err == nil {
		t.Fatalf("keys %v err %v, want none and a reason", k, err)
	}
}

// dtlsPair runs a DTLS handshake over loopback UDP with Prism's hooks on
// the server side.
func dtlsPair(t *testing.T, suite dtls.CipherSuiteID, profile dtls.SRTPProtectionProfile, c *keyCatcher) (server, client *dtls.Conn) {
	t.Helper()
	a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	base := func() *dtls.Config {
		return &dtls.Config{
			Certificates: []tls.Certificate{cert}, CipherSuites: []dtls.CipherSuiteID{suite},
			SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{profile}, InsecureSkipVerify: true,
			ExtendedMasterSecret: dtls.RequireExtendedMasterSecret,
		}
	}
	scfg := base()
	scfg.ServerHelloMessageHook = c.serverHello
	scfg.KeyLogWriter = c
	scfg.ClientAuth = dtls.RequireAnyClientCert
	if server, err = dtls.Server(a, b.LocalAddr(), scfg); err != nil {
		t.Fatal(err)
	}
	if client, err = dtls.Client(b, a.LocalAddr(), base()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errs := make(chan error, 1)
	go func() { errs <- server.HandshakeContext(ctx) }()
	if err := client.HandshakeContext(ctx); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errs; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	return server, client
}
