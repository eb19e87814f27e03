// Package testenv starts a real Prism server on 127.0.0.1 for tests, and
// joins Go clients to it. Nothing it starts sends traffic off the machine.
package testenv

import (
	"context"
	"net"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/prismsfu/prism/examples/web"
	"github.com/prismsfu/prism/sfu"
	"github.com/prismsfu/prism/signaling"
	"github.com/prismsfu/prism/signaling/client"
)

// Options tunes the server a test starts. The zero value is Prism's
// defaults with logs at warning level.
type Options struct {
	KeyframeInterval time.Duration
	JoinTimeout      time.Duration
	PingInterval     time.Duration
	AnswerTimeout    time.Duration
	// TCP takes ICE over TCP on a listener of its own.
	TCP bool
	// SFU, when set, adjusts the SFU's configuration last.
	SFU func(*sfu.Config)
	// PublicIPs are advertised in Prism's ICE candidates instead of
	// 127.0.0.1 (as -public-ip does); media then cannot flow.
	PublicIPs []string
	Logger    *zap.Logger
}

// Server is a running Prism server.
type Server struct {
	HTTPURL   string // http://127.0.0.1:PORT
	WSURL     string // ws://127.0.0.1:PORT/ws
	SFU       *sfu.SFU
	Signaling *signaling.Server
	http      *httptest.Server
	udp       *net.UDPConn
	closed    bool
}

// StartServer starts Prism on 127.0.0.1 with its media on one UDP port and
// the browser client at /. It stops when the test ends.
func StartServer(t testing.TB, o Options) *Server {
	t.Helper()
	log := o.Logger
	if log == nil {
		log = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	_ = udp.SetReadBuffer(4 << 20)
	_ = udp.SetWriteBuffer(4 << 20)
	cfg := sfu.Config{
		UDPConn: udp, LoopbackOnly: true, Logger: log, PublicIPs: o.PublicIPs,
		KeyframeInterval: o.KeyframeInterval, AnswerTimeout: o.AnswerTimeout,
	}
	if o.TCP {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen tcp: %v", err)
		}
		cfg.TCPListener = ln
	}
	if o.SFU != nil {
		o.SFU(&cfg)
	}
	s, err := sfu.New(cfg)
	if err != nil {
		t.Fatalf("sfu: %v", err)
	}
	sig := signaling.NewServer(signaling.Config{
		SFU: s, Logger: log,
		JoinTimeout: o.JoinTimeout, PingInterval: o.PingInterval,
	})
	hs := httptest.NewServer(signaling.NewMux(sig, web.Handler()))
	srv := &Server{
		HTTPURL: hs.URL, WSURL: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws",
		SFU: s, Signaling: sig, http: hs, udp: udp,
	}
	t.Cleanup(srv.Close)
	return srv
}

// UDPAddr returns the address of Prism's media socket.
func (s *Server) UDPAddr() netip.AddrPort {
	return s.udp.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Close stops the server: clients are told, peer connections close, and
// every goroutine of the server ends.
func (s *Server) Close() {
	if s.closed {
		return
	}
	s.closed = true
	_ = s.Signaling.Close()
	s.http.CloseClientConnections()
	s.http.Close()
	_ = s.SFU.Close()
}

// Join joins a Go client to room as name with a loopback-only API unless
// cfg.API is set. The client closes when the test ends.
func (s *Server) Join(t testing.TB, room, name string, cfg client.Config) *client.Client {
	t.Helper()
	if cfg.API == nil {
		api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true})
		if err != nil {
			t.Fatalf("client api: %v", err)
		}
		cfg.API = api
	}
	cfg.URL, cfg.Room, cfg.Name = s.WSURL, room, name
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Join(ctx, cfg)
	if err != nil {
		t.Fatalf("join %s as %s: %v", room, name, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
