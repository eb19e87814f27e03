package client

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/pion/rtcp"
	pionrtp "github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/signaling/protocol"
)

// SimulcastOptions describes a simulcast track to publish.
type SimulcastOptions struct {
	// ID is the track id; StreamID the stream it belongs to (default: ID).
	ID, StreamID string
	Codec        webrtc.RTPCodecCapability
	// RIDs name the encodings, one to three, in any order (Prism orders
	// them by the picture size their keyframes announce).
	RIDs []string
	// Source is camera (the default) or screen.
	Source string
	// OnKeyframeRequest, if set, is called with the encoding Prism wants
	// a keyframe of.
	OnKeyframeRequest func(layer int)
	// OnLayers, if set, is called when Prism pauses or resumes encodings
	// (dynacast): an encoder can stop spending CPU on a paused one, and
	// should start a resumed one with a keyframe.
	OnLayers func(active []bool)
}

// SimulcastTrack is a published simulcast track: one RTP stream per
// encoding, written with WriteRTP. Writes to an encoding Prism has paused
// (dynacast) are dropped, as a browser stops sending an inactive encoding.
type SimulcastTrack struct {
	opts   SimulcastOptions
	tracks []*webrtc.TrackLocalStaticRTP
	active []atomic.Bool
	sender *webrtc.RTPSender
	tr     *webrtc.RTPTransceiver
	// ids are the negotiated IDs of the mid and rid header extensions,
	// which tell the receiver the encodings apart; learnt at the first
	// write after negotiation.
	ids atomic.Pointer[extIDs]
}

type extIDs struct {
	mid, rid uint8
	midValue []byte
}

// errBadSimulcast reports unusable SimulcastOptions.
var errBadSimulcast = errors.New("simulcast needs a track id and one to three distinct rids")

// PublishSimulcast publishes a track in several encodings, as a browser
// does with sendEncodings. It returns once the offer is sent.
func (c *Client) PublishSimulcast(o SimulcastOptions) (*SimulcastTrack, error) {
	if o.ID == "" || len(o.RIDs) == 0 || len(o.RIDs) > 3 || !distinct(o.RIDs) {
		return nil, errBadSimulcast
	}
	if o.StreamID == "" {
		o.StreamID = o.ID
	}
	if o.Source == "" {
		o.Source = protocol.SourceCamera
	}
	s := &SimulcastTrack{opts: o, active: make([]atomic.Bool, len(o.RIDs))}
	for i, rid := range o.RIDs {
		t, err := webrtc.NewTrackLocalStaticRTP(o.Codec, o.ID, o.StreamID, webrtc.WithRTPStreamID(rid))
		if err != nil {
			return nil, fmt.Errorf("simulcast %s: %w", o.ID, err)
		}
		s.tracks = append(s.tracks, t)
		s.active[i].Store(true)
	}
	if err := c.Send(protocol.Message{Type: protocol.TypePublish, Track: &protocol.Track{ID: o.ID, Kind: "video", Source: o.Source}}); err != nil {
		return nil, fmt.Errorf("publish %s: %w", o.ID, err)
	}
	tr, err := c.pub.AddTransceiverFromTrack(s.tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, fmt.Errorf("publish %s: %w", o.ID, err)
	}
	s.sender, s.tr = tr.Sender(), tr
	for _, t := range s.tracks[1:] {
		if err := s.sender.AddEncoding(t); err != nil {
			return nil, fmt.Errorf("publish %s: encoding %s: %w", o.ID, t.RID(), err)
		}
	}
	c.mu.Lock()
	c.senders[o.ID] = s.sender
	c.simulcast[o.ID] = s
	c.mu.Unlock()
	for i, rid := range o.RIDs {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			s.readRTCP(i, rid)
		}()
	}
	return s, c.offer()
}

func distinct(rids []string) bool {
	for i, a := range rids {
		if a == "" {
			return false
		}
		for _, b := range rids[i+1:] {
			if a == b {
				return false
			}
		}
	}
	return true
}

// Layers returns the number of encodings.
func (s *SimulcastTrack) Layers() int { return len(s.tracks) }

// RID returns the rid of encoding i.
func (s *SimulcastTrack) RID(i int) string { return s.opts.RIDs[i] }

// Sender returns the track's RTP sender.
func (s *SimulcastTrack) Sender() *webrtc.RTPSender { return s.sender }

// Active reports whether Prism wants encoding i sent.
func (s *SimulcastTrack) Active(i int) bool { return s.active[i].Load() }

// WriteRTP sends a packet of encoding i; it is dropped while Prism has
// paused the encoding.
func (s *SimulcastTrack) WriteRTP(i int, p *pionrtp.Packet) error {
	if i < 0 || i >= len(s.tracks) {
		return fmt.Errorf("simulcast %s: no encoding %d", s.opts.ID, i)
	}
	if !s.active[i].Load() {
		return nil
	}
	ids := s.extensionIDs()
	if ids == nil {
		return nil // not negotiated yet: nothing could be sent
	}
	if err := p.Header.SetExtension(ids.mid, ids.midValue); err != nil {
		return fmt.Errorf("simulcast %s: mid: %w", s.opts.ID, err)
	}
	if err := p.Header.SetExtension(ids.rid, []byte(s.opts.RIDs[i])); err != nil {
		return fmt.Errorf("simulcast %s: rid: %w", s.opts.ID, err)
	}
	return s.tracks[i].WriteRTP(p)
}

// extensionIDs returns the negotiated mid and rid extension IDs, or nil
// before negotiation. pion does not stamp them on a simulcast sender's
// packets itself.
func (s *SimulcastTrack) extensionIDs() *extIDs {
	if ids := s.ids.Load(); ids != nil {
		return ids
	}
	ids := &extIDs{midValue: []byte(s.tr.Mid())}
	for _, e := range s.sender.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			ids.mid = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ids.rid = uint8(e.ID)
		}
	}
	if ids.mid == 0 || ids.rid == 0 || len(ids.midValue) == 0 {
		return nil
	}
	s.ids.Store(ids)
	return ids
}

// readRTCP feeds encoding i's RTCP to the interceptors and reports
// keyframe requests.
func (s *SimulcastTrack) readRTCP(i int, rid string) {
	for {
		pkts, _, err := s.sender.ReadSimulcastRTCP(rid)
		if err != nil {
			return
		}
		for _, p := range pkts {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				if s.opts.OnKeyframeRequest != nil {
					s.opts.OnKeyframeRequest(i)
				}
			}
		}
	}
}

// setLayers applies a layers message.
func (s *SimulcastTrack) setLayers(layers []protocol.Layer) {
	changed := false
	for _, l := range layers {
		for i, rid := range s.opts.RIDs {
			if rid == l.RID && s.active[i].Swap(l.Active) != l.Active {
				changed = true
			}
		}
	}
	if changed && s.opts.OnLayers != nil {
		active := make([]bool, len(s.active))
		for i := range active {
			active[i] = s.active[i].Load()
		}
		s.opts.OnLayers(active)
	}
}
