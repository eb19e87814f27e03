package signaling_test

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/transport/v4"
	"github.com/pion/transport/v4/stdnet"
	"github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/internal/testenv"
	"github.com/prismsfu/prism/sfu"
	"github.com/prismsfu/prism/signaling/client"
)

// startTURN runs a TURN server on loopback for the test and returns its
// ICE server entry and a function that stops it early.
func startTURN(t *testing.T) (webrtc.ICEServer, func()) {
	t.Helper()
	sock, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	udp := &cutConn{PacketConn: sock}
	const realm, user, pass = "prism", "test", "secret"
	key := turn.GenerateAuthKey(user, realm, pass)
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm: realm,
		AuthHandler: func(ra *turn.RequestAttributes) (string, []byte, bool) {
			return ra.Username, key, ra.Username == user
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn:            udp,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1"},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Closing a pion TURN server leaves its allocations relaying, so
	// stopping it early cuts its socket first.
	var once sync.Once
	stop := func() { once.Do(func() { udp.cut.Store(true); _ = srv.Close() }) }
	t.Cleanup(stop)
	return webrtc.ICEServer{URLs: []string{"turn:" + udp.LocalAddr().String() + "?transport=udp"}, Username: user, Credential: pass}, stop
}

// cutConn is a TURN server's socket that drops everything once cut.
type cutConn struct {
	net.PacketConn
	cut atomic.Bool
}

func (c *cutConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

func (c *cutConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.cut.Load() {
			return n, addr, err
		}
	}
}

// maxVideoGap returns the longest time without a video packet at the
// subscriber between from and now.
func maxVideoGap(s *subscriber, from time.Time) time.Duration {
	now := time.Now()
	var worst time.Duration
	for _, r := range s.snapshot() {
		if !strings.HasPrefix(r.mime, "video/") {
			continue
		}
		last := from
		for _, a := range r.arrivals {
			if a.at.Before(from) {
				continue
			}
			worst = max(worst, a.at.Sub(last))
			last = a.at
		}
		worst = max(worst, now.Sub(last))
	}
	return worst
}

// mediaTransport returns the stats of the one subscribe transport that
// carries media.
func mediaTransport(srv *testenv.Server) sfu.TransportStats {
	for _, t := range srv.SFU.Stats().Each {
		if t.Mode != "none" {
			return t
		}
	}
	return sfu.TransportStats{}
}

// A subscriber that can only use a TURN relay receives media through it,
// on Prism's own write path (Prism sends to the relay's address), without
// a gap.
func TestSubscriberThroughTURNRelay(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	startPublisher(t, srv, "relay", "pub", clientConfig())
	turnServer, _ := startTURN(t)
	relayOnly := client.Config{PeerConnection: webrtc.Configuration{
		ICEServers: []webrtc.ICEServer{turnServer}, ICETransportPolicy: webrtc.ICETransportPolicyRelay,
	}}
	sub := startSubscriber(t, srv, "relay", "relayed", relayOnly, nil)
	waitFor(t, 10*time.Second, "media through the relay", func() bool { return flowing(sub, 2) })
	start := time.Now()
	time.Sleep(3 * time.Second)
	pair, err := sub.c.SubscribeConnection().SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local.Typ != webrtc.ICECandidateTypeRelay {
		t.Fatalf("the subscriber's selected pair is %v (%v), want a relay", pair, err)
	}
	if m := srv.SFU.Stats().Transports; m["udp"] != 1 {
		t.Fatalf("transports by mode %v: the relayed subscriber should be on Prism's own path", m)
	}
	if gap := maxVideoGap(sub, start); gap > time.Second {
		t.Fatalf("a gap of %v in the relayed video", gap)
	}
}

// A subscriber whose UDP is blocked reaches Prism over ICE-TCP and
// receives media on it, without a gap.
func TestSubscriberOverICETCP(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{TCP: true})
	startPublisher(t, srv, "tcp", "pub", clientConfig())
	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true, Settings: func(se *webrtc.SettingEngine) {
		se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	}})
	if err != nil {
		t.Fatal(err)
	}
	sub := startSubscriber(t, srv, "tcp", "tcp-only", client.Config{API: api}, nil)
	waitFor(t, 10*time.Second, "media over TCP", func() bool { return flowing(sub, 2) })
	start := time.Now()
	time.Sleep(3 * time.Second)
	st := mediaTransport(srv)
	if st.Mode != "tcp" || !strings.HasPrefix(st.Route, "tcp:") {
		t.Fatalf("mode %s, route %q: want the subscriber on ICE-TCP", st.Mode, st.Route)
	}
	if gap := maxVideoGap(sub, start); gap > time.Second {
		t.Fatalf("a gap of %v in the video over TCP", gap)
	}
	if st.TWCCFeedback == 0 {
		t.Fatal("no congestion feedback over TCP: the tap on ICE-TCP reads nothing")
	}
}

