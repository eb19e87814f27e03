package sfu

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
)

// Errors a Participant's methods return for bad requests. The signaling
// front end reports them to the client; nothing else changes.
var (
	ErrBadSDP            = errors.New("bad SDP")
	ErrNoRemoteSDP       = errors.New("candidate before the offer or answer of its connection")
	ErrBadCandidate      = errors.New("bad ICE candidate")
	ErrTooManyTracks     = errors.New("too many tracks")
	ErrUnknownTrack      = errors.New("no such track")
	ErrParticipantClosed = errors.New("participant closed")
)

// PC names one of a participant's two peer connections.
type PC string

// The two peer connections of a participant.
const (
	// PCPublish carries the participant's own media to Prism. The client
	// offers on it.
	PCPublish PC = "publish"
	// PCSubscribe carries everybody else's media to the participant. Prism
	// offers on it.
	PCSubscribe PC = "subscribe"
)

// Events is how a Participant talks to its signaling front end. Prism calls
// these methods from its own goroutines; they must return quickly (queue
// the message, don't write to the network).
type Events interface {
	// Offer carries Prism's offer on the subscribe connection. The front
	// end sends it to the client and hands the answer to Participant.Answer.
	Offer(sdp string)
	// Candidate carries one of Prism's ICE candidates for the named
	// connection.
	Candidate(pc PC, c webrtc.ICECandidateInit)
	// Room relays a room event: members, their tracks, chat.
	Room(ev Event)
	// Error reports a problem the client must hear of that does not end
	// the session: an offer that got no answer in time (another follows).
	Error(err error)
	// Layers tells the publisher which streams of one of its tracks to
	// send (dynacast): a stream no subscriber needs is paused, one needed
	// again resumed.
	Layers(trackID string, layers []LayerState)
	// Closed reports that Prism closed the participant: its connection
	// failed, it kept failing negotiation, or the server is shutting
	// down. err says why.
	Closed(err error)
}

// Participant is a member of a room driven by a signaling front end, with
// two peer connections: on publish the client offers and Prism answers, on
// subscribe (its Transport) Prism offers. It subscribes to every track
// published in its room. Its methods are meant to be called by one
// signaling goroutine, and are safe for concurrent use.
type Participant struct {
	sfu    *SFU
	room   *Room // set once, when the room admits the participant
	id     Identity
	events Events
	log    *zap.Logger

	sub *Transport
	neg *negotiator

	mu        sync.Mutex
	pub       *webrtc.PeerConnection // made at the first offer
	declared  map[string]TrackInfo
	published map[string]*Track
	// receivers finds the track of a simulcast encoding's receiver: pion
	// hands each encoding to onTrack on a goroutine of its own.
	receivers  map[*webrtc.RTPReceiver]*Track
	subscribed map[*Track]*DownTrack
	closed     bool

	closeOnce sync.Once
	wg        sync.WaitGroup
}

var _ Member = (*Participant)(nil)

// srtpGrace is how long down-tracks wait, once the subscribe connection is
// up, before their first packet: Prism's side of DTLS may finish a moment
// before the client's, and SRTP the client cannot decrypt yet is lost (the
// first keyframe above all).
const srtpGrace = 30 * time.Millisecond

// maxTracks bounds the tracks one participant may declare.
const maxTracks = 16

func newParticipant(s *SFU, roomID string, id Identity, events Events) (*Participant, error) {
	p := &Participant{
		sfu: s, id: id, events: events,
		log:        s.log.WithLazy(zap.String("room", roomID), zap.String("participant", id.ID)),
		declared:   make(map[string]TrackInfo),
		published:  make(map[string]*Track),
		receivers:  make(map[*webrtc.RTPReceiver]*Track),
		subscribed: make(map[*Track]*DownTrack),
	}
	sub, err := s.newTransport(p.log)
	if err != nil {
		return nil, fmt.Errorf("subscribe connection: %w", err)
	}
	p.sub = sub
	p.neg = newNegotiator(sub.pc, s.cfg.AnswerTimeout, events.Offer, events.Error, p.closeWith, p.log)
	p.wire(sub.pc, PCSubscribe)
	return p, nil
}

