package client

import (
	"fmt"
	"net"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/prismsfu/prism/sfu"
)

// APIOptions configures NewAPI.
type APIOptions struct {
	// LoopbackOnly keeps ICE on 127.0.0.1: for tests and local load runs,
	// which must send nothing off the machine.
	LoopbackOnly bool
	// Interceptors, when set, registers extra interceptors before pion's
	// defaults, which puts them nearest the network: a test's loss injector
	// or a packet counter goes here.
	Interceptors func(*interceptor.Registry) error
	// Settings, when set, adjusts the setting engine last: a test that
	// drops packets above SRTP turns off SRTP replay protection here, so
	// retransmissions of packets SRTP already saw are not refused.
	Settings func(*webrtc.SettingEngine)
	// Logger receives pion's logs. Default: none.
	Logger *zap.Logger
}

// NewAPI returns a pion API with Prism's codecs and pion's default
// interceptors (NACK generator and responder, RTCP reports, TWCC), for
// Config.API.
func NewAPI(o APIOptions) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	// The publish set: the subscribe connection accepts the simulcast
	// extensions too and ignores them.
	if err := sfu.RegisterPublishCodecs(m); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if o.Interceptors != nil {
		if err := o.Interceptors(ir); err != nil {
			return nil, fmt.Errorf("extra interceptors: %w", err)
		}
	}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, fmt.Errorf("default interceptors: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	se := webrtc.SettingEngine{LoggerFactory: sfu.PionLogger(log)}
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// A lost DTLS flight otherwise stalls the connection for a second.
	se.SetDTLSRetransmissionInterval(100 * time.Millisecond)
	// AES-GCM costs pion about a sixth of AES-CM + HMAC-SHA1 per packet.
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	if o.LoopbackOnly {
		loop := func(ip net.IP) bool { return ip.IsLoopback() }
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(loop)
		se.SetRemoteIPFilter(loop)
	}
	if o.Settings != nil {
		o.Settings(&se)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}