// gate drops one of a subscriber's sockets' traffic to and from Prism's
// port while closed: a path that stops (or starts) working mid-call.
type gate struct {
	prism  netip.AddrPort
	closed atomic.Bool
}

func (g *gate) blocks(a net.Addr) bool {
	u, ok := a.(*net.UDPAddr)
	return ok && g.closed.Load() && u.AddrPort() == g.prism
}

// gatedNet is the standard network with every UDP socket its ICE agent
// opens behind a gate of its own, open at first.
type gatedNet struct {
	transport.Net
	prism netip.AddrPort
	mu    sync.Mutex
	gates map[int]*gate // by local port
}

func (n *gatedNet) gateFor(local net.Addr) *gate {
	g := &gate{prism: n.prism}
	if u, ok := local.(*net.UDPAddr); ok {
		n.mu.Lock()
		n.gates[u.Port] = g
		n.mu.Unlock()
	}
	return g
}

// gate returns the gate of the socket on local port port, or nil.
func (n *gatedNet) gate(port uint16) *gate {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.gates[int(port)]
}

func (n *gatedNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return &gatedConn{PacketConn: c, g: n.gateFor(c.LocalAddr())}, nil
}

func (n *gatedNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &gatedUDPConn{UDPConn: c, g: n.gateFor(c.LocalAddr())}, nil
}

// gatedConn is a socket behind a gate.
type gatedConn struct {
	net.PacketConn
	g *gate
}

func (c *gatedConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.g.blocks(addr) {
			return n, addr, err
		}
	}
}

func (c *gatedConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.g.blocks(addr) {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

// gatedUDPConn is gatedConn for pion's UDPConn interface.
type gatedUDPConn struct {
	transport.UDPConn
	g *gate
}

func (c *gatedUDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || !c.g.blocks(addr) {
			return n, addr, err
		}
	}
}

func (c *gatedUDPConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFromUDP(b)
		if err != nil || !c.g.blocks(addr) {
			return n, addr, err
		}
	}
}

func (c *gatedUDPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.g.blocks(addr) {
		return len(b), nil
	}
	return c.UDPConn.WriteTo(b, addr)
}

func (c *gatedUDPConn) WriteToUDP(b []byte, addr *net.UDPAddr) (int, error) {
	if c.g.blocks(addr) {
		return len(b), nil
	}
	return c.UDPConn.WriteToUDP(b, addr)
}

// When the selected pair changes mid-call, Prism's write path follows it.
// The subscriber's host socket is blocked at first, so the call starts on
// another path (the socket its TURN server sees, a server-reflexive
// candidate); once the host path works, Prism moves the call there by
// renomination; then the first path dies. The video has no gap over 1 s
// throughout.
func TestSubscriberPairChangesMidStream(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{SFU: func(c *sfu.Config) { c.ICERenomination = true }})
	startPublisher(t, srv, "move", "pub", clientConfig())

	std, err := stdnet.NewNet()
	if err != nil {
		t.Fatal(err)
	}
	nw := &gatedNet{Net: std, prism: srv.UDPAddr(), gates: map[int]*gate{}}
	host, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	hostGate := &gate{prism: srv.UDPAddr()}
	hostGate.closed.Store(true)
	mux := webrtc.NewICEUDPMux(nil, &gatedConn{PacketConn: host, g: hostGate})
	t.Cleanup(func() { _ = mux.Close() })
	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true, Settings: func(se *webrtc.SettingEngine) {
		se.SetNet(nw)
		se.SetICEUDPMux(mux)
	}})
	if err != nil {
		t.Fatal(err)
	}
	turnServer, stopTURN := startTURN(t)
	cfg := client.Config{API: api, PeerConnection: webrtc.Configuration{ICEServers: []webrtc.ICEServer{turnServer}}}
	sub := startSubscriber(t, srv, "move", "mover", cfg, nil)
	waitFor(t, 10*time.Second, "media on the first path", func() bool { return flowing(sub, 2) })
	first := mediaTransport(srv).Route
	start := time.Now()
	time.Sleep(time.Second)
	hostGate.closed.Store(false)
	waitFor(t, 15*time.Second, "the switch to the host path", func() bool {
		st := mediaTransport(srv)
		return st.RouteChanges > 0 && st.Route != first
	})
	// The first path dies: only the new route carries media now.
	firstAddr, err := netip.ParseAddrPort(first)
	if err != nil {
		t.Fatal(err)
	}
	old := nw.gate(firstAddr.Port())
	if old == nil {
		t.Fatalf("the first path %s is not one of the subscriber's gated sockets", first)
	}
	old.closed.Store(true)
	stopTURN()
	time.Sleep(2 * time.Second)
	second := mediaTransport(srv).Route
	if gap := maxVideoGap(sub, start); gap > time.Second {
		t.Fatalf("a gap of %v in the video when the route moved from %s to %s", gap, first, second)
	}
}