// wire connects a peer connection's candidates and state to the
// participant.
func (p *Participant) wire(pc *webrtc.PeerConnection, name PC) {
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			p.events.Candidate(name, CandidateInit(c))
		}
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		p.log.Debug("connection state", zap.String("pc", string(name)), zap.Stringer("state", st))
		switch {
		case st == webrtc.PeerConnectionStateConnected && name == PCSubscribe:
			time.AfterFunc(srtpGrace, p.sub.activate)
		case st == webrtc.PeerConnectionStateFailed:
			go p.closeWith(fmt.Errorf("%s connection failed", name))
		}
	})
}

// Identity returns who the participant is.
func (p *Participant) Identity() Identity { return p.id }

// ID returns the participant's id, unique within its room.
func (p *Participant) ID() string { return p.id.ID }

// Room returns the participant's room.
func (p *Participant) Room() *Room { return p.room }

// Transport returns the participant's subscribe side.
func (p *Participant) Transport() *Transport { return p.sub }

// DownTrack returns the participant's subscription to t, or nil.
func (p *Participant) DownTrack(t *Track) *DownTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.subscribed[t]
}

// Notify is the room telling the participant of a change: it subscribes
// to every track published and unsubscribes from every track withdrawn,
// and its client hears of it all.
func (p *Participant) Notify(ev Event) {
	switch ev.Kind {
	case EventTrackPublished:
		p.subscribe(ev.Source)
	case EventTrackUnpublished:
		p.unsubscribe(ev.Source)
	}
	p.events.Room(ev)
}

// Leave is the server asking the participant to go (it is shutting down):
// the participant closes and its client is told why.
func (p *Participant) Leave(reason error) { p.closeWith(reason) }

// Declare tells Prism about a track the client is about to publish: its
// source and whether it starts muted. Media for an undeclared track is
// still accepted, as camera or microphone.
func (p *Participant) Declare(t TrackInfo) error {
	if !p.id.Permissions.Publish {
		return fmt.Errorf("publish %s: %w: no publish permission", t.ID, ErrForbidden)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrParticipantClosed
	}
	if _, ok := p.declared[t.ID]; !ok && len(p.declared) >= maxTracks {
		return fmt.Errorf("declare %s: %w: at most %d per participant", t.ID, ErrTooManyTracks, maxTracks)
	}
	p.declared[t.ID] = t
	return nil
}

// Offer applies the client's offer on the publish connection and returns
// Prism's answer. Errors wrap ErrBadSDP when the offer was unusable.
func (p *Participant) Offer(sdp string) (string, error) {
	if !p.id.Permissions.Publish {
		return "", fmt.Errorf("offer: %w: no publish permission", ErrForbidden)
	}
	pub, err := p.publishConnection()
	if err != nil {
		return "", err
	}
	if err := pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	answer, err := pub.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: create answer: %v", ErrBadSDP, err)
	}
	if err := pub.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("set local answer: %w", err)
	}
	return answer.SDP, nil
}

// publishConnection returns the publish connection, made at the first
// offer: a participant that only watches never has one.
func (p *Participant) publishConnection() (*webrtc.PeerConnection, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrParticipantClosed
	}
	if p.pub != nil {
		return p.pub, nil
	}
	pub, err := p.sfu.pubAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("publish connection: %w", err)
	}
	p.wire(pub, PCPublish)
	pub.OnTrack(p.onTrack)
	p.pub = pub
	return pub, nil
}

// Answer applies the client's answer to Prism's last offer on the
// subscribe connection.
func (p *Participant) Answer(sdp string) error {
	return p.neg.answer(sdp)
}

