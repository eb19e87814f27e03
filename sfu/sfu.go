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
	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// Config configures an SFU. The zero value of every field but UDPConn has a
// working default.
type Config struct {
	// UDPConn is the one UDP socket all media flows through. SFU.Close
	// closes it.
	UDPConn *net.UDPConn
	// TCPListener, when set, takes ICE over TCP (passive candidates), for
	// clients whose UDP is blocked. SFU.Close closes it.
	TCPListener net.Listener
	// PublicIPs are the addresses to advertise in ICE candidates instead of
	// the host's own, for a server behind 1:1 NAT.
	PublicIPs []string
	// LoopbackOnly limits ICE to 127.0.0.1 on both sides: for tests, which
	// must send nothing off the machine.
	LoopbackOnly bool
	// KeyframeInterval is the shortest time between two keyframe requests
	// Prism sends a publisher for one stream; requests that arrive sooner
	// are coalesced into one at the end of the window. Default 500 ms.
	KeyframeInterval time.Duration
	// AnswerTimeout is how long a client has to answer an offer on its
	// subscribe connection. Default 10 s.
	AnswerTimeout time.Duration
	// Workers is the number of fan-out workers. Default GOMAXPROCS.
	Workers int
	// SendBatch is how many datagrams a worker sends per system call
	// (sendmmsg on Linux); 1 sends each on its own. Default 32.
	SendBatch int
	// DynacastDelay is how long a simulcast layer (or a video track) that
	// no subscriber needs is still sent before its publisher is asked to
	// pause it. Default DynacastDelay.
	DynacastDelay time.Duration
	// ICERenomination lets Prism move a subscribe connection to a better
	// candidate pair after it connected (a relay to a direct path, say).
	ICERenomination bool
	// Logger receives structured logs. Default: none.
	Logger *zap.Logger
}

// SFU holds the rooms of one server, the fan-out engine and the WebRTC
// settings shared by every peer connection.
type SFU struct {
	cfg     Config
	log     *zap.Logger
	pionLog logging.LoggerFactory
	engine  *Engine
	tap     *rtcpTap
	udpMux  ice.UDPMux
	tcp     *tcpMux
	pubAPI  *webrtc.API
	// settings and subMedia make each subscribe connection's API, which
	// is its own so that its DTLS hooks can catch that connection's keys.
	settings webrtc.SettingEngine
	subMedia *webrtc.MediaEngine

	mu         sync.Mutex
	rooms      map[string]*Room
	transports map[*Transport]struct{}
	closed     bool
	nextID     uint64
	wg         sync.WaitGroup
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
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = 10 * time.Second
	}
	if cfg.DynacastDelay <= 0 {
		cfg.DynacastDelay = DynacastDelay
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	s := &SFU{cfg: cfg, log: cfg.Logger, rooms: make(map[string]*Room), transports: make(map[*Transport]struct{}), tap: newRTCPTap()}
	engine, err := newEngine(engineConfig{workers: cfg.Workers, batch: cfg.SendBatch, conn: cfg.UDPConn, log: s.log})
	if err != nil {
		return nil, fmt.Errorf("sfu: engine: %w", err)
	}
	s.engine = engine
	s.pionLog = PionLogger(s.log)
	pionLog := s.pionLog
	s.udpMux = webrtc.NewICEUDPMux(pionLog.NewLogger("ice"), &tapConn{UDPConn: cfg.UDPConn, tap: s.tap})
	if cfg.TCPListener != nil {
		s.tcp = newTCPMux(cfg.TCPListener, s.tap, pionLog.NewLogger("ice-tcp"))
	}
	s.settings = s.settingEngine()
	if s.pubAPI, err = newPublishAPI(s.settings); err != nil {
		s.engine.close()
		return nil, err
	}
	s.subMedia = &webrtc.MediaEngine{}
	if err := registerSubscribeCodecs(s.subMedia); err != nil {
		s.engine.close()
		return nil, err
	}
	return s, nil
}

