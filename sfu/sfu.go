package sfu

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// Config configures an SFU. The zero value of every field but UDPConn has a
// working default.
type Config struct {
	// UDPConn is the one UDP socket all media flows through. SFU.Close
	// closes it.
	UDPConn net.PacketConn
	// PublicIPs are the addresses to advertise in ICE candidates instead of
	// the host's own, for a server behind 1:1 NAT.
	PublicIPs []string
	// LoopbackOnly limits ICE to 127.0.0.1 on both sides: for tests, which
	// must send nothing off the machine.
	LoopbackOnly bool
	// KeyframeInterval is the shortest time between two keyframe requests
	// Prism sends a publisher for one track; requests that arrive sooner
	// are coalesced into one at the end of the window. Default 500 ms.
	KeyframeInterval time.Duration
	// QueueLength is the number of packets a down-track may hold waiting to
	// be sent before it drops. Default 128: under a second of 1.5 Mbit/s
	// video, so a subscriber that falls behind loses packets rather than
	// building up seconds of delay.
	QueueLength int
	// Logger receives structured logs. Default: none.
	Logger *zap.Logger
}

// SFU holds the rooms of one server and the WebRTC settings shared by every
// peer connection.
type SFU struct {
	cfg    Config
	log    *zap.Logger
	pubAPI *webrtc.API
	mux    ice.UDPMux
	// settings and subMedia make each subscribe connection's API, which
	// is its own so that its DTLS hooks can catch that connection's keys.
	settings webrtc.SettingEngine
	subMedia *webrtc.MediaEngine

	mu     sync.Mutex
	rooms  map[string]*Room
	closed bool
	nextID uint64
	wg     sync.WaitGroup
}

// ErrClosed is returned by Join after Close.
var ErrClosed = errors.New("sfu: closed")

// New returns an SFU that sends and receives media on cfg.UDPConn.
func New(cfg Config) (*SFU, error) {
	if cfg.UDPConn == nil {
		return nil, errors.New("sfu: Config.UDPConn is required")
	}
	if cfg.KeyframeInterval <= 0 {
		cfg.KeyframeInterval = 500 * time.Millisecond
	}
	if cfg.QueueLength <= 0 {
		cfg.QueueLength = 128
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	s := &SFU{cfg: cfg, log: cfg.Logger, rooms: make(map[string]*Room)}
	s.mux = webrtc.NewICEUDPMux(nil, cfg.UDPConn)
	s.settings = s.settingEngine()
	var err error
	if s.pubAPI, err = newPublishAPI(s.settings); err != nil {
		return nil, err
	}
	s.subMedia = &webrtc.MediaEngine{}
	if err := RegisterCodecs(s.subMedia); err != nil {
		return nil, err
	}
	return s, nil
}

// settingEngine returns the settings shared by every peer connection: one
// UDP port, AES-GCM SRTP first, no mDNS.
func (s *SFU) settingEngine() webrtc.SettingEngine {
	se := webrtc.SettingEngine{LoggerFactory: PionLogger(s.log)}
	se.SetICEUDPMux(s.mux)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	// The DTLS server picks the SRTP profile. Prism is the server on both
	// connections, so AES-GCM is used whenever the client offers it;
	// Chromium, as server, picks AES-CM.
	if err := se.SetAnsweringDTLSRole(webrtc.DTLSRoleServer); err != nil {
		s.log.Warn("DTLS role", zap.Error(err))
	}
	se.SetICETimeouts(5*time.Second, 15*time.Second, 2*time.Second)
	// A lost DTLS flight otherwise stalls the connection for a second.
	se.SetDTLSRetransmissionInterval(100 * time.Millisecond)
	se.SetLite(false)
	if len(s.cfg.PublicIPs) > 0 {
		// Advertise the public addresses in place of the host's own.
		err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: s.cfg.PublicIPs, AsCandidateType: webrtc.ICECandidateTypeHost, Mode: webrtc.ICEAddressRewriteReplace,
		})
		if err != nil {
			s.log.Warn("public IP", zap.Strings("ips", s.cfg.PublicIPs), zap.Error(err))
		}
	}
	if s.cfg.LoopbackOnly {
		loop := func(ip net.IP) bool { return ip.IsLoopback() }
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		se.SetIncludeLoopbackCandidate(true)
		se.SetIPFilter(loop)
		se.SetRemoteIPFilter(loop)
	}
	return se
}

// newPublishAPI builds the API for publish connections: NACKs toward the
// publisher, receiver reports and transport-wide congestion feedback.
func newPublishAPI(se webrtc.SettingEngine) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := RegisterCodecs(m); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, fmt.Errorf("nack generator: %w", err)
	}
	ir.Add(gen)
	rr, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, fmt.Errorf("receiver reports: %w", err)
	}
	ir.Add(rr)
	if err := webrtc.ConfigureTWCCSender(m, ir); err != nil {
		return nil, fmt.Errorf("twcc: %w", err)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// newSubscribeConnection returns a subscribe connection whose SRTP keys
// and selected address are caught in r, so that down-tracks can write
// around pion's send path. It has no interceptors: down-tracks answer
// NACKs from the publisher's packet cache and send their own sender
// reports, so no per-subscriber copy of any packet is kept.
func (s *SFU) newSubscribeConnection(r *route) (*webrtc.PeerConnection, error) {
	se := s.settings
	se.SetDTLSKeyLogWriter(&r.keys)
	se.SetDTLSServerHelloMessageHook(r.keys.serverHello)
	api := webrtc.NewAPI(webrtc.WithMediaEngine(s.subMedia),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	pc.SCTP().Transport().ICETransport().OnSelectedCandidatePairChange(r.selectPair)
	return pc, nil
}

// Join adds a participant named name to the room roomID, creating the room
// if needed, and returns the participant and the members already there.
// events hears everything the participant must be told.
func (s *SFU) Join(roomID, name string, events Events) (*Participant, []ParticipantInfo, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, nil, ErrClosed
	}
	s.nextID++
	id := fmt.Sprintf("p%d", s.nextID)
	s.mu.Unlock()

	p, err := newParticipant(s, roomID, id, name, events)
	if err != nil {
		return nil, nil, fmt.Errorf("join %s: %w", roomID, err)
	}
	// The room is found or opened, and p admitted, under s.mu: a room that
	// is being closed for emptiness cannot take a new member meanwhile.
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = p.Close()
		return nil, nil, ErrClosed
	}
	r := s.rooms[roomID]
	if r == nil {
		r = newRoom(s, roomID)
		s.rooms[roomID] = r
		s.log.Info("room opened", zap.String("room", roomID))
	}
	p.room = r
	others, tracks := r.admit(p)
	s.mu.Unlock()
	return p, r.welcome(p, others, tracks), nil
}

// dropRoomIfEmpty closes r when its last participant has gone.
func (s *SFU) dropRoomIfEmpty(r *Room) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rooms[r.id] != r || !r.empty() {
		return
	}
	delete(s.rooms, r.id)
	s.log.Info("room closed", zap.String("room", r.id))
}

// Rooms returns the number of open rooms.
func (s *SFU) Rooms() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rooms)
}

// Close closes every participant, telling each through Events.Closed, and
// waits until every goroutine of the SFU has ended.
func (s *SFU) Close() error {
	s.mu.Lock()
	s.closed = true
	var all []*Participant
	for _, r := range s.rooms {
		all = append(all, r.participants()...)
	}
	s.mu.Unlock()
	for _, p := range all {
		p.closeWith(ErrClosed)
	}
	s.wg.Wait()
	return s.mux.Close()
}
