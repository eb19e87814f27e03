package signaling

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/prismsfu/prism/sfu"
	"github.com/prismsfu/prism/signaling/protocol"
)

// outQueue is how many messages may wait for a slow client before the
// session drops it: a join into a room of a hundred announces a few
// hundred at once.
const outQueue = 256

// writeTimeout bounds one WebSocket write.
const writeTimeout = 5 * time.Second

// session serves one WebSocket client. Its reader goroutine owns the
// participant; its writer goroutine owns the connection's writes.
type session struct {
	srv  *Server
	conn *websocket.Conn
	// log gains the room and participant at join; other goroutines log
	// through it too, so it is swapped, never written in place.
	log     atomic.Pointer[zap.Logger]
	limiter *rate.Limiter

	out      chan []byte
	quit     chan struct{}
	quitOnce sync.Once
	ended    atomic.Bool

	// Room events can be raised for a participant before its joined
	// message is queued; they wait in early until it is, so a client
	// always hears joined first.
	gateMu sync.Mutex
	joined bool
	early  []protocol.Message

	// Owned by the reader goroutine.
	p           *sfu.Participant
	lastLimited time.Time
}

func newSession(s *Server, conn *websocket.Conn) *session {
	ss := &session{
		srv: s, conn: conn,
		limiter: rate.NewLimiter(rate.Limit(s.cfg.MessageRate), s.cfg.MessageBurst),
		out:     make(chan []byte, outQueue),
		quit:    make(chan struct{}),
	}
	ss.log.Store(s.log)
	return ss
}

// logger returns the session's logger.
func (ss *session) logger() *zap.Logger { return ss.log.Load() }

// run serves the client until it leaves, fails or the server closes.
func (ss *session) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	writer, pinger := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(writer)
		ss.writeLoop(ctx)
	}()
	go func() {
		defer close(pinger)
		ss.pingLoop(ctx)
	}()
	// A client that never joins is told why and dropped.
	joinTimer := time.AfterFunc(ss.srv.cfg.JoinTimeout, func() {
		ss.gateMu.Lock()
		joined := ss.joined
		ss.gateMu.Unlock()
		if !joined {
			ss.shutdown(protocol.ErrorMessage(protocol.Errorf(protocol.CodeNotJoined,
				"no join within %v; closing", ss.srv.cfg.JoinTimeout)))
		}
	})
	ss.readLoop(ctx)
	joinTimer.Stop()
	ss.ended.Store(true)
	if ss.p != nil {
		_ = ss.p.Close()
	}
	ss.finish()
	<-writer
	cancel()
	<-pinger
	_ = ss.conn.CloseNow()
}

// readLoop reads and handles messages in order until the connection ends.
func (ss *session) readLoop(ctx context.Context) {
	for {
		typ, rd, err := ss.conn.Reader(ctx)
		if err != nil {
			ss.logger().Debug("read", zap.Error(err))
			return
		}
		if !ss.allow() {
			if _, err := io.Copy(io.Discard, rd); err != nil {
				return
			}
			continue
		}
		data, err := io.ReadAll(io.LimitReader(rd, protocol.MaxMessageSize+1))
		if err != nil {
			return
		}
		if len(data) > protocol.MaxMessageSize {
			if _, err := io.Copy(io.Discard, rd); err != nil {
				return
			}
			ss.sendError(protocol.Errorf(protocol.CodeTooLarge, "message is over the limit of %d bytes", protocol.MaxMessageSize))
			continue
		}
		if typ != websocket.MessageText {
			ss.sendError(protocol.Errorf(protocol.CodeBadMessage, "binary messages are not part of the protocol"))
			continue
		}
		msg, err := protocol.Decode(data)
		if err != nil {
			ss.sendError(err)
			continue
		}
		if !ss.handle(msg) {
			return
		}
	}
}

// allow applies the message rate limit, telling the client at most once a
// second that its messages are being dropped.
func (ss *session) allow() bool {
	if ss.limiter.Allow() {
		return true
	}
	if time.Since(ss.lastLimited) > time.Second {
		ss.lastLimited = time.Now()
		ss.sendError(protocol.Errorf(protocol.CodeRateLimited,
			"too many messages: at most %.0f per second; messages are being dropped", ss.srv.cfg.MessageRate))
	}
	return false
}

