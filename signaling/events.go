package signaling

import (
	"errors"
	"time"

	"github.com/pion/webrtc/v4"

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

func (e events) ParticipantJoined(p sfu.ParticipantInfo) {
	m := participantMessage(p)
	e.ss.sendEvent(protocol.Message{Type: protocol.TypeParticipantJoined, Participant: &m})
}

func (e events) ParticipantLeft(id string) {
	e.ss.sendEvent(protocol.Message{Type: protocol.TypeParticipantLeft, ParticipantID: id})
}

func (e events) TrackPublished(t sfu.TrackInfo) {
	m := trackMessage(t)
	e.ss.sendEvent(protocol.Message{Type: protocol.TypeTrackPublished, Track: &m})
}

func (e events) TrackUnpublished(t sfu.TrackInfo) {
	m := trackMessage(t)
	e.ss.sendEvent(protocol.Message{Type: protocol.TypeTrackUnpublished, Track: &m})
}

func (e events) TrackMuted(t sfu.TrackInfo) {
	m := trackMessage(t)
	e.ss.sendEvent(protocol.Message{Type: protocol.TypeTrackMuted, Track: &m})
}

func (e events) Chat(from sfu.ParticipantInfo, text string, at time.Time) {
	m := participantMessage(from)
	m.Tracks = nil
	e.ss.sendEvent(protocol.Message{Type: protocol.TypeChat, From: &m, Text: text, TimeMS: at.UnixMilli()})
}

func (e events) Closed(err error) {
	code := protocol.CodeInternal
	if errors.Is(err, sfu.ErrClosed) {
		code = protocol.CodeServerShutdown
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
	out := protocol.Participant{ID: p.ID, Name: p.Name, Tracks: make([]protocol.Track, 0, len(p.Tracks))}
	for _, t := range p.Tracks {
		out.Tracks = append(out.Tracks, trackMessage(t))
	}
	return out
}
