package sfu

import (
	"errors"
	"fmt"
	"sync"
	"time"

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

// Participant is one member of a room with its two peer connections. Its
// methods are meant to be called by one signaling goroutine, and are safe
// for concurrent use.
type Participant struct {
	sfu    *SFU
	room   *Room // set once, when the room admits the participant
	id     string
	name   string
	events Events
	log    *zap.Logger

	pub *webrtc.PeerConnection
	sub *webrtc.PeerConnection
	neg *negotiator
	// route is the subscribe connection's own write path.
	route *route

	mu         sync.Mutex
	declared   map[string]TrackInfo
	published  map[string]*Receiver
	subscribed map[*Receiver]*DownTrack
	closed     bool

	// subReady is closed once the subscribe connection is up; down-tracks
	// wait for it, since packets written before SRTP is ready are lost.
	subReady     chan struct{}
	subReadyOnce sync.Once
	closeOnce    sync.Once
	wg           sync.WaitGroup
}

func newParticipant(s *SFU, roomID, id, name string, events Events) (*Participant, error) {
	p := &Participant{
		sfu: s, id: id, name: name, events: events,
		log:        s.log.With(zap.String("room", roomID), zap.String("participant", id)),
		declared:   make(map[string]TrackInfo),
		published:  make(map[string]*Receiver),
		subscribed: make(map[*Receiver]*DownTrack),
		subReady:   make(chan struct{}),
		route:      &route{conn: s.cfg.UDPConn},
	}
	var err error
	if p.pub, err = s.pubAPI.NewPeerConnection(webrtc.Configuration{}); err != nil {
		return nil, fmt.Errorf("publish connection: %w", err)
	}
	if p.sub, err = s.newSubscribeConnection(p.route); err != nil {
		_ = p.pub.Close()
		return nil, fmt.Errorf("subscribe connection: %w", err)
	}
	p.neg = newNegotiator(p.sub, events.Offer, p.log)
	p.wire(p.pub, PCPublish)
	p.wire(p.sub, PCSubscribe)
	p.pub.OnTrack(p.onTrack)
	s.wg.Add(1)
	p.log.Info("participant joined", zap.String("name", name))
	return p, nil
}

// wire connects a peer connection's candidates and failures to the
// participant.
func (p *Participant) wire(pc *webrtc.PeerConnection, name PC) {
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			p.events.Candidate(name, c.ToJSON())
		}
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		p.log.Debug("connection state", zap.String("pc", string(name)), zap.Stringer("state", st))
		if st == webrtc.PeerConnectionStateConnected && name == PCSubscribe {
			// Our side of DTLS may finish a moment before the client's,
			// and SRTP the client cannot decrypt yet is lost: the first
			// keyframe above all. Give the client a moment.
			time.AfterFunc(srtpGrace, func() {
				p.subReadyOnce.Do(func() { close(p.subReady) })
			})
		}
		if st == webrtc.PeerConnectionStateFailed {
			go p.closeWith(fmt.Errorf("%s connection failed", name))
		}
	})
}

// ID returns the participant's id, unique within the server.
func (p *Participant) ID() string { return p.id }

// Room returns the participant's room.
func (p *Participant) Room() *Room { return p.room }

// Info describes the participant and its published tracks.
func (p *Participant) Info() ParticipantInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	info := ParticipantInfo{ID: p.id, Name: p.name, Tracks: make([]TrackInfo, 0, len(p.published))}
	for _, r := range p.published {
		info.Tracks = append(info.Tracks, r.Info())
	}
	return info
}

// Declare tells Prism about a track the client is about to publish: its
// source and whether it starts muted. Media for an undeclared track is
// still accepted, as camera or microphone.
func (p *Participant) Declare(t TrackInfo) error {
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

// srtpGrace is how long down-tracks wait, once the subscribe connection is
// up, before their first packet.
const srtpGrace = 30 * time.Millisecond

// maxTracks bounds the tracks one participant may declare.
const maxTracks = 16

// Offer applies the client's offer on the publish connection and returns
// Prism's answer. Errors wrap ErrBadSDP when the offer was unusable.
func (p *Participant) Offer(sdp string) (string, error) {
	if err := p.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	answer, err := p.pub.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: create answer: %v", ErrBadSDP, err)
	}
	if err := p.pub.SetLocalDescription(answer); err != nil {
		return "", fmt.Errorf("set local answer: %w", err)
	}
	return answer.SDP, nil
}

// Answer applies the client's answer to Prism's last offer on the
// subscribe connection.
func (p *Participant) Answer(sdp string) error {
	return p.neg.answer(sdp)
}