// AddCandidate adds a client's ICE candidate to the named connection.
func (p *Participant) AddCandidate(name PC, c webrtc.ICECandidateInit) error {
	pc := p.sub.pc
	if name == PCPublish {
		p.mu.Lock()
		pc = p.pub
		p.mu.Unlock()
	}
	if pc == nil || pc.RemoteDescription() == nil {
		return ErrNoRemoteSDP
	}
	if err := pc.AddICECandidate(c); err != nil {
		return fmt.Errorf("%w: %v", ErrBadCandidate, err)
	}
	return nil
}

// SetMuted records that the client muted or unmuted one of its tracks and
// tells the room.
func (p *Participant) SetMuted(trackID string, muted bool) error {
	p.mu.Lock()
	t := p.published[trackID]
	if t == nil {
		d, ok := p.declared[trackID]
		p.mu.Unlock()
		if !ok {
			return fmt.Errorf("mute %s: %w", trackID, ErrUnknownTrack)
		}
		d.Muted = muted
		return p.Declare(d)
	}
	p.mu.Unlock()
	if t.SetMuted(muted) {
		p.room.TrackMuted(t)
	}
	return nil
}

// Unpublish stops forwarding one of the participant's tracks.
func (p *Participant) Unpublish(trackID string) error {
	p.mu.Lock()
	t := p.published[trackID]
	delete(p.declared, trackID)
	p.mu.Unlock()
	if t == nil {
		return fmt.Errorf("unpublish %s: %w", trackID, ErrUnknownTrack)
	}
	t.Close()
	return nil
}

// SetPreferences applies the participant's choices (pause, quality, the
// size it shows the video at, a frame-rate cap) to its subscription to the
// track trackID of participant publisher.
func (p *Participant) SetPreferences(publisher, trackID string, prefs Preferences) error {
	p.mu.Lock()
	var dt *DownTrack
	for t, d := range p.subscribed {
		if t.ID() == trackID && t.owner.Identity().ID == publisher {
			dt = d
			break
		}
	}
	p.mu.Unlock()
	if dt == nil {
		return fmt.Errorf("subscription to %s of %s: %w", trackID, publisher, ErrUnknownTrack)
	}
	dt.SetPreferences(prefs)
	return nil
}

// Chat relays text to everyone in the room.
func (p *Participant) Chat(text string) error {
	return p.room.Chat(p, text)
}

// Close makes the participant leave: its tracks are withdrawn, the others
// are told, both connections close, and Close waits for its goroutines.
func (p *Participant) Close() error {
	p.closeWith(nil)
	return nil
}

// closeWith closes the participant; a non-nil err is reported through
// Events.Closed. Closing cascades: the participant leaves its room, its
// tracks close (and with them every subscriber's down-track), its
// down-tracks and transport stop, and its connections close.
func (p *Participant) closeWith(err error) {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		pubs := make([]*Track, 0, len(p.published))
		for _, t := range p.published {
			pubs = append(pubs, t)
		}
		subs := make([]*Track, 0, len(p.subscribed))
		for t := range p.subscribed {
			subs = append(subs, t)
		}
		pub := p.pub
		p.mu.Unlock()

		if p.room != nil {
			p.room.Leave(p)
		}
		for _, t := range pubs {
			t.Close()
		}
		for _, t := range subs {
			p.unsubscribe(t)
		}
		p.neg.close()
		if pub != nil {
			_ = pub.Close()
		}
		_ = p.sub.pc.Close()
		p.sub.close()
		for _, t := range pubs {
			t.Wait()
		}
		p.wg.Wait()
		if err != nil {
			p.events.Closed(err)
		}
		p.log.Info("participant left")
		p.sfu.wg.Done()
	})
}

