package signaling_test

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/internal/testenv"
	"github.com/prismsfu/prism/signaling/client"
)

// Prism writes media on its own path (SRTP keys caught from the DTLS
// handshake, sent straight to its UDP socket) when it is the DTLS server,
// and through pion when a client makes it the DTLS client. Media reaches
// the subscriber either way.
func TestWritePaths(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	startPublisher(t, srv, "paths", "pub", clientConfig())

	direct := startSubscriber(t, srv, "paths", "direct", clientConfig(), nil)
	waitFor(t, 5*time.Second, "media on Prism's own path", func() bool { return flowing(direct, 2) })
	if m := srv.SFU.Stats().Transports; m["udp"] != 1 || m["pion"] != 0 {
		t.Fatalf("Prism as DTLS server: transports by mode %v, want the subscriber's on udp", m)
	}

	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true, Settings: func(se *webrtc.SettingEngine) {
		// Answer a=setup:passive: Prism becomes the DTLS client and
		// never sees the server's random, so it cannot derive keys.
		if err := se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
			t.Fatal(err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	viaPion := startSubscriber(t, srv, "paths", "via-pion", client.Config{API: api}, nil)
	waitFor(t, 5*time.Second, "media through pion", func() bool { return flowing(viaPion, 2) })
	if m := srv.SFU.Stats().Transports; m["pion"] != 1 {
		t.Errorf("Prism as DTLS client: transports by mode %v, want one through pion", m)
	}
	// Its congestion feedback reaches Prism through pion's reader, the
	// other's through the tap.
	waitFor(t, 5*time.Second, "RTCP on both paths", func() bool {
		m := srv.SFU.Stats().ByMode
		return m["pion"].TWCCFeedback > 0 && m["udp"].TWCCFeedback > 0
	})
}
