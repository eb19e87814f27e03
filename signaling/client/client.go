// Package client is a Go client for Prism's signaling protocol: it joins a
// room over WebSocket, publishes local tracks on its publish connection and
// receives the other participants' tracks on its subscribe connection.
//
// The tests, cmd/loadtest and the examples all use it.
package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/prismsfu/prism/sfu"
	"github.com/prismsfu/prism/signaling/protocol"
)

// Config configures a Client. URL and Room are required; callbacks may be
// nil. Callbacks run on the client's reader goroutine (OnTrack excepted)
// and must not block.
type Config struct {
	URL  string // ws://host:port/ws
	Room string
	Name string
	// Metadata is shown to the other participants, opaque to Prism.
	Metadata string
	Token    string
	// API builds the peer connections. Default: NewAPI(APIOptions{}).
	API *webrtc.API
	// PeerConnection configures both peer connections: ICE servers (a TURN
	// server, say) and the ICE transport policy.
	PeerConnection webrtc.Configuration
	Logger         *zap.Logger

	// OnTrack is called, in a goroutine of its own, for each remote track.
	// Read the track until Read returns an error.
	OnTrack func(*RemoteTrack)
	// OnKeyframeRequest is called when Prism asks for a keyframe of one of
	// the client's published tracks (of a simulcast track:
	// SimulcastOptions.OnKeyframeRequest).
	OnKeyframeRequest func(trackID string)
	// OnLayers is called when Prism asks the client to pause or resume
	// streams of a published track (dynacast): an encoder should stop
	// those that are not active, and restart one with a keyframe. A
	// simulcast track's paused encodings are also dropped by
	// SimulcastTrack.WriteRTP.
	OnLayers func(trackID string, layers []protocol.Layer)

	OnParticipantJoined func(protocol.Participant)
	OnParticipantLeft   func(id string)
	OnTrackPublished    func(protocol.Track)
	OnTrackUnpublished  func(protocol.Track)
	OnTrackMuted        func(protocol.Track)
	OnChat              func(from protocol.Participant, text string)
	// OnMessage sees every message from the server, errors included.
	OnMessage func(protocol.Message)
}

// RemoteTrack is a track forwarded by Prism from another participant.
type RemoteTrack struct {
	*webrtc.TrackRemote
	Receiver *webrtc.RTPReceiver
	// ParticipantID is the publisher.
	ParticipantID string
	// Info is what the publisher declared; it may be empty if Prism's
	// announcement has not arrived.
	Info protocol.Track
}

// Client is one participant. Its methods are safe for concurrent use.
type Client struct {
	cfg  Config
	log  *zap.Logger
	conn *websocket.Conn
	id   string

	pub, sub *webrtc.PeerConnection

	wmu sync.Mutex // serialises WebSocket writes

	mu          sync.Mutex
	tracks      map[string]protocol.Track // by participant id + "/" + track id
	senders     map[string]*webrtc.RTPSender
	simulcast   map[string]*SimulcastTrack
	offering    bool
	reoffer     bool
	pendingCand map[string][]webrtc.ICECandidateInit
	// localCand holds our candidates for a connection until its first
	// offer or answer has been sent, since Prism refuses a candidate that
	// comes before its connection's description.
	localCand map[string][]protocol.Candidate
	sdpSent   map[string]bool
	others    []protocol.Participant

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	wg     sync.WaitGroup
}