// onTrack starts receiving a track (or one simulcast encoding of it) the
// client publishes.
func (p *Participant) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if t := p.receivers[recv]; t != nil {
		p.mu.Unlock()
		t.AddStream(remote, recv) // another simulcast encoding
		return
	}
	info := p.declared[remote.ID()]
	info.ID = remote.ID()
	if _, dup := p.published[info.ID]; dup || info.ID == "" {
		info.ID = fmt.Sprintf("%s-%d", info.ID, remote.SSRC())
	}
	info.ParticipantID = p.id.ID
	info.Kind = remote.Kind().String()
	if info.Source == "" {
		info.Source = SourceCamera
		if remote.Kind() == webrtc.RTPCodecTypeAudio {
			info.Source = SourceMicrophone
		}
	}
	pub := p.pub
	t := p.sfu.NewTrack(p, TrackConfig{
		Info: info, Codec: remote.Codec(), Extensions: recv.GetParameters().HeaderExtensions,
		PLI: func(ssrc uint32) error {
			return pub.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: ssrc}})
		},
		OnClose:  p.trackEnded,
		OnLayers: func(t *Track, layers []LayerState) { p.events.Layers(t.ID(), layers) },
	})
	p.published[info.ID] = t
	p.receivers[recv] = t
	p.mu.Unlock()

	t.AddStream(remote, recv)
	p.log.Info("track published", zap.String("track", info.ID), zap.String("codec", remote.Codec().MimeType), zap.String("source", info.Source))
	if err := p.room.Publish(t); err != nil {
		p.log.Warn("publish", zap.String("track", info.ID), zap.Error(err))
		t.Close()
	}
}

// trackEnded withdraws a track that closed: its media stopped for good,
// or the client unpublished it.
func (p *Participant) trackEnded(t *Track) {
	p.mu.Lock()
	if p.published[t.ID()] == t {
		delete(p.published, t.ID())
	}
	for r, x := range p.receivers {
		if x == t {
			delete(p.receivers, r)
		}
	}
	p.mu.Unlock()
	p.room.Unpublish(t)
	p.log.Info("track unpublished", zap.String("track", t.ID()))
}

// subscribe starts forwarding t to this participant.
func (p *Participant) subscribe(t *Track) {
	if !p.id.Permissions.Subscribe {
		return
	}
	p.mu.Lock()
	if p.closed || t.owner == Member(p) || p.subscribed[t] != nil || t.IsClosed() {
		p.mu.Unlock()
		return
	}
	dt := newDownTrack(p.sub, t)
	sender, err := p.sub.pc.AddTrack(dt)
	if err != nil {
		p.mu.Unlock()
		p.log.Warn("subscribe", zap.String("track", t.ID()), zap.Error(err))
		return
	}
	dt.sender = sender
	p.subscribed[t] = dt
	p.mu.Unlock()
	p.neg.request()
}

// unsubscribe stops forwarding t to this participant.
func (p *Participant) unsubscribe(t *Track) {
	p.mu.Lock()
	dt := p.subscribed[t]
	delete(p.subscribed, t)
	closed := p.closed
	p.mu.Unlock()
	if dt == nil {
		return
	}
	if err := p.sub.pc.RemoveTrack(dt.sender); err != nil && !closed {
		p.log.Debug("remove track", zap.String("track", t.ID()), zap.Error(err))
	}
	dt.stop()
	if !closed {
		p.neg.request()
	}
}

// CandidateInit returns c, a local candidate, as RTCIceCandidateInit with
// its usernameFragment, which pion's ToJSON leaves empty: the far end
// needs it to tell a candidate of an old ICE generation from a current
// one. pion writes the fragment into the candidate itself ("ufrag"), so it
// is read from there, without touching the connection (whose ICE
// parameters change under a lock pion does not take for readers).
func CandidateInit(c *webrtc.ICECandidate) webrtc.ICECandidateInit {
	init := c.ToJSON()
	if ic, err := c.ToICE(); err == nil {
		if ext, ok := ic.GetExtension("ufrag"); ok && ext.Value != "" {
			ufrag := ext.Value
			init.UsernameFragment = &ufrag
		}
	}
	return init
}
