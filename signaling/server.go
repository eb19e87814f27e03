package signaling

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/prismsfu/prism/sfu"
	"github.com/prismsfu/prism/signaling/protocol"
)

// Config configures a Server.
type Config struct {
	// SFU is the media core the clients join. Required.
	SFU *sfu.SFU
	// OriginPatterns lists the hosts, besides the server's own, whose pages
	// may open the WebSocket (see websocket.AcceptOptions).
	OriginPatterns []string
	// PingInterval is how often the server pings each client; a client that
	// does not answer within the interval is dropped. Default 15 s.
	PingInterval time.Duration
	// JoinTimeout is how long a client may stay connected without joining
	// a room. Default 10 s.
	JoinTimeout time.Duration
	// MessageRate and MessageBurst bound how many messages per second a
	// client may send; excess messages are refused with rate_limited.
	// Defaults 50 and 200.
	MessageRate  float64
	MessageBurst int
	// Logger receives structured logs. Default: none.
	Logger *zap.Logger
}

// Server accepts WebSocket clients at its ServeHTTP and runs one session
// per client.
type Server struct {
	cfg Config
	log *zap.Logger

	mu       sync.Mutex
	sessions map[*session]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// NewServer returns a Server for cfg.
func NewServer(cfg Config) *Server {
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 15 * time.Second
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = 10 * time.Second
	}
	if cfg.MessageRate <= 0 {
		cfg.MessageRate = 50
	}
	if cfg.MessageBurst <= 0 {
		cfg.MessageBurst = 200
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Server{cfg: cfg, log: cfg.Logger, sessions: make(map[*session]struct{})}
}

// wsReadLimit is where the WebSocket library itself gives up on a message
// and closes the connection. Messages between protocol.MaxMessageSize and
// this are read, discarded and answered with an error.
const wsReadLimit = 1 << 20

// ServeHTTP upgrades the request to a WebSocket and serves the client
// until it leaves or the server closes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.OriginPatterns})
	if err != nil {
		s.log.Debug("websocket accept", zap.Error(err))
		return
	}
	conn.SetReadLimit(wsReadLimit)
	ss := newSession(s, conn)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = conn.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	s.sessions[ss] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, ss)
		s.mu.Unlock()
		s.wg.Done()
	}()
	ss.run(r.Context())
}

// Clients returns the number of connected clients.
func (s *Server) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Close tells every client the server is shutting down, closes their
// sessions and waits for them to end.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	all := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		ss.shutdown(protocol.Message{Type: protocol.TypeLeave, Code: protocol.CodeServerShutdown, Reason: "the server is shutting down"})
	}
	s.wg.Wait()
	return nil
}

// closeGrace is how long a session's last messages get to reach the client
// before the connection closes.
const closeGrace = time.Second

// shutdownContext bounds a session's final writes.
func shutdownContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), closeGrace)
}
