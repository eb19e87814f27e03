package signaling

import (
	"errors"

	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/prismsfu/prism/sfu"
	"github.com/prismsfu/prism/signaling/protocol"
)

// events turns what the SFU tells a participant into protocol messages
// queued for its client.
type events struct{ ss *session }

var _ sfu.Events = events{}

func (e events) Offer(sdp string) {
	e.ss.sendEvent(protocol.Message{Type: protocol.TypeOffer, PC: protocol.PCSubscribe, SDP: sdp})
}

func (e events) Candidate(pc sfu.PC, c webrtc.ICECandidateInit) {
	e.ss.sendEvent(protocol.Message{Type: protocol.TypeCandidate, PC: string(pc), Candidate: &protocol.Candidate{
		Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex, UsernameFragment: c.UsernameFragment,
	}})
}

// Room maps a room event to its protocol message.
func (e events) Room(ev sfu.Event) {
	var m protocol.Message
	switch ev.Kind {
	case sfu.EventJoined:
		p := participantMessage(ev.Participant)
		m = protocol.Message{Type: protocol.TypeParticipantJoined, Participant: &p}
	case sfu.EventLeft:
		m = protocol.Message{Type: protocol.TypeParticipantLeft, ParticipantID: ev.Participant.ID}
	case sfu.EventTrackPublished, sfu.EventTrackUnpublished, sfu.EventTrackMuted:
		t := trackMessage(ev.Track)
		m = protocol.Message{Type: trackEventTypes[ev.Kind], Track: &t}
	case sfu.EventChat:
		p := participantMessage(ev.Participant)
		p.Tracks = nil
		m = protocol.Message{Type: protocol.TypeChat, From: &p, Text: ev.Text, TimeMS: ev.At.UnixMilli()}
	default:
		return
	}
	e.ss.sendEvent(m)
}

var trackEventTypes = map[sfu.EventKind]string{
	sfu.EventTrackPublished:   protocol.TypeTrackPublished,
	sfu.EventTrackUnpublished: protocol.TypeTrackUnpublished,
	sfu.EventTrackMuted:       protocol.TypeTrackMuted,
}

func (e events) Error(err error) {
	e.ss.sendEvent(protocol.ErrorMessage(sfuError(err)))
}

// Layers tells the publisher which of its track's streams to send.
func (e events) Layers(trackID string, layers []sfu.LayerState) {
	out := make([]protocol.Layer, len(layers))
	for i, l := range layers {
		out[i] = protocol.Layer{RID: l.RID, Active: l.Active}
	}
	e.ss.sendEvent(protocol.Message{Type: protocol.TypeLayers, TrackID: trackID, Layers: out})
}

func (e events) Closed(err error) {
	e.ss.logger().Info("the server closed the participant", zap.Error(err))
	code := protocol.CodeInternal
	switch {
	case errors.Is(err, sfu.ErrClosed):
		code = protocol.CodeServerShutdown
	case errors.Is(err, sfu.ErrNegotiation):
		code = protocol.CodeNegotiationFailed
	}
	e.ss.shutdown(protocol.Message{Type: protocol.TypeLeave, Code: code, Reason: err.Error()})
}

func trackMessage(t sfu.TrackInfo) protocol.Track {
	return protocol.Track{
		ID: t.ID, ParticipantID: t.ParticipantID, Kind: t.Kind, Codec: t.Codec, Source: t.Source, Muted: t.Muted,
	}
}

func trackInfo(t protocol.Track) sfu.TrackInfo {
	return sfu.TrackInfo{ID: t.ID, ParticipantID: t.ParticipantID, Kind: t.Kind, Codec: t.Codec, Source: t.Source, Muted: t.Muted}
}

func participantMessage(p sfu.ParticipantInfo) protocol.Participant {
	out := protocol.Participant{ID: p.ID, Name: p.Name, Metadata: p.Metadata, Tracks: make([]protocol.Track, 0, len(p.Tracks))}
	for _, t := range p.Tracks {
		out.Tracks = append(out.Tracks, trackMessage(t))
	}
	return out
}