// Join connects to Prism, joins cfg.Room and returns once Prism has
// accepted the client. ctx bounds the join only.
func Join(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.API == nil {
		api, err := NewAPI(APIOptions{})
		if err != nil {
			return nil, err
		}
		cfg.API = api
	}
	conn, _, err := websocket.Dial(ctx, cfg.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", cfg.URL, err)
	}
	conn.SetReadLimit(1 << 20)
	c := &Client{
		cfg: cfg, log: cfg.Logger, conn: conn,
		tracks:      make(map[string]protocol.Track),
		senders:     make(map[string]*webrtc.RTPSender),
		simulcast:   make(map[string]*SimulcastTrack),
		pendingCand: make(map[string][]webrtc.ICECandidateInit),
		localCand:   make(map[string][]protocol.Candidate),
		sdpSent:     make(map[string]bool),
		done:        make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if err := c.join(ctx); err != nil {
		c.cancel()
		_ = conn.CloseNow()
		return nil, fmt.Errorf("join %s: %w", cfg.Room, err)
	}
	if err := c.newPeerConnections(); err != nil {
		c.cancel()
		_ = conn.CloseNow()
		return nil, err
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.readLoop()
	}()
	return c, nil
}

// join sends join and waits for joined or an error.
func (c *Client) join(ctx context.Context) error {
	err := c.Send(protocol.Message{Type: protocol.TypeJoin, Version: protocol.Version, Room: c.cfg.Room, Name: c.cfg.Name, Metadata: c.cfg.Metadata, Token: c.cfg.Token})
	if err != nil {
		return err
	}
	for {
		m, err := c.read(ctx)
		if err != nil {
			return err
		}
		switch m.Type {
		case protocol.TypeJoined:
			c.id = m.ParticipantID
			c.others = m.Participants
			for _, p := range m.Participants {
				for _, t := range p.Tracks {
					c.tracks[p.ID+"/"+t.ID] = t
				}
			}
			return nil
		case protocol.TypeError:
			return &protocol.Error{Code: m.Code, Message: m.Reason}
		}
	}
}

func (c *Client) newPeerConnections() error {
	var err error
	if c.pub, err = c.cfg.API.NewPeerConnection(c.cfg.PeerConnection); err != nil {
		return fmt.Errorf("publish connection: %w", err)
	}
	if c.sub, err = c.cfg.API.NewPeerConnection(c.cfg.PeerConnection); err != nil {
		_ = c.pub.Close()
		return fmt.Errorf("subscribe connection: %w", err)
	}
	c.trickle(c.pub, protocol.PCPublish)
	c.trickle(c.sub, protocol.PCSubscribe)
	c.sub.OnTrack(c.onTrack)
	return nil
}

func (c *Client) trickle(pc *webrtc.PeerConnection, name string) {
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		pc := candidateMessage(sfu.CandidateInit(cand))
		c.mu.Lock()
		if !c.sdpSent[name] {
			c.localCand[name] = append(c.localCand[name], pc)
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		_ = c.Send(protocol.Message{Type: protocol.TypeCandidate, PC: name, Candidate: &pc})
	})
}

// sendSDP sends an offer or answer, then any candidates held back for it.
func (c *Client) sendSDP(typ, name, sdp string) error {
	if err := c.Send(protocol.Message{Type: typ, PC: name, SDP: sdp}); err != nil {
		return err
	}
	c.mu.Lock()
	c.sdpSent[name] = true
	held := c.localCand[name]
	delete(c.localCand, name)
	c.mu.Unlock()
	for i := range held {
		if err := c.Send(protocol.Message{Type: protocol.TypeCandidate, PC: name, Candidate: &held[i]}); err != nil {
			return err
		}
	}
	return nil
}

// ID returns the participant id Prism gave the client.
func (c *Client) ID() string { return c.id }

// Participants returns the participants that were in the room at join.
func (c *Client) Participants() []protocol.Participant { return c.others }

// PublishConnection and SubscribeConnection expose the peer connections,
// for statistics.
func (c *Client) PublishConnection() *webrtc.PeerConnection   { return c.pub }
func (c *Client) SubscribeConnection() *webrtc.PeerConnection { return c.sub }

// Done is closed when the client's session has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the session ended, once Done is closed.
func (c *Client) Err() error {
	<-c.done
	return c.err
}

// Send sends one protocol message as is.
func (c *Client) Send(m protocol.Message) error {
	b, err := protocol.Encode(m)
	if err != nil {
		return err
	}
	return c.SendRaw(b)
}

// SendRaw sends bytes as one WebSocket text message: for tests of how
// Prism handles bad input.
func (c *Client) SendRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.conn.Write(ctx, websocket.MessageText, b)
}