// writeLoop writes queued messages until the session finishes, then
// closes the connection.
func (ss *session) writeLoop(ctx context.Context) {
	for {
		select {
		case b := <-ss.out:
			if err := ss.write(ctx, b); err != nil {
				_ = ss.conn.CloseNow()
				return
			}
		case <-ss.quit:
			ss.flush()
			_ = ss.conn.Close(websocket.StatusNormalClosure, "")
			return
		case <-ctx.Done():
			return
		}
	}
}

func (ss *session) write(ctx context.Context, b []byte) error {
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return ss.conn.Write(ctx, websocket.MessageText, b)
}

// flush writes what is still queued, within the close grace period.
func (ss *session) flush() {
	ctx, cancel := shutdownContext()
	defer cancel()
	for {
		select {
		case b := <-ss.out:
			if ss.conn.Write(ctx, websocket.MessageText, b) != nil {
				return
			}
		default:
			return
		}
	}
}

// pingLoop drops a client that stops answering WebSocket pings.
func (ss *session) pingLoop(ctx context.Context) {
	t := time.NewTicker(ss.srv.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, ss.srv.cfg.PingInterval)
			err := ss.conn.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				ss.logger().Info("client stopped answering pings", zap.Error(err))
				_ = ss.conn.CloseNow()
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// finish makes the writer flush and close the connection.
func (ss *session) finish() {
	ss.quitOnce.Do(func() { close(ss.quit) })
}

// shutdown sends m and closes the session.
func (ss *session) shutdown(m protocol.Message) {
	ss.send(m)
	ss.finish()
}

// send queues m for the client. A client whose queue is full is too slow
// to keep up and is dropped.
func (ss *session) send(m protocol.Message) {
	if ss.ended.Load() {
		return
	}
	b, err := protocol.Encode(m)
	if err != nil {
		ss.logger().Error("encode", zap.String("type", m.Type), zap.Error(err))
		return
	}
	select {
	case ss.out <- b:
	default:
		ss.logger().Warn("client is not reading its messages; dropping it")
		ss.ended.Store(true)
		_ = ss.conn.CloseNow()
	}
}

func (ss *session) sendError(err error) {
	ss.send(protocol.ErrorMessage(err))
}

// handle acts on one message; it returns false when the session should end.
func (ss *session) handle(m protocol.Message) bool {
	switch m.Type {
	case protocol.TypeKeepalive:
		ss.send(protocol.Message{Type: protocol.TypeKeepalive})
		return true
	case protocol.TypeJoin:
		return ss.join(m)
	case protocol.TypeLeave:
		return false
	}
	if ss.p == nil {
		ss.sendError(protocol.Errorf(protocol.CodeNotJoined, "%s before join: send join first", m.Type))
		return true
	}
	if err := ss.dispatch(m); err != nil {
		ss.sendError(err)
	}
	return true
}

// join makes the client a participant of the room it names.
func (ss *session) join(m protocol.Message) bool {
	if ss.p != nil {
		ss.sendError(protocol.Errorf(protocol.CodeAlreadyJoined, "already in room %q", ss.p.Room().ID()))
		return true
	}
	if m.Version != protocol.Version {
		ss.sendError(protocol.Errorf(protocol.CodeUnsupportedVersion,
			"protocol version %d is not supported; this server speaks version %d", m.Version, protocol.Version))
		return false
	}
	name := m.Name
	if name == "" {
		name = "guest"
	}
	id := sfu.Identity{Name: name, Metadata: m.Metadata, Permissions: sfu.AllowAll()}
	p, others, err := ss.srv.cfg.SFU.Join(m.Room, id, events{ss})
	if err != nil {
		ss.sendError(err)
		return false
	}
	ss.p = p
	ss.log.Store(ss.logger().WithLazy(zap.String("room", m.Room), zap.String("participant", p.ID())))
	parts := make([]protocol.Participant, 0, len(others))
	for _, o := range others {
		parts = append(parts, participantMessage(o))
	}
	ss.send(protocol.Message{
		Type: protocol.TypeJoined, Version: protocol.Version, Room: m.Room,
		ParticipantID: p.ID(), Participants: parts,
	})
	ss.gateMu.Lock()
	ss.joined = true
	early := ss.early
	ss.early = nil
	for _, e := range early {
		ss.send(e)
	}
	ss.gateMu.Unlock()
	return true
}

// sendEvent queues a room event, holding it back until joined is sent.
func (ss *session) sendEvent(m protocol.Message) {
	ss.gateMu.Lock()
	defer ss.gateMu.Unlock()
	if !ss.joined {
		ss.early = append(ss.early, m)
		return
	}
	ss.send(m)
}

// dispatch handles the messages of a joined client.
func (ss *session) dispatch(m protocol.Message) error {
	p := ss.p
	switch m.Type {
	case protocol.TypePublish:
		t := trackInfo(*m.Track)
		t.ParticipantID = p.ID()
		return sfuError(p.Declare(t))
	case protocol.TypeUnpublish:
		return sfuError(p.Unpublish(m.TrackID))
	case protocol.TypeMute:
		return sfuError(p.SetMuted(m.TrackID, *m.Muted))
	case protocol.TypeOffer:
		if m.PC != protocol.PCPublish {
			return protocol.Errorf(protocol.CodeBadMessage, "offer: clients offer only on the publish connection; Prism offers on subscribe")
		}
		answer, err := p.Offer(m.SDP)
		if err != nil {
			return sfuError(err)
		}
		ss.send(protocol.Message{Type: protocol.TypeAnswer, PC: protocol.PCPublish, SDP: answer})
		return nil
	case protocol.TypeAnswer:
		if m.PC != protocol.PCSubscribe {
			return protocol.Errorf(protocol.CodeBadMessage, "answer: clients answer only on the subscribe connection")
		}
		return sfuError(p.Answer(m.SDP))
	case protocol.TypeCandidate:
		return sfuError(p.AddCandidate(sfu.PC(m.PC), candidateInit(*m.Candidate)))
	case protocol.TypeChat:
		return sfuError(p.Chat(m.Text))
	case protocol.TypeSubscription:
		return sfuError(p.SetPreferences(m.ParticipantID, m.TrackID, preferences(m)))
	default:
		return protocol.Errorf(protocol.CodeBadMessage, "%s is sent by the server, not by clients", m.Type)
	}
}

// preferences are a subscription message's choices.
func preferences(m protocol.Message) sfu.Preferences {
	p := sfu.Preferences{Paused: m.Paused, Width: m.Width, Height: m.Height, MaxFPS: m.FPS}
	switch m.Quality {
	case protocol.QualityLow:
		p.MaxQuality = sfu.QualityLow
	case protocol.QualityMedium:
		p.MaxQuality = sfu.QualityMedium
	}
	return p
}

// sfuError gives an error from the sfu package its protocol code.
func sfuError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sfu.ErrBadSDP):
		return protocol.Errorf(protocol.CodeBadSDP, "%v", err)
	case errors.Is(err, sfu.ErrNoRemoteSDP), errors.Is(err, sfu.ErrBadCandidate):
		return protocol.Errorf(protocol.CodeBadCandidate, "%v", err)
	case errors.Is(err, sfu.ErrTooManyTracks):
		return protocol.Errorf(protocol.CodeBadMessage, "%v", err)
	case errors.Is(err, sfu.ErrUnknownTrack):
		return protocol.Errorf(protocol.CodeUnknownTrack, "%v", err)
	case errors.Is(err, sfu.ErrForbidden):
		return protocol.Errorf(protocol.CodeForbidden, "%v", err)
	case errors.Is(err, sfu.ErrNegotiation):
		return protocol.Errorf(protocol.CodeNegotiationFailed, "%v", err)
	}
	return err
}

func candidateInit(c protocol.Candidate) webrtc.ICECandidateInit {
	return webrtc.ICECandidateInit{
		Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
	}
}