// settingEngine returns the settings shared by every peer connection: one
// UDP port (and one TCP port, when set), AES-GCM SRTP first, no mDNS.
func (s *SFU) settingEngine() webrtc.SettingEngine {
	se := webrtc.SettingEngine{LoggerFactory: s.pionLog}
	se.SetICEUDPMux(s.udpMux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if s.tcp != nil {
		se.SetICETCPMux(s.tcp)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
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
	// Link-local addresses reach nobody beyond the link: a candidate on
	// one is a wasted pair for every client, and pion gives each local
	// address its own muxed connection, goroutine and buffers.
	se.SetIPFilter(func(ip net.IP) bool { return !ip.IsLinkLocalUnicast() })
	if s.cfg.LoopbackOnly {
		loop := func(ip net.IP) bool { return ip.IsLoopback() }
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
	if err := RegisterPublishCodecs(m); err != nil {
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

// subscribeAPI returns the API for one subscribe connection: its DTLS
// hooks catch the connection's SRTP keys in keys. It has no interceptors:
// the connection's Transport answers NACKs from the publishers' caches,
// reads RTCP off the socket and sends its own reports.
func (s *SFU) subscribeAPI(keys *keyCatcher) *webrtc.API {
	se := s.settings
	se.SetDTLSKeyLogWriter(keys)
	se.SetDTLSServerHelloMessageHook(keys.serverHello)
	if s.cfg.ICERenomination {
		if err := se.SetICERenomination(); err != nil {
			s.log.Warn("ICE renomination", zap.Error(err))
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(s.subMedia),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(se))
}

// Join adds a WebRTC participant with identity id to the room roomID,
// creating the room if needed, and returns it with the members already
// there. An empty id.ID gets a server-assigned one. events hears
// everything the participant's client must be told.
func (s *SFU) Join(roomID string, id Identity, events Events) (*Participant, []ParticipantInfo, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, nil, ErrClosed
	}
	if id.ID == "" {
		s.nextID++
		id.ID = fmt.Sprintf("p%d", s.nextID)
	}
	s.wg.Add(1)
	s.mu.Unlock()

	p, err := newParticipant(s, roomID, id, events)
	if err != nil {
		s.wg.Done()
		return nil, nil, fmt.Errorf("join %s: %w", roomID, err)
	}
	room, snap, err := s.admit(roomID, p)
	if err != nil {
		p.closeWith(nil)
		return nil, nil, err
	}
	p.room = room
	room.announce(p, snap)
	for _, t := range snap.Tracks {
		p.subscribe(t)
	}
	p.log.Info("participant joined", zap.String("name", id.Name))
	return p, snap.Participants, nil
}

// admit finds or opens room roomID and makes m a member, under s.mu: a
// room that is being closed for emptiness cannot take a new member
// meanwhile.
func (s *SFU) admit(roomID string, m Member) (*Room, Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, Snapshot{}, ErrClosed
	}
	r := s.rooms[roomID]
	if r == nil {
		r = newRoom(s, roomID)
		s.rooms[roomID] = r
		s.log.Info("room opened", zap.String("room", roomID))
	}
	snap, err := r.admit(m)
	if err != nil {
		if r.empty() {
			delete(s.rooms, roomID)
		}
		return nil, Snapshot{}, err
	}
	return r, snap, nil
}

// dropRoomIfEmpty closes r when its last member has gone.
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

// Room returns the open room named id, or nil.
func (s *SFU) Room(id string) *Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rooms[id]
}

// Engine returns the fan-out engine.
func (s *SFU) Engine() *Engine { return s.engine }

// Close asks every member to leave (a participant's client is told through
// Events.Closed) and waits until every goroutine of the SFU has ended. A
// second Close does nothing.
func (s *SFU) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var all []Member
	for _, r := range s.rooms {
		all = append(all, r.Members()...)
	}
	s.mu.Unlock()
	for _, m := range all {
		m.Leave(ErrClosed)
	}
	s.wg.Wait()
	s.engine.close()
	if s.tcp != nil {
		_ = s.tcp.Close()
	}
	return s.udpMux.Close()
}
