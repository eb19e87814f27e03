package sfu

import (
	"time"

	"github.com/pion/webrtc/v4"
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

// Track sources a publisher may declare.
const (
	SourceCamera      = "camera"
	SourceMicrophone  = "microphone"
	SourceScreen      = "screen"
	SourceScreenAudio = "screen_audio"
)

// TrackInfo describes a published track.
type TrackInfo struct {
	// ID is the publisher's track id; subscribers receive the track under
	// the same id, in a stream whose id is ParticipantID.
	ID            string
	ParticipantID string
	// Kind is "audio" or "video".
	Kind string
	// Codec is the MIME type, such as "video/VP8"; empty until media flows.
	Codec  string
	Source string
	Muted  bool
}

// ParticipantInfo describes a member of a room.
type ParticipantInfo struct {
	ID     string
	Name   string
	Tracks []TrackInfo
}

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
	// ParticipantJoined and ParticipantLeft report the room's members.
	ParticipantJoined(p ParticipantInfo)
	ParticipantLeft(id string)
	// TrackPublished, TrackUnpublished and TrackMuted report the tracks
	// of the other participants.
	TrackPublished(t TrackInfo)
	TrackUnpublished(t TrackInfo)
	TrackMuted(t TrackInfo)
	// Chat relays a chat message sent in the room, the participant's own
	// included.
	Chat(from ParticipantInfo, text string, at time.Time)
	// Closed reports that Prism closed the participant: its connection
	// failed, or the server is shutting down. err says why.
	Closed(err error)
}
