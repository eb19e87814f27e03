package client

import (
	"errors"
	"fmt"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/prismsfu/prism/signaling/protocol"
)

// readLoop handles Prism's messages in order until the session ends.
func (c *Client) readLoop() {
	defer close(c.done)
	var left error
	for {
		m, err := c.read(c.ctx)
		if err != nil {
			var pe *protocol.Error
			if errors.As(err, &pe) {
				c.log.Warn("bad message from server", zap.Error(err))
				continue
			}
			c.err = err
			if left != nil {
				c.err = left
			}
			return
		}
		if c.cfg.OnMessage != nil {
			c.cfg.OnMessage(m)
		}
		if err := c.handle(m); err != nil {
			c.log.Warn("handle", zap.String("type", m.Type), zap.Error(err))
		}
		if m.Type == protocol.TypeLeave {
			// Keep reading: the server closes the WebSocket next, and the
			// close handshake needs a reader on this side.
			left = fmt.Errorf("%w: %s", errServerClosed, m.Reason)
		}
	}
}

func (c *Client) handle(m protocol.Message) error {
	switch m.Type {
	case protocol.TypeOffer:
		return c.answerOffer(m.SDP)
	case protocol.TypeAnswer:
		return c.applyAnswer(m.SDP)
	case protocol.TypeCandidate:
		return c.addCandidate(m.PC, m.Candidate)
	case protocol.TypeParticipantJoined:
		if c.cfg.OnParticipantJoined != nil && m.Participant != nil {
			c.cfg.OnParticipantJoined(*m.Participant)
		}
	case protocol.TypeParticipantLeft:
		if c.cfg.OnParticipantLeft != nil {
			c.cfg.OnParticipantLeft(m.ParticipantID)
		}
	case protocol.TypeTrackPublished:
		if m.Track != nil {
			c.mu.Lock()
			c.tracks[m.Track.ParticipantID+"/"+m.Track.ID] = *m.Track
			c.mu.Unlock()
			if c.cfg.OnTrackPublished != nil {
				c.cfg.OnTrackPublished(*m.Track)
			}
		}
	case protocol.TypeTrackUnpublished:
		if m.Track != nil && c.cfg.OnTrackUnpublished != nil {
			c.cfg.OnTrackUnpublished(*m.Track)
		}
	case protocol.TypeTrackMuted:
		if m.Track != nil && c.cfg.OnTrackMuted != nil {
			c.cfg.OnTrackMuted(*m.Track)
		}
	case protocol.TypeLayers:
		c.mu.Lock()
		s := c.simulcast[m.TrackID]
		c.mu.Unlock()
		if s != nil {
			s.setLayers(m.Layers)
		}
		if c.cfg.OnLayers != nil {
			c.cfg.OnLayers(m.TrackID, m.Layers)
		}
	case protocol.TypeChat:
		if m.From != nil && c.cfg.OnChat != nil {
			c.cfg.OnChat(*m.From, m.Text)
		}
	case protocol.TypeError:
		c.log.Info("server error", zap.String("code", m.Code), zap.String("message", m.Reason))
		if m.Code == protocol.CodeBadSDP {
			// Our offer was refused: no answer is coming, so the next
			// change may offer again.
			c.mu.Lock()
			c.offering = false
			c.mu.Unlock()
		}
	}
	return nil
}

// answerOffer answers Prism's offer on the subscribe connection.
func (c *Client) answerOffer(sdp string) error {
	if err := c.sub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sdp}); err != nil {
		return err
	}
	a, err := c.sub.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := c.sub.SetLocalDescription(a); err != nil {
		return err
	}
	if err := c.flushCandidates(protocol.PCSubscribe, c.sub); err != nil {
		return err
	}
	return c.sendSDP(protocol.TypeAnswer, protocol.PCSubscribe, a.SDP)
}

// applyAnswer applies Prism's answer on the publish connection and sends
// the next offer if tracks changed meanwhile.
func (c *Client) applyAnswer(sdp string) error {
	err := c.pub.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp})
	c.mu.Lock()
	c.offering = false
	again := c.reoffer
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if err := c.flushCandidates(protocol.PCPublish, c.pub); err != nil {
		return err
	}
	if again {
		return c.offer()
	}
	return nil
}

// addCandidate adds one of Prism's candidates, or keeps it until its
// connection has a remote description.
func (c *Client) addCandidate(pcName string, cand *protocol.Candidate) error {
	if cand == nil {
		return nil
	}
	init := candidateInit(cand)
	pc := c.pub
	if pcName == protocol.PCSubscribe {
		pc = c.sub
	}
	if pc.RemoteDescription() == nil {
		c.mu.Lock()
		c.pendingCand[pcName] = append(c.pendingCand[pcName], init)
		c.mu.Unlock()
		return nil
	}
	return pc.AddICECandidate(init)
}

func (c *Client) flushCandidates(name string, pc *webrtc.PeerConnection) error {
	c.mu.Lock()
	pending := c.pendingCand[name]
	delete(c.pendingCand, name)
	c.mu.Unlock()
	for _, init := range pending {
		if err := pc.AddICECandidate(init); err != nil {
			return err
		}
	}
	return nil
}

// onTrack hands a new remote track to Config.OnTrack.
func (c *Client) onTrack(t *webrtc.TrackRemote, r *webrtc.RTPReceiver) {
	c.mu.Lock()
	info := c.tracks[t.StreamID()+"/"+t.ID()]
	c.mu.Unlock()
	rt := &RemoteTrack{TrackRemote: t, Receiver: r, ParticipantID: t.StreamID(), Info: info}
	if c.cfg.OnTrack == nil {
		go drain(rt)
		return
	}
	c.cfg.OnTrack(rt)
}

// drain reads a track nobody asked for, so its interceptors keep working.
func drain(t *RemoteTrack) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := t.Read(buf); err != nil {
			return
		}
	}
}