// AddCandidate adds a client's ICE candidate to the named connection.
func (p *Participant) AddCandidate(name PC, c webrtc.ICECandidateInit) error {
	pc := p.pub
	if name == PCSubscribe {
		pc = p.sub
	}
	if pc.RemoteDescription() == nil {
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
	r := p.published[trackID]
	if r == nil {
		d, ok := p.declared[trackID]
		p.mu.Unlock()
		if !ok {
			return fmt.Errorf("mute %s: %w", trackID, ErrUnknownTrack)
		}
		d.Muted = muted
		return p.Declare(d)
	}
	p.mu.Unlock()
	if r.setMuted(muted) {
		p.room.trackMuted(r)
	}
	return nil
}

// Unpublish stops forwarding one of the participant's tracks.
func (p *Participant) Unpublish(trackID string) error {
	p.mu.Lock()
	r := p.published[trackID]
	delete(p.declared, trackID)
	p.mu.Unlock()
	if r == nil {
		return fmt.Errorf("unpublish %s: %w", trackID, ErrUnknownTrack)
	}
	r.close()
	return nil
}

// Chat relays text to everyone in the room.
func (p *Participant) Chat(text string) {
	p.room.chat(p, text)
}

// Close makes the participant leave: its tracks are withdrawn, the others
// are told, both connections close, and Close waits for its goroutines.
func (p *Participant) Close() error {
	p.closeWith(nil)
	return nil
}

// closeWith closes the participant; a non-nil err is reported through
// Events.Closed.
func (p *Participant) closeWith(err error) {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		pubs := make([]*Receiver, 0, len(p.published))
		for _, r := range p.published {
			pubs = append(pubs, r)
		}
		subs := make([]*Receiver, 0, len(p.subscribed))
		for r := range p.subscribed {
			subs = append(subs, r)
		}
		p.mu.Unlock()

		if p.room != nil {
			p.room.remove(p)
		}
		for _, r := range pubs {
			r.close()
		}
		for _, r := range subs {
			p.unsubscribe(r)
		}
		p.neg.close()
		_ = p.pub.Close()
		_ = p.sub.Close()
		p.wg.Wait()
		if err != nil {
			p.events.Closed(err)
		}
		p.log.Info("participant left")
		p.sfu.wg.Done()
	})
}

// onTrack starts forwarding a track the client publishes.
func (p *Participant) onTrack(remote *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	info := p.declared[remote.ID()]
	info.ID = remote.ID()
	if _, dup := p.published[info.ID]; dup || info.ID == "" {
		info.ID = fmt.Sprintf("%s-%d", info.ID, remote.SSRC())
	}
	info.ParticipantID = p.id
	info.Kind = remote.Kind().String()
	info.Codec = remote.Codec().MimeType
	if info.Source == "" {
		info.Source = SourceCamera
		if remote.Kind() == webrtc.RTPCodecTypeAudio {
			info.Source = SourceMicrophone
		}
	}
	r := newReceiver(p, remote, recv, info)
	p.published[info.ID] = r
	p.wg.Add(2)
	p.mu.Unlock()

	p.log.Info("track published", zap.String("track", info.ID), zap.String("codec", info.Codec), zap.String("source", info.Source))
	go func() {
		defer p.wg.Done()
		r.readRTCP()
	}()
	go func() {
		defer p.wg.Done()
		r.run()
		p.trackEnded(r)
	}()
	p.room.publish(r)
}

// trackEnded withdraws a track whose media stopped for good.
func (p *Participant) trackEnded(r *Receiver) {
	p.mu.Lock()
	if p.published[r.info.ID] == r {
		delete(p.published, r.info.ID)
	}
	p.mu.Unlock()
	p.room.unpublish(r)
	p.log.Info("track unpublished", zap.String("track", r.info.ID))
}

// subscribe starts forwarding t to this participant.
func (p *Participant) subscribe(t *Receiver) {
	p.mu.Lock()
	if p.closed || t.owner == p || p.subscribed[t] != nil || t.isClosed() {
		p.mu.Unlock()
		return
	}
	dt := newDownTrack(p, t)
	sender, err := p.sub.AddTrack(dt)
	if err != nil {
		p.mu.Unlock()
		p.log.Warn("subscribe", zap.String("track", t.info.ID), zap.Error(err))
		return
	}
	dt.sender = sender
	p.subscribed[t] = dt
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		dt.readRTCP()
	}()
	p.neg.request()
}

// unsubscribe stops forwarding t to this participant.
func (p *Participant) unsubscribe(t *Receiver) {
	p.mu.Lock()
	dt := p.subscribed[t]
	delete(p.subscribed, t)
	closed := p.closed
	p.mu.Unlock()
	if dt == nil {
		return
	}
	if err := p.sub.RemoveTrack(dt.sender); err != nil && !closed {
		p.log.Debug("remove track", zap.String("track", t.info.ID), zap.Error(err))
	}
	dt.stop()
	if !closed {
		p.neg.request()
	}
}