func (c *Client) read(ctx context.Context) (protocol.Message, error) {
	_, b, err := c.conn.Read(ctx)
	if err != nil {
		return protocol.Message{}, err
	}
	return protocol.Decode(b)
}

// Publish sends track to the room as the given source (camera, microphone,
// screen). It returns once the offer is sent; media flows when Prism's
// answer arrives.
func (c *Client) Publish(track webrtc.TrackLocal, source string) (*webrtc.RTPSender, error) {
	err := c.Send(protocol.Message{Type: protocol.TypePublish, Track: &protocol.Track{
		ID: track.ID(), Kind: track.Kind().String(), Source: source,
	}})
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", track.ID(), err)
	}
	tr, err := c.pub.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", track.ID(), err)
	}
	sender := tr.Sender()
	c.mu.Lock()
	c.senders[track.ID()] = sender
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.readSenderRTCP(track.ID(), sender)
	}()
	return sender, c.offer()
}

// readSenderRTCP feeds a sender's RTCP to the interceptors (NACKs are
// answered there) and reports keyframe requests.
func (c *Client) readSenderRTCP(trackID string, s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if c.cfg.OnKeyframeRequest != nil {
					c.cfg.OnKeyframeRequest(trackID)
				}
			}
		}
	}
}

// Unpublish stops sending the track with the given id.
func (c *Client) Unpublish(trackID string) error {
	c.mu.Lock()
	s := c.senders[trackID]
	delete(c.senders, trackID)
	delete(c.simulcast, trackID)
	c.mu.Unlock()
	if s == nil {
		return fmt.Errorf("unpublish %s: not published", trackID)
	}
	if err := c.Send(protocol.Message{Type: protocol.TypeUnpublish, TrackID: trackID}); err != nil {
		return err
	}
	if err := c.pub.RemoveTrack(s); err != nil {
		return fmt.Errorf("unpublish %s: %w", trackID, err)
	}
	return c.offer()
}

// Mute tells the room that a published track is muted or not. Stopping the
// media itself is up to the caller.
func (c *Client) Mute(trackID string, muted bool) error {
	return c.Send(protocol.Message{Type: protocol.TypeMute, TrackID: trackID, Muted: &muted})
}

// Chat sends a chat message to the room.
func (c *Client) Chat(text string) error {
	return c.Send(protocol.Message{Type: protocol.TypeChat, Text: text})
}

// offer sends an offer on the publish connection, or, if one is already
// out, makes sure another follows its answer.
func (c *Client) offer() error {
	c.mu.Lock()
	if c.offering {
		c.reoffer = true
		c.mu.Unlock()
		return nil
	}
	c.offering = true
	c.reoffer = false
	c.mu.Unlock()
	o, err := c.pub.CreateOffer(nil)
	if err == nil {
		err = c.pub.SetLocalDescription(o)
	}
	if err == nil {
		err = c.sendSDP(protocol.TypeOffer, protocol.PCPublish, o.SDP)
	}
	if err != nil {
		c.mu.Lock()
		c.offering = false
		c.mu.Unlock()
		return fmt.Errorf("publish offer: %w", err)
	}
	return nil
}

// Close leaves the room, closes both connections and waits for the
// client's goroutines.
func (c *Client) Close() error {
	_ = c.Send(protocol.Message{Type: protocol.TypeLeave})
	c.cancel()
	_ = c.conn.Close(websocket.StatusNormalClosure, "leave")
	_ = c.pub.Close()
	_ = c.sub.Close()
	c.wg.Wait()
	return nil
}

var errServerClosed = errors.New("server closed the session")

// candidateMessage is a candidate as the protocol carries it: every field
// of RTCIceCandidateInit, usernameFragment included, so that the far end
// can tell a candidate of an old ICE generation from a current one.
func candidateMessage(c webrtc.ICECandidateInit) protocol.Candidate {
	return protocol.Candidate{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
}

// candidateInit is the inverse of candidateMessage.
func candidateInit(c *protocol.Candidate) webrtc.ICECandidateInit {
	return webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment}
}
